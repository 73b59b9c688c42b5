#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Relay metrics end to end (issue 13, item 2): the server gives each relay a MetricsPort on 127.0.0.1 (9035 plus
# its slot, loopback alone admitted); patela-configd reads it after a session check and reports the summary
# over its session, again once the server's RelayMetricsInterval= has passed; the server exports it per relay in
# /metrics/relays. A real tor runs exitA on the torrc configd wrote, online in a network
# namespace of the test's own that has loopback only (its relay addresses on lo): nothing leaves the machine.
# exitB's tor is not started: it is left out of the reports, and has no series.
if [[ -z ${PATELA_NETNS:-} ]]; then
        exec unshare --net env PATELA_NETNS=1 bash "$0" "$@"
fi
source "$PATELA_SOURCE_DIR/test/integration/test-configd-lib.sh"

ip link set lo up
for a in 192.0.2.10 192.0.2.11; do ip addr add "$a/32" dev lo; done
for a in 2001:db8::10 2001:db8::11; do ip -6 addr add "$a/128" dev lo nodad 2>/dev/null || true; done
[[ -z $(ip route show default) ]] || fail "the namespace has a default route"

openssl rand -base64 32 >"$T/metrics-token"
mport=$(random_port)
rport=9035 # the server's, for slot 0 (a port of this namespace's own loopback)
fleet_setup
server_start --check-interval=1s --relay-metrics-interval=3s --metrics-listen="127.0.0.1:$mport" --metrics-token-file="$T/metrics-token"
node_start
configd_config
configd_start
wait_phase pending 20
fp=$(jq -r .fingerprint "$T/status.json")
ps_cli node relays "$fp" 2 >/dev/null
ps_cli node enable "$fp" >/dev/null
wait_phase running 30
grep -qx "MetricsPort 127.0.0.1:$rport" "$TORRC_DIR/exitA.torrc" &&
        grep -qx "MetricsPort 127.0.0.1:$((rport + 1))" "$TORRC_DIR/exitB.torrc" &&
        grep -qx "MetricsPortPolicy accept 127.0.0.1" "$TORRC_DIR/exitA.torrc" &&
        [[ $(grep -c '^MetricsPort ' "$TORRC_DIR/exitA.torrc") == 1 ]] || fail "MetricsPort lines: $(cat "$TORRC_DIR/exitA.torrc")"
pass "each relay's torrc has its MetricsPort on loopback: exitA $rport, exitB $((rport + 1))"

# exitA's tor, as the relay's user, on configd's torrc (its keys from keyd), online in this namespace.
tor_check exitA # verify-config and fingerprints; prepares the data directory
{ cat "$TORRC_DIR/exitA.torrc"; printf 'SocksPort 0\nLog notice file %s\n' "$DATA_DIR/exitA/notice.log"; } >"$T/exitA.run.torrc"
chmod 0644 "$T/exitA.run.torrc"
setpriv --reuid=nobody --regid=nogroup --clear-groups tor -f "$T/exitA.run.torrc" --quiet &
PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
        curl -sf "http://127.0.0.1:$rport/metrics" -o "$T/tor-metrics.txt" && break
        sleep 0.1
done
grep -q '^tor_relay_load_onionskins_total' "$T/tor-metrics.txt" || fail "tor's MetricsPort: $(grep -i "metrics\|opened\|bind\|listen\|err" "$DATA_DIR/exitA/notice.log" | head -10; grep -i metrics "$T/exitA.run.torrc")"

scrape() {
        curl -sS --cacert "$T/ca/ca.crt" -H "Authorization: Bearer $(cat "$T/metrics-token")" \
                "https://127.0.0.1:$mport/metrics/relays" >"$T/metrics.txt" || fail "scrape failed"
}
for ((i = 0; i < 100; i++)); do
        scrape
        grep -q '^patela_relay_metrics_timestamp_seconds{node="1",relay="exitA"}' "$T/metrics.txt" && break
        sleep 0.2
done
grep -q '^patela_relay_metrics_timestamp_seconds{node="1",relay="exitA"}' "$T/metrics.txt" ||
        fail "no relay metrics at the server: $(grep -i metric "$T/configd.log" | tail -5)"
for s in patela_relay_onionskins_dropped_total patela_relay_oom_bytes_total patela_relay_tcp_exhaustion_total \
        patela_relay_exit_dns_queries_total; do
        grep -q "^$s{node=\"1\",relay=\"exitA\"} [0-9]*$" "$T/metrics.txt" || fail "$s missing: $(grep '^patela_relay' "$T/metrics.txt")"
done
grep -q '^patela_relay_exit_dns_errors_total{node="1",relay="exitA",reason="tor_timeout"} 0$' "$T/metrics.txt" ||
        fail "the DNS timeouts: $(grep dns_errors "$T/metrics.txt")"
! grep -q 'relay="exitB"' "$T/metrics.txt" || fail "exitB's tor is not running, yet it has series"
promtool check metrics <"$T/metrics.txt" >/dev/null 2>&1 || fail "promtool check metrics: $(promtool check metrics <"$T/metrics.txt" 2>&1 | head)"
! grep -q "MetricsPort's answer is not tor's\|did not take the relays' metrics" "$T/configd.log" ||
        fail "configd: $(grep -i metric "$T/configd.log" | tail -3)"
pass "configd read exitA's MetricsPort after a check and reported it; the server exports it per relay, exitB (no tor) left out"

# Checks every second, a report every 3 s (less half a check for the jitter), and the report is that second's
# check: in 9.5 s some 9-10 session checks, 3 or 4 of them reports (if the reports came on top of the checks, the
# GET checks alone would be 9-10 and the sum 12-14).
count() { # count ENDPOINT: its ok requests at the server
        curl -sS --cacert "$T/ca/ca.crt" -H "Authorization: Bearer $(cat "$T/metrics-token")" \
                "https://127.0.0.1:$mport/metrics" | awk -v k="patela_requests_total{endpoint=\"$1\",result=\"ok\"}" '$1 == k { print $2 }'
}
r0=$(count /v1/node/relay-metrics) c0=$(count /v1/node/check)
sleep 9.5
r1=$(count /v1/node/relay-metrics) c1=$(count /v1/node/check)
checks=$((c1 - c0)) reports=$((r1 - r0))
((reports >= 2 && reports <= 4 && checks + reports >= 7 && checks + reports <= 11)) ||
        fail "in 9.5 s: $checks checks and $reports reports (RelayMetricsInterval=3s, CheckInterval=1s)"
pass "RelayMetricsInterval=3s: $reports reports in 9.5 s, each in place of a check ($checks plain checks)"
configd_stop
server_stop
