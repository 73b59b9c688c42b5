#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fleet observability (issue 13): patela-server's metrics listener (MetricsListen=, MetricsTokenFile=) against a
# node made of swtpm + patela-attestd. /metrics refuses a scraper without the token, passes `promtool check
# metrics`, and counts the enrolment, the verdict and a refused attestation; /v1/status and `patela-server
# status` show the node; every metric the Grafana dashboard queries is one the server exports; and a real
# Prometheus, started with the documented scrape configuration and the alert rules, scrapes it and answers a
# verdict counter through its HTTP API.
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

openssl rand -base64 32 >"$T/metrics-token"
chmod 600 "$T/metrics-token"
mport=$(random_port)
ca_setup
server_start --metrics-listen="127.0.0.1:$mport" --metrics-token-file="$T/metrics-token" --ca-certificate="$T/ca/ca.crt"
MURL=https://127.0.0.1:$mport
grep -q "Metrics on https://127.0.0.1:$mport/metrics" "$T/server.log" || fail "no metrics listener: $(cat "$T/server.log")"

# scrape PATH [TOKEN]: prints the body; sets HTTP_STATUS.
scrape() {
        local token=${2-$(cat "$T/metrics-token")}
        local args=(-sS --cacert "$T/ca/ca.crt" --tlsv1.3 -o "$T/scrape.body" -w '%{http_code}')
        [[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
        HTTP_STATUS=$(curl "${args[@]}" "$MURL$1") || fail "curl $1 failed"
        cat "$T/scrape.body"
}

# Access control: no token, a wrong one, one of the same length: 401, nothing of the fleet.
for token in "" "wrong" "$(openssl rand -base64 32)"; do
        scrape /metrics "$token" >/dev/null
        [[ $HTTP_STATUS == 401 ]] || fail "/metrics with token '$token': HTTP $HTTP_STATUS"
        ! grep -q patela_ "$T/scrape.body" || fail "a refused scrape got metrics"
        scrape /v1/status "$token" >/dev/null
        [[ $HTTP_STATUS == 401 ]] || fail "/v1/status with token '$token': HTTP $HTTP_STATUS"
done
# The nodes' listener does not serve them.
http GET /metrics >/dev/null
[[ $HTTP_STATUS == 404 ]] || fail "/metrics on the nodes' listener: HTTP $HTTP_STATUS"
pass "metrics listener: TLS 1.3, 401 without the token or with a wrong one; not on the nodes' listener"

# A node: proof, pending, enabled with two relays, attested.
fleet_setup
swtpm_start
attestd_start
node_identity
node_prove
fp=$(jq -r .fingerprint "$T/http.body")
ps_cli node relays "$fp" 2 >/dev/null
ps_cli node enable "$fp" >/dev/null
node_session
verdict=$(jq -r .verdict "$T/token.json")
# Its relays' MetricsPort summary, as configd reports it over its session.
relay_report() { # relay_report NAME DROPPED TIMEOUTS: a report of one relay
        jq -n --arg n "$1" --argjson d "$2" --argjson t "$3" '{relays: [{name: $n, onionskinsDropped: $d, oomBytes: 0,
                tcpExhaustion: 0, rateLimitReached: 0, dnsQueries: 1000, readBytes: 123456, writtenBytes: 654321,
                dnsErrors: {tor_timeout: $t, notexist: 3}, flags: ["Exit", "Fast", "Running"]}]}'
}
relay_report exitA 7 20 >"$T/report.json"
http POST /v1/node/relay-metrics "$T/report.json" "Authorization: Bearer $TOKEN" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "relay metrics report: HTTP $HTTP_STATUS $(cat "$T/http.body")"
# The answer tells the node when to report next (RelayMetricsInterval=, 5 min by default) and carries the session
# check's answer: the report is the node's check when one is due.
[[ $(jq -c . "$T/http.body") == '{"reportIn":300,"reattest":false,"checkIn":30}' ]] ||
        fail "relay metrics answer: $(cat "$T/http.body")"
relay_report exitC 1 1 >"$T/other.json"
http POST /v1/node/relay-metrics "$T/other.json" "Authorization: Bearer $TOKEN" >/dev/null
expect_error 409 UnknownRelay
jq '.relays[0].flags += ["Fabulous"]' "$T/report.json" >"$T/bad-report.json"
http POST /v1/node/relay-metrics "$T/bad-report.json" "Authorization: Bearer $TOKEN" >/dev/null
expect_error 400 InvalidField
http POST /v1/node/relay-metrics "$T/report.json" >/dev/null
expect_error 401 TokenMissing
# A wrong answer to a fresh challenge: refused as SecretMismatch.
node_challenge
node_answer
jq '.secret = "'"$(head -c 32 /dev/zero | base64)"'"' "$T/attest.json" >"$T/bad.json"
http POST /v1/attest "$T/bad.json" >/dev/null
expect_error 403 SecretMismatch

scrape /metrics >"$T/metrics.txt"
[[ $HTTP_STATUS == 200 ]] || fail "/metrics: HTTP $HTTP_STATUS"
promtool check metrics <"$T/metrics.txt" || fail "promtool check metrics: $(promtool check metrics <"$T/metrics.txt" 2>&1)"
scrape /metrics/relays >"$T/relays.txt"
[[ $HTTP_STATUS == 200 ]] || fail "/metrics/relays: HTTP $HTTP_STATUS"
promtool check metrics <"$T/relays.txt" || fail "promtool check metrics (relays): $(promtool check metrics <"$T/relays.txt" 2>&1)"
! grep -q 'relay="' "$T/metrics.txt" || fail "relay series in /metrics"
cat "$T/relays.txt" >>"$T/metrics.txt" # one file to look up the values in (not to check: two expositions)
metric() { # metric 'NAME{LABELS}': its value in the scrape
        awk -v k="$1" '$1 == k { print $2 }' "$T/metrics.txt"
}
[[ $(metric "patela_attestation_verdicts_total{verdict=\"$verdict\",outcome=\"accepted\"}") == 1 ]] ||
        fail "verdict $verdict not counted: $(grep verdicts_total "$T/metrics.txt")"
[[ $(metric 'patela_requests_total{endpoint="/v1/attest",result="SecretMismatch"}') == 1 ]] ||
        fail "SecretMismatch not counted: $(grep 'requests_total{endpoint="/v1/attest"' "$T/metrics.txt")"
[[ $(metric 'patela_requests_total{endpoint="/v1/attest",result="ok"}') == 1 ]] || fail "attest ok not counted"
[[ $(metric 'patela_enrolments_total{state="prove"}') == 1 && $(metric 'patela_enrolments_total{state="pending"}') == 1 &&
        $(metric 'patela_enrolments_total{state="enabled"}') == 2 ]] || fail "enrolments: $(grep enrolments_total "$T/metrics.txt")"
[[ $(metric 'patela_request_duration_seconds_count{endpoint="/v1/attest"}') == 2 ]] || fail "latency histogram count"
[[ $(metric 'patela_sessions_open') == 1 ]] || fail "open sessions: $(metric patela_sessions_open)"
[[ $(metric 'patela_relays{identity="unreported"}') == 2 ]] || fail "relays: $(grep '^patela_relays' "$T/metrics.txt")"
grep -qx "patela_node_info{node=\"1\",fingerprint=\"$fp\",state=\"enabled\",image=\"\",image_state=\"none\",verdict=\"$verdict\"} 1" \
        "$T/metrics.txt" || fail "node info: $(grep node_info "$T/metrics.txt")"
[[ $(metric 'patela_node_last_verdict_timestamp_seconds{node="1"}') -ge $(($(date +%s) - 60)) ]] || fail "last verdict time"
not_after=$(date -d "$(openssl x509 -in "$T/ca/server.crt" -noout -enddate | cut -d= -f2)" +%s)
[[ $(metric 'patela_certificate_expiry_timestamp_seconds{certificate="tls"}') == "$not_after" ]] || fail "TLS expiry"
[[ -n $(metric 'patela_certificate_expiry_timestamp_seconds{certificate="ca"}') ]] || fail "CA expiry missing"
if db_is_postgresql; then
        # pg_database_size() of the server's database, within what a background vacuum may add (its free space and
        # visibility maps); no WAL of the database's own: the cluster's is shared.
        size=$(metric 'patela_database_size_bytes{file="db"}') pg_size=$(db_query "SELECT pg_database_size(current_database())")
        [[ -n $size && $size -gt 0 && $((size - pg_size)) -le 65536 && $((pg_size - size)) -le 65536 ]] ||
                fail "database size $size, pg_database_size() $pg_size"
        [[ -z $(metric 'patela_database_size_bytes{file="wal"}') ]] || fail "a WAL size on PostgreSQL"
        # The request threads' connections (one per thread: one per CPU by default) and the metrics listener's: none
        # for a WAL checkpointer (SQLite's).
        [[ $(db_query "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                       AND backend_type = 'client backend' AND pid <> pg_backend_pid()") == $(($(nproc) + 1)) ]] ||
                fail "the server's connections: $(db_query "SELECT pid, application_name, state, query FROM pg_stat_activity
                                                            WHERE datname = current_database()")"
else
        [[ $(metric 'patela_database_size_bytes{file="db"}') == "$(stat -c %s "$DB")" ]] || fail "database size"
        [[ -n $(metric 'patela_database_size_bytes{file="wal"}') ]] || fail "no WAL size"
fi
[[ $(metric 'patela_relay_onionskins_dropped_total{node="1",relay="exitA"}') == 7 &&
        $(metric 'patela_relay_exit_dns_errors_total{node="1",relay="exitA",reason="tor_timeout"}') == 20 &&
        $(metric 'patela_relay_exit_dns_queries_total{node="1",relay="exitA"}') == 1000 &&
        $(metric 'patela_relay_flag{node="1",relay="exitA",flag="Exit"}') == 1 &&
        $(metric 'patela_relay_traffic_bytes_total{node="1",relay="exitA",direction="written"}') == 654321 ]] ||
        fail "relay metrics: $(grep '^patela_relay_' "$T/metrics.txt")"
! grep -q 'relay="exitB"' "$T/metrics.txt" || fail "exitB reported nothing and has series"
[[ $(metric 'patela_requests_total{endpoint="/v1/node/relay-metrics",result="UnknownRelay"}') == 1 ]] || fail "UnknownRelay not counted"
pass "/metrics passes promtool; counts the proof, pending, the challenges, verdict $verdict, SecretMismatch; node, sessions, certificates; exitA's MetricsPort summary (and only the node's own relays)"

# Status: the endpoint and the CLI.
scrape /v1/status >"$T/status.json"
[[ $HTTP_STATUS == 200 ]] || fail "/v1/status: HTTP $HTTP_STATUS"
[[ $(jq -r '.nodes[0] | "\(.fingerprint) \(.state) \(.verdict) \(.relays | length) \(.relays[0].name)"' "$T/status.json") == \
        "$fp enabled $verdict 2 exitA" ]] || fail "status: $(cat "$T/status.json")"
[[ $(jq -r .next "$T/status.json") == null ]] || fail "status: a next page"
[[ $(jq -c '.nodes[0].relays[0].flags' "$T/status.json") == '["Fast","Exit","Running"]' &&
        $(jq -r '.nodes[0].relays[1].flags' "$T/status.json") == null ]] || fail "status: relay flags: $(cat "$T/status.json")"
[[ $(jq -r '.nodes[0].relays[0].metricsReportedAt' "$T/status.json") -ge $(($(date +%s) - 60)) ]] ||
        fail "status: metricsReportedAt: $(cat "$T/status.json")"
ps_cli --json status >"$T/status-cli.json"
# The CLI is another process: the relays' reports are in the server's memory, not in the database it reads.
nometrics='.nodes[0] | del(.lastSeen) | .relays[] |= del(.metricsReportedAt, .flags)'
[[ $(jq -c "$nometrics" "$T/status-cli.json") == "$(jq -c "$nometrics" "$T/status.json")" ]] ||
        fail "CLI status differs from /v1/status: $(cat "$T/status-cli.json")"
[[ $(jq -c '[.nodes[0].relays[] | .metricsReportedAt, .flags]' "$T/status-cli.json") == '[null,null,null,null]' ]] ||
        fail "CLI status: the relays' reports: $(cat "$T/status-cli.json")"
ps_cli status >"$T/status.txt"
grep -q "$fp" "$T/status.txt" && grep -q "exitA:-" "$T/status.txt" || fail "status table: $(cat "$T/status.txt")"
scrape "/v1/status?limit=0" >/dev/null
[[ $HTTP_STATUS == 400 ]] || fail "limit=0: HTTP $HTTP_STATUS"
scrape "/v1/status?after=1" >"$T/status2.json"
[[ $(jq '.nodes | length' "$T/status2.json") == 0 ]] || fail "after=1: $(cat "$T/status2.json")"
pass "/v1/status and 'patela-server status' show the node, its verdict and its relays; paging bounded"

# The dashboard queries only metrics the server exports.
dash=$PATELA_SOURCE_DIR/grafana/patela-fleet.json
jq -r '[.. | .expr? // empty, .definition? // empty] | .[]' "$dash" | grep -o 'patela_[a-z_]*' | sort -u >"$T/dash-metrics"
cat "$T/metrics.txt" | grep -v '^#' | sed 's/[{ ].*//' | sort -u >"$T/exported"
[[ $(wc -l <"$T/dash-metrics") -ge 10 ]] || fail "dashboard: too few metrics found: $(cat "$T/dash-metrics")"
missing=$(comm -23 "$T/dash-metrics" "$T/exported")
[[ -z $missing ]] || fail "the dashboard queries metrics the server does not export: $missing"
jq -e '.templating.list[] | select(.type == "datasource" and .query == "prometheus")' "$dash" >/dev/null ||
        fail "the dashboard's datasource is not a variable"
pass "the dashboard's $(wc -l <"$T/dash-metrics") metrics are all exported"

# A real Prometheus with the documented scrape configuration (prometheus/prometheus.yml): its target, CA and
# token file here, a 1 s scrape interval, the alert rules.
pport=$(random_port)
mkdir -p "$T/prom"
sed -e "s|/etc/prometheus/patela-metrics-token|$T/metrics-token|" -e "s|/etc/prometheus/patela-ca.crt|$T/ca/ca.crt|" \
        -e "s|patela.example.org:9443|127.0.0.1:$mport|" -e "s|scrape_interval: [0-9]*s|scrape_interval: 1s|" \
        -e "s|scrape_timeout: 30s|scrape_timeout: 1s|" \
        -e "s|/usr/share/patela/prometheus/patela.rules.yml|$PATELA_SOURCE_DIR/prometheus/patela.rules.yml|" \
        "$PATELA_SOURCE_DIR/prometheus/prometheus.yml" >"$T/prometheus.yml"
grep -q "127.0.0.1:$mport" "$T/prometheus.yml" && grep -q "credentials_file: $T/metrics-token" "$T/prometheus.yml" ||
        fail "the scrape configuration did not take the test's values"
promtool check config "$T/prometheus.yml" >/dev/null || fail "promtool check config: $(promtool check config "$T/prometheus.yml" 2>&1)"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" --web.listen-address="127.0.0.1:$pport" \
        >"$T/prometheus.log" 2>&1 &
PIDS+=("$!")
PROM=http://127.0.0.1:$pport
query() { curl -sS --get --data-urlencode "query=$1" "$PROM/api/v1/query"; }
for ((i = 0; i < 150; i++)); do
        v=$(query "patela_attestation_verdicts_total{job=\"patela\",verdict=\"$verdict\",outcome=\"accepted\"}" 2>/dev/null |
                jq -r '.data.result[0].value[1] // empty' 2>/dev/null) || true
        [[ -n $v ]] && break
        sleep 0.2
done
[[ $v == 1 ]] || fail "Prometheus has no verdict counter (got '$v'): $(tail -5 "$T/prometheus.log"); targets: $(curl -sS "$PROM/api/v1/targets")"
[[ $(query 'up{job="patela"}' | jq -r '.data.result[0].value[1]') == 1 ]] || fail "up{job=patela} is not 1"
[[ $(query 'patela_requests_total{result="SecretMismatch"}' | jq -r '.data.result[0].value[1]') == 1 ]] ||
        fail "Prometheus: SecretMismatch counter"
for ((i = 0; i < 50; i++)); do
        v=$(query 'patela_relay_onionskins_dropped_total{job="patela-relays",relay="exitA"}' | jq -r '.data.result[0].value[1] // empty')
        [[ -n $v ]] && break
        sleep 0.2
done
[[ $v == 7 ]] || fail "Prometheus: the relay metric (job patela-relays): '$v'"
[[ $(curl -sS "$PROM/api/v1/rules" | jq '[.data.groups[].rules[] | select(.type == "alerting")] | length') == 9 ]] ||
        fail "Prometheus did not load the 9 alert rules: $(curl -sS "$PROM/api/v1/rules")"
# The scrapes were authenticated: the server refused none of them.
scrape /metrics >"$T/metrics2.txt"
[[ $(awk '$1 == "patela_metrics_refused_total" { print $2 }' "$T/metrics2.txt") == 6 ]] ||
        fail "refused scrapes: $(grep refused_total "$T/metrics2.txt")"
pass "Prometheus scraped it with the documented configuration (jobs patela and patela-relays): verdict $verdict = 1, a relay metric, up = 1, 9 alert rules loaded"
server_stop

# Socket activation: the socket named "metrics" is the metrics listener, the other one serves the nodes.
nport=$(random_port)
sport=$((nport + 1))
systemd-socket-activate --listen="127.0.0.1:$nport" --listen="127.0.0.1:$sport" --fdname=nodes:metrics \
        "$SERVER_BIN" --database="$DB" --certificate="$T/ca/server.crt" --private-key="$T/ca/server.key" \
        --metrics-token-file="$T/metrics-token" run >"$T/activated.log" 2>&1 &
PIDS+=("$!")
MURL=https://127.0.0.1:$sport
for ((i = 0; i < 50; i++)); do
        scrape /metrics >"$T/metrics3.txt" 2>/dev/null && break
        sleep 0.1
done
[[ $HTTP_STATUS == 200 ]] && grep -q '^patela_node_info{node="1"' "$T/metrics3.txt" ||
        fail "metrics on the socket named metrics: HTTP $HTTP_STATUS $(cat "$T/activated.log")"
scrape /metrics "" >/dev/null
[[ $HTTP_STATUS == 401 ]] || fail "socket-activated metrics without the token: HTTP $HTTP_STATUS"
URL=https://127.0.0.1:$nport
http GET /v1/health >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "the nodes' socket: HTTP $HTTP_STATUS"
http GET /metrics >/dev/null
[[ $HTTP_STATUS == 404 ]] || fail "/metrics on the nodes' socket: HTTP $HTTP_STATUS"
grep -q "Metrics on the passed socket 'metrics'" "$T/activated.log" || fail "$(cat "$T/activated.log")"
pass "socket activation: the socket named metrics serves /metrics behind the token, the other the nodes"

# The server restarted (socket activation above): the relays' reports were in the old process's memory. exitA has
# no series and no flags until its node's next report, which brings them back; the node's session survived.
scrape /metrics/relays >"$T/relays2.txt"
[[ $HTTP_STATUS == 200 ]] && ! grep -q 'relay="exitA"' "$T/relays2.txt" && grep -q '^# TYPE patela_relay_flag gauge' "$T/relays2.txt" ||
        fail "after the restart: $(grep -v '^#' "$T/relays2.txt" | head -3)"
scrape /v1/status >"$T/status3.json"
[[ $(jq -r '.nodes[0].relays[0].flags' "$T/status3.json") == null ]] || fail "after the restart: $(cat "$T/status3.json")"
relay_report exitA 9 21 >"$T/report2.json"
http POST /v1/node/relay-metrics "$T/report2.json" "Authorization: Bearer $TOKEN" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "report after the restart: HTTP $HTTP_STATUS $(cat "$T/http.body")"
scrape /metrics/relays >"$T/relays3.txt"
grep -qx 'patela_relay_onionskins_dropped_total{node="1",relay="exitA"} 9' "$T/relays3.txt" &&
        grep -qx 'patela_relay_exit_dns_errors_total{node="1",relay="exitA",reason="tor_timeout"} 21' "$T/relays3.txt" ||
        fail "after the next report: $(grep -v '^#' "$T/relays3.txt" | head -5)"
promtool check metrics <"$T/relays3.txt" || fail "promtool check metrics (relays after the restart)"
pass "after a restart: no relay series until the node's next report, then its values"

