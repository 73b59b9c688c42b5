#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The server authentication benchmark: a private CA and patela-server on 127.0.0.1 (as the integration
# tests start it), 10,000 software nodes enrolled and enabled, then
#   1. the crypto floor: the server's make_credential + quote verification + hashes per authentication,
#   2. a sweep of client thread counts (the client shares the machine's cores with the server),
#   3. the measured run with the best thread count, the server's RSS sampled during and after it,
#   4. new TLS connections: one per request (two handshakes per authentication) and one per authentication
#      (patela-configd's pattern: challenge and answer over one connection), each with full handshakes and
#      with TLS 1.3 resumption from the server's session tickets (TLSTicketLifetime=), the client offering
#      the session of the last ticket it got as libcurl does,
#   5. RSA-2048 EKs, with fewer nodes (their key generation is slow), floor and run,
#   (after 3) relay reports: a node's report of its 4 relays' MetricsPort, which replaces a session check: the
#      server's CPU per report less per check, against per authentication of the measured run (the issue's "relay
#      summaries add ≤ 10 % to the server's CPU per authentication"),
#   6. node checks: each of the nodes authenticates once (its token kept in patela-bench's memory), then
#      GET /v1/node/check at the fleet's paced rate (10,000 nodes every 30 s: 333/s) round-robin over the
#      nodes, and GET /v1/health (no authentication, no database) at the same rate as the floor, each over
#      fresh TLS connections (the worst case: every node reconnecting, as after a server restart) and over
#      4 kept-alive ones (a request's own cost); then the checks over one connection per node, each idle
#      one interval between its node's checks and all of them held by the server (a running fleet: a node
#      keeps its connection, IdleTimeout= outlasts CheckInterval=): the goal's figure. The server's CPU in %
#      of one core; its RSS before and while holding every node's connection.
# Every node quotes the PCRs of a real boot of our image and sends its event logs (PATELA_BENCH_EVENT_LOGS,
# default test/boot/fixtures/qemu-ovmf; empty: none), whose reference is registered: the server replays and
# judges them in every authentication, and every verdict must be Trusted. The floor includes the verifier's
# work on the logs; one more run without logs measures what they cost in the same conditions.
# Prints a summary and one JSON line. Loopback only.
#
# Environment: PATELA_BENCH_NODES (10000), PATELA_BENCH_RSA_NODES (200), PATELA_BENCH_DURATION (20),
# PATELA_BENCH_SWEEP ("2 3 4 6 8 16"), PATELA_BENCH_SWEEP_DURATION (5), PATELA_BENCH_THREADS (skip the
# sweep), PATELA_BENCH_FRESH_SWEEP ("4 8 16": client threads tried for new connections),
# PATELA_BENCH_FRESH_THREADS (skip that sweep), PATELA_BENCH_SERVER_THREADS (patela-server --threads, default: its own, one per CPU; more threads
# did not help the kept-alive runs (measured: each kept-alive connection got a thread of its own either way)
# and made a fresh connection cost the server 2.5 times as much with 8 threads), PATELA_BENCH_DIR
# (database and identities; default the build directory's bench-work/, on disk like /var/lib/patela),
# PATELA_BENCH_CHECK_RATE (333), PATELA_BENCH_CHECK_DURATION (20 s per load, four loads, then the per-node
# load: one interval of nodes ÷ rate as warm-up and at least one measured; 0 skips the node checks),
# PATELA_BENCH_CHECK_RTT_MS (0: in each fresh connection's handshake the client waits this long after
# the ServerHello, as a node that far away would), PATELA_BENCH_REPORTS (10000 relay reports after the measured
# run; 0 skips them), PATELA_BENCH_STRICT=1 (fail when a goal is missed; errors
# always fail), PATELA_BENCH_PG_CONF (lines for the PostgreSQL cluster's postgresql.conf).
# PATELA_TEST_DB_BACKEND=postgresql puts the server's database in a PostgreSQL cluster of the benchmark's own, in
# $PATELA_BENCH_DIR/pg (on disk, as the SQLite file; fsync on), with production-like sizes; the cluster's processes
# are accounted as the database's CPU per authentication, which the server's own CPU does not hold there (on SQLite
# the database runs inside the server's process). The summary and the JSON line then say "backend": "postgresql".
BACKEND=${PATELA_TEST_DB_BACKEND:-sqlite}
unset PATELA_TEST_DB_BACKEND
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

BENCH=$PATELA_BUILD_DIR/test/bench/patela-bench
NODES=${PATELA_BENCH_NODES:-10000}
RSA_NODES=${PATELA_BENCH_RSA_NODES:-200}
DURATION=${PATELA_BENCH_DURATION:-20}
SWEEP=${PATELA_BENCH_SWEEP:-2 3 4 6 8 16}
SWEEP_DURATION=${PATELA_BENCH_SWEEP_DURATION:-5}
FRESH_SWEEP=${PATELA_BENCH_FRESH_SWEEP:-4 8 16}
WORK=${PATELA_BENCH_DIR:-$PATELA_BUILD_DIR/bench-work}
CHECK_RATE=${PATELA_BENCH_CHECK_RATE:-333}
CHECK_DURATION=${PATELA_BENCH_CHECK_DURATION:-20}
CHECK_RTT_MS=${PATELA_BENCH_CHECK_RTT_MS:-0}
REPORTS=${PATELA_BENCH_REPORTS:-10000}
# The server's default RelayMetricsInterval=: how often a node reports, for the per-node-hour figure.
RELAY_METRICS_INTERVAL=300
GOAL_RATE=2000 GOAL_P99_MS=50 GOAL_RSS_KB=$((64 * 1024)) GOAL_CHECK_CPU_PCT=10 GOAL_REPORT_RATIO=0.10
GOAL_FRESH_RATE=1500 GOAL_KEPT_ALIVE_CPU_US=350
EVENT_LOGS=${PATELA_BENCH_EVENT_LOGS-$PATELA_SOURCE_DIR/test/boot/fixtures/qemu-ovmf}
LOGS_ARGS=()
[[ -n $EVENT_LOGS ]] && LOGS_ARGS=(--event-logs "$EVENT_LOGS")

# The database lives with the identities, on the build directory's file system, not in tmpfs.
mkdir -p "$WORK"
rm -rf "$WORK"/server.db* "$WORK"/identities* "$WORK/pg"
DB=$WORK/server.db
PG_POSTMASTER=
if [[ $BACKEND == postgresql ]]; then
        source "$PATELA_SOURCE_DIR/test/lib-postgres.sh"
        pg_available || { echo "1..0 # SKIP no PostgreSQL server installed"; exit 77; }
        # A dedicated server's settings, scaled to this machine: the working set in shared buffers, WAL flushed at
        # every commit (synchronous_commit on, the default: an acknowledged change is on disk, as SQLite's).
        # PATELA_BENCH_PG_CONF: more lines for its postgresql.conf (e.g. "synchronous_commit = off", which is what
        # SQLite's synchronous=NORMAL is to a power loss).
        PG_CONF_EXTRA=$'shared_buffers = 256MB\nmax_connections = 50\nwal_buffers = 16MB\nmax_wal_size = 2GB\n'${PATELA_BENCH_PG_CONF:-}
        pg_start "$WORK/pg" >/dev/null
        DB=$PG_URI
        PG_POSTMASTER=$(head -1 "$PG_DIR/data/postmaster.pid")
fi

SERVER_THREADS=${PATELA_BENCH_SERVER_THREADS:-$(nproc)}
server_args=(--max-pending-nodes=1000000 --enroll-rate=1000000 --threads="$SERVER_THREADS")
# The run without event logs (what the verifier's share costs) is judged LogMismatch: recorded, not refused, so
# that it takes the path of an accepted authentication as the others. Every other run must be Trusted.
[[ -n $EVENT_LOGS ]] && server_args+=(--measured-boot=warn)
server_start "${server_args[@]}"
CA=$T/ca/ca.crt
echo "# patela-server $SERVER_PID at $URL (${server_args[*]}), database $DB; $(nproc) CPUs"
if [[ -n $EVENT_LOGS ]]; then
        ps_cli image add --name bench "$EVENT_LOGS/patela.reference.json" >/dev/null 2>&1 ||
                fail "image add $EVENT_LOGS/patela.reference.json"
        echo "# event logs of $EVENT_LOGS in every authentication; its image registered"
fi

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# rss_sample_start FILE / rss_sample_stop: the largest VmRSS of the server while the sampler runs, read once a
# second without a fork (the kernel's VmHWM, printed too, has the true peak). Sampling ten times a second with awk
# took 2-4 % of the 2 CPUs away from the run it measured.
rss_sample_start() {
        local out=$1
        (
                max=0
                while kill -0 "$SERVER_PID" 2>/dev/null; do
                        v=0
                        while read -r k v _; do
                                [[ $k == VmRSS: ]] && break
                        done <"/proc/$SERVER_PID/status"
                        ((v > max)) && max=$v && echo "$max" >"$out"
                        sleep 1
                done
        ) &
        SAMPLER_PID=$!
        PIDS+=("$SAMPLER_PID")
}
rss_sample_stop() {
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
}

# db_cpu_ticks: the CPU time, in clock ticks, of the PostgreSQL cluster's processes so far: the postmaster's own
# and its ended children's (cutime, cstime), and each living child's (its backends: the server's connections).
# 0 on SQLite, whose work is in the server's process.
db_cpu_ticks() {
        local total=0 pid
        [[ -n $PG_POSTMASTER ]] || { echo 0; return; }
        for pid in "$PG_POSTMASTER" $(pgrep -P "$PG_POSTMASTER"); do
                total=$((total + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
        done
        echo "$total"
}

# bench_run NAME ARGS…: patela-bench run, the server's CPU accounted (and the database's on PostgreSQL:
# .db_cpu_us_per_auth); its JSON line in $T/NAME.json.
bench_run() {
        local name=$1 d0 d1
        shift
        d0=$(db_cpu_ticks)
        "$BENCH" run --url "$URL" --cacert "$CA" --server-pid "$SERVER_PID" "${LOGS_ARGS[@]}" "$@" \
                >"$T/$name.out" 2>"$T/$name.log" ||
                fail "patela-bench run $*: $(tail -5 "$T/$name.log")"
        d1=$(db_cpu_ticks)
        tail -1 "$T/$name.out" | jq -c --argjson t "$((d1 - d0))" --argjson hz "$(getconf CLK_TCK)" \
                '. + {db_cpu_us_per_auth: (if .auths > 0 then ($t * 1e6 / $hz / .auths * 10 | round / 10) else 0 end)}' \
                >"$T/$name.json"
        jq -e '.errors == 0 and .auths > 0' "$T/$name.json" >/dev/null || fail "$name: $(cat "$T/$name.json")"
        sed 's/^/#   /' "$T/$name.log"
        [[ -z $PG_POSTMASTER ]] || echo "#   PostgreSQL: $(jq .db_cpu_us_per_auth "$T/$name.json") µs of CPU per auth"
}

# bench_sql SQL: the benchmark's own statements on the server's database, either backend (lib-server.sh's db_query),
# waiting up to 10 s for SQLite's lock.
bench_sql() {
        if [[ $BACKEND == postgresql ]]; then
                db_query "$1"
        else
                sqlite3 -cmd ".timeout 10000" "$DB" "$1"
        fi
}

# enable_all: benchmark set-up, not the operator's path. `patela-server node enable` takes one node per
# invocation and allocates relays from the pools; 10,000 invocations would take minutes. The benchmark needs
# only state = enabled, so it sets that directly, with no relays (relay_count = 0), while the server idles.
enable_all() {
        bench_sql "UPDATE nodes SET state = 'enabled', relay_count = 0 WHERE state = 'pending'"
}

populate() {
        local file=$1 n=$2 type=$3
        "$BENCH" populate --url "$URL" --cacert "$CA" --nodes "$n" --ek-type "$type" --identities "$file" \
                >"$T/populate-$type.out" 2>"$T/populate-$type.log" ||
                fail "populate $type: $(tail -5 "$T/populate-$type.log")"
        sed 's/^/#   /' "$T/populate-$type.log"
        enable_all
}

# floor IDENTITIES ITERATIONS NAME [OPTION...]
floor() {
        "$BENCH" floor --identities "$1" --iterations "${2:-3000}" --cores "$(nproc)" "${LOGS_ARGS[@]}" "${@:4}" \
                >"$T/floor-$3.out" 2>"$T/floor-$3.log" ||
                fail "floor: $(tail -5 "$T/floor-$3.log")"
        sed 's/^/#   /' "$T/floor-$3.log"
        tail -1 "$T/floor-$3.out" >"$T/floor-$3.json"
}

# ---- ECC P-256 EKs, 10,000 nodes ---------------------------------------------------------------------
echo "# populate: $NODES nodes, EK ecc-p256, AK ecc-p256"
populate "$WORK/identities" "$NODES" ecc-p256
[[ $(bench_sql "SELECT COUNT(*) FROM nodes WHERE state = 'enabled'") == "$NODES" ]] || fail "not all $NODES nodes enabled"
RSS_IDLE=$(status_kb "$SERVER_PID" VmRSS)
pass "$NODES nodes enrolled and enabled; server RSS ${RSS_IDLE} kB"

echo "# crypto floor (in process: one thread, then one thread per CPU at once)"
floor "$WORK/identities" 3000 ecc
pass "floor: $(jq -r '"\(.us_per_auth) µs per auth (make_credential \(.make_credential_us), quote verification \(.quote_verify_us)); all CPUs at once \(.parallel_auth_per_s) auth/s"' "$T/floor-ecc.json")"

# sweep NAME COUNTS [OPTION…]: a short run per client thread count (patela-bench run's OPTIONs added), each
# printed; SWEEP_BEST is the fastest count that keeps p99 within the goal, the fastest at all if none does.
sweep() {
        local name=$1 counts=$2 t rate p99 ok best= best_rate=0 best_ok=0
        shift 2
        for t in $counts; do
                bench_run "$name-$t" --identities "$WORK/identities" --threads "$t" --duration "$SWEEP_DURATION" "$@"
                read -r rate p99 < <(jq -r '"\(.auth_per_s) \(.p99_ms)"' "$T/$name-$t.json")
                jq -r '"#   threads \(.threads): \(.auth_per_s) auth/s, p99 \(.p99_ms) ms, server CPU \(.server_cpu_us_per_auth) µs/auth, client \(.client_cpu_us_per_auth) µs/auth, cores: server \(.server_cores), client \(.client_cores), others \(.other_cores)"' \
                        "$T/$name-$t.json"
                ok=$(awk -v p="$p99" -v g="$GOAL_P99_MS" 'BEGIN { print (p < g) }')
                if ((ok > best_ok)) || { ((ok == best_ok)) && awk -v a="$rate" -v b="$best_rate" 'BEGIN { exit !(a > b) }'; }; then
                        best=$t best_rate=$rate best_ok=$ok
                fi
        done
        SWEEP_BEST=$best
}

if [[ -n ${PATELA_BENCH_THREADS:-} ]]; then
        THREADS=$PATELA_BENCH_THREADS
else
        echo "# sweep: client threads $SWEEP, ${SWEEP_DURATION}s each"
        sweep sweep "$SWEEP"
        THREADS=$SWEEP_BEST
fi
echo "# measured run: $THREADS client threads, ${DURATION}s"
rss_sample_start "$T/rss-max"
bench_run main --identities "$WORK/identities" --threads "$THREADS" --duration "$DURATION"
rss_sample_stop
RSS_MAX=$(cat "$T/rss-max")
RSS_AFTER=$(status_kb "$SERVER_PID" VmRSS)
RSS_HWM=$(status_kb "$SERVER_PID" VmHWM)
pass "run: $(jq -r '"\(.auth_per_s) auth/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms"' "$T/main.json")"
if [[ -n $EVENT_LOGS ]]; then
        verdicts=$(bench_sql \
                "SELECT coalesce(measured_verdict, 'none') || ' ' || n FROM
                 (SELECT measured_verdict, COUNT(*) AS n FROM attestations GROUP BY measured_verdict)" | paste -sd, -)
        [[ $verdicts =~ ^Trusted\ [0-9]+$ ]] || fail "verdicts of the run: $verdicts"
        pass "every authentication judged: $verdicts"
        # The same without logs, in the same conditions: what the verifier's share costs.
        LOGS_KEPT=("${LOGS_ARGS[@]}")
        LOGS_ARGS=()
        bench_run nologs --identities "$WORK/identities" --threads "$THREADS" --duration 10
        LOGS_ARGS=("${LOGS_KEPT[@]}")
        pass "without event logs: $(jq -r '"\(.auth_per_s) auth/s, p99 \(.p99_ms) ms, server CPU \(.server_cpu_us_per_auth) µs/auth"' "$T/nologs.json")"
fi
# Nodes of the previous version ask for no quote-only challenge: a credential in every one (make_credential on the
# server, its activation in the load generator). The same run's baseline for the step (docs/server.md,
# "Challenges and sessions"), kept alive, and the floor of such an authentication.
bench_run credential --identities "$WORK/identities" --threads "$THREADS" --duration 10 --credential-each-time
pass "a credential in every challenge: $(jq -r '"\(.auth_per_s) auth/s, p99 \(.p99_ms) ms, server CPU \(.server_cpu_us_per_auth) µs/auth"' "$T/credential.json")"
floor "$WORK/identities" 3000 ecc-credential --credential-each-time
# The machine's speed moves with its other tenants: the floor again, right after the run.
floor "$WORK/identities" 3000 ecc-after

# ---- relay reports: POST /v1/node/relay-metrics against an authentication, in the same run ------------------------
# What configd sends every RelayMetricsInterval= in place of that moment's session check (the report carries the
# check): a node's report of its 4 relays' MetricsPort. The first node gets 4 relays and a session whose token is
# known here (set-up, not the operator's path), then REPORTS reports and as many plain checks (the same connection,
# token and lookup, without the report) over one kept-alive connection: the server's CPU per request from /proc.
# What the summaries add is a report less the check it replaces, over the server's CPU per authentication in the
# measured run above (same server, minutes apart): the goal is ≤ 0.10. The report's whole cost over an
# authentication is printed too.
if ((REPORTS > 0)); then
        node=$(bench_sql "SELECT min(id) FROM nodes WHERE state = 'enabled'")
        bench_sql "INSERT INTO relays (node_id, slot, name, ipv4, or_port) VALUES
                ($node, 0, 'benchrelay0', '198.51.100.1', 9001), ($node, 1, 'benchrelay1', '198.51.100.1', 9002),
                ($node, 2, 'benchrelay2', '198.51.100.1', 9003), ($node, 3, 'benchrelay3', '198.51.100.1', 9004)"
        # The token names its node in its first 8 bytes (src/server/server-nodes.h); it replaces the node's session.
        { printf '%016x' "$node" | xxd -r -p; openssl rand 24; } >"$T/report-token"
        hash=$(sha256sum "$T/report-token" | cut -c1-64)
        hash_literal="x'$hash'"
        [[ $BACKEND == postgresql ]] && hash_literal="'\\x$hash'::bytea"
        bench_sql "DELETE FROM sessions WHERE node_id = $node"
        bench_sql "INSERT INTO sessions VALUES ($hash_literal, $node, 0, 9000000000000000)"
        # As configd sends it: compact JSON (proto_json_format()), and no "Expect: 100-continue" (curl's default
        # for a body over 1 KiB: an interim 100 response and a round trip that configd turns off).
        jq -cn '{relays: [range(4) | {name: "benchrelay\(.)", onionskinsDropped: 1, oomBytes: 0, tcpExhaustion: 0,
                rateLimitReached: 0, dnsQueries: 12345, readBytes: 1000000, writtenBytes: 900000,
                dnsErrors: {notexist: 40, tor_timeout: 2}, flags: ["Exit", "Fast", "Running", "Valid"]}]}' >"$T/report.json"
        cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
        report_urls=() check_urls=()
        for ((i = 0; i < REPORTS; i++)); do
                report_urls+=(-o /dev/null "$URL/v1/node/relay-metrics")
                check_urls+=(-o /dev/null "$URL/v1/node/check")
        done
        bearer=(-H "Authorization: Bearer $(base64 -w0 <"$T/report-token")")
        t0=$(cpu_ticks)
        curl -sS --cacert "$CA" "${bearer[@]}" -H 'Content-Type: application/json' -H 'Expect:' --data-binary @"$T/report.json" \
                -w '%{http_code}\n' "${report_urls[@]}" >"$T/reports"
        t1=$(cpu_ticks)
        curl -sS --cacert "$CA" "${bearer[@]}" -w '%{http_code}\n' "${check_urls[@]}" >"$T/report-checks"
        t2=$(cpu_ticks)
        [[ $(grep -c '^200$' "$T/reports") == "$REPORTS" && $(grep -c '^200$' "$T/report-checks") == "$REPORTS" ]] ||
                fail "relay reports: $(sort "$T/reports" | uniq -c) checks: $(sort "$T/report-checks" | uniq -c)"
        hz=$(getconf CLK_TCK)
        jq -n --argjson r "$((t1 - t0))" --argjson c "$((t2 - t1))" --argjson hz "$hz" --argjson n "$REPORTS" \
                --argjson auth "$(jq .server_cpu_us_per_auth "$T/main.json")" \
                --argjson interval "$RELAY_METRICS_INTERVAL" '
                ($r * 1e6 / $hz / $n) as $rep | ($c * 1e6 / $hz / $n) as $chk | ([$rep - $chk, 0] | max) as $add |
                {reports: $n, relays_per_report: 4, server_cpu_us_per_report: ($rep | round),
                 server_cpu_us_per_check: ($chk | round), server_cpu_us_added: ($add | round),
                 server_cpu_us_per_auth: $auth,
                 ratio_to_auth: ($add / $auth * 1000 | round / 1000),
                 ratio_whole_report_to_auth: ($rep / $auth * 1000 | round / 1000), interval_s: $interval,
                 reports_per_node_hour: (3600 / $interval),
                 server_cpu_ms_per_node_hour: ($add * 3600 / $interval / 1000 * 100 | round / 100)}' >"$T/reports.json"
        pass "relay reports: $(jq -r '"\(.server_cpu_us_per_report) µs of server CPU per report, \(.server_cpu_us_per_check) µs per check: \(.server_cpu_us_added) µs added, ratio to an authentication \(.ratio_to_auth) (the whole report: \(.ratio_whole_report_to_auth))"' "$T/reports.json")"
else
        echo 'null' >"$T/reports.json"
fi

# New connections: NAME, then patela-bench's options. "fresh" is the per-request run of the earlier summaries.
FRESH_RUNS=(
        "fresh --fresh-connections"
        "fresh-resume --fresh-connections --resume"
        "per-auth --connection-per-auth"
        "per-auth-resume --connection-per-auth --resume"
)
# A new connection keeps its client waiting longer per authentication (the handshake's round trips) than a
# kept-alive one: the kept-alive run's thread count leaves the server idle between them. The node's pattern (one
# resumed connection per authentication) gets a sweep of its own, chosen as the kept-alive one is (the fastest
# with p99 within the goal), and every new-connection run uses it.
if [[ -n ${PATELA_BENCH_FRESH_THREADS:-} ]]; then
        FRESH_THREADS=$PATELA_BENCH_FRESH_THREADS
else
        echo "# sweep for new connections (one per authentication, resumed): client threads $FRESH_SWEEP, ${SWEEP_DURATION}s each"
        sweep fresh-sweep "$FRESH_SWEEP" --connection-per-auth --resume
        FRESH_THREADS=$SWEEP_BEST
fi
for spec in "${FRESH_RUNS[@]}"; do
        read -r name opts <<<"$spec"
        echo "# new TLS connections ($name: $opts), $FRESH_THREADS threads, 10s"
        # shellcheck disable=SC2086 # opts are words
        bench_run "$name" --identities "$WORK/identities" --threads "$FRESH_THREADS" --duration 10 $opts
        jq -e 'if .resume then .handshakes_resumed > .handshakes_full else .handshakes_resumed == 0 end' \
                "$T/$name.json" >/dev/null || fail "$name: resumption not as asked: $(cat "$T/$name.json")"
        pass "$name: $(jq -r '"\(.auth_per_s) auth/s, p99 \(.p99_ms) ms, server \(.server_cpu_us_per_auth) µs and client \(.client_cpu_us_per_auth) µs of CPU per auth; handshakes \(.handshakes_full) full, \(.handshakes_resumed) resumed"' "$T/$name.json")"
done

# ---- RSA-2048 EKs, fewer nodes --------------------------------------------------------------------------
if ((RSA_NODES > 0)); then
        echo "# populate: $RSA_NODES nodes, EK rsa2048 (on top of the $NODES)"
        populate "$WORK/identities-rsa" "$RSA_NODES" rsa2048
        floor "$WORK/identities-rsa" 3000 rsa
        bench_run rsa --identities "$WORK/identities-rsa" --threads "$THREADS" --duration 10
        pass "rsa2048: $(jq -r '"\(.auth_per_s) auth/s, p99 \(.p99_ms) ms"' "$T/rsa.json")"
fi

# ---- node checks: GET /v1/node/check from every running node every 30 s -----------------------------------
if ((CHECK_DURATION > 0)); then
        rtt_note=
        ((CHECK_RTT_MS > 0)) && rtt_note=" (fresh ones: a $CHECK_RTT_MS ms round trip emulated in each handshake)"
        echo "# node checks: the $NODES nodes authenticate once, then $CHECK_RATE requests/s," \
                "${CHECK_DURATION}s each: GET /v1/health (the floor) and GET /v1/node/check, fresh and kept-alive" \
                "connections$rtt_note; then GET /v1/node/check over one connection per node"
        "$BENCH" checks --url "$URL" --cacert "$CA" --server-pid "$SERVER_PID" --identities "$WORK/identities" \
                "${LOGS_ARGS[@]}" --rate "$CHECK_RATE" --duration "$CHECK_DURATION" \
                --handshake-delay "$CHECK_RTT_MS" >"$T/checks.out" 2>"$T/checks.log" ||
                fail "patela-bench checks: $(tail -5 "$T/checks.log")"
        tail -1 "$T/checks.out" >"$T/checks.json"
        sed 's/^/#   /' "$T/checks.log"
        jq -e '.errors == 0 and .fresh.check.requests > 0 and .kept_alive.check.requests > 0 and
                .per_node.check.requests > 0' "$T/checks.json" >/dev/null || fail "checks: $(cat "$T/checks.json")"
        pass "checks: $(jq -r '"fresh \(.fresh.check.server_cpu_pct) % of one core (health \(.fresh.health.server_cpu_pct) %), kept-alive \(.kept_alive.check.server_cpu_pct) % (health \(.kept_alive.health.server_cpu_pct) %), one connection per node \(.per_node.check.server_cpu_pct) % holding \(.per_node.connections_held)"' "$T/checks.json")"
else
        echo 'null' >"$T/checks.json"
fi
server_stop

# ---- summary --------------------------------------------------------------------------------------------
ratio() { awk -v a="$(jq .auth_per_s "$1")" -v f="$(jq .auth_per_s_cores "$2")" 'BEGIN { printf "%.3f", a / f }'; }
read -r main_rate main_p50 main_p99 main_max < <(jq -r '"\(.auth_per_s) \(.p50_ms) \(.p99_ms) \(.max_ms)"' "$T/main.json")
read -r srv_cpu_us srv_cores cli_cpu_us cli_cores other_cores steal_cores < <(jq -r \
        '"\(.server_cpu_us_per_auth) \(.server_cores) \(.client_cpu_us_per_auth) \(.client_cores) \(.other_cores) \(.steal_cores)"' "$T/main.json")
floor_us=$(jq .us_per_auth "$T/floor-ecc.json")
# On PostgreSQL the database's processes do part of the server's work: the capacities and the floor's share count
# the server and the database together (on SQLite the database's share is 0: it is inside the server's process).
db_cpu_us=$(jq .db_cpu_us_per_auth "$T/main.json")
db_cores=$(awk -v d="$db_cpu_us" -v r="$main_rate" 'BEGIN { printf "%.3f", d * r / 1e6 }')
srv_cpu_us=$(awk -v s="$srv_cpu_us" -v d="$db_cpu_us" 'BEGIN { print s + d }')
# How much of the server's CPU is the crypto floor, and what the server alone would do with every core.
efficiency=$(awk -v f="$floor_us" -v s="$srv_cpu_us" 'BEGIN { printf "%.2f", f / s }')
capacity=$(awk -v n="$(nproc)" -v s="$srv_cpu_us" 'BEGIN { printf "%.0f", n * 1e6 / s }')
# The pair (server + load generator) on all the machine's cores, and the cores the goal would need at the
# measured CPU per authentication.
pair_capacity=$(awk -v n="$(nproc)" -v s="$srv_cpu_us" -v c="$cli_cpu_us" 'BEGIN { printf "%.0f", n * 1e6 / (s + c) }')
goal_cores=$(awk -v g="$GOAL_RATE" -v s="$srv_cpu_us" -v c="$cli_cpu_us" 'BEGIN { printf "%.2f", g * (s + c) / 1e6 }')
par_floor=$(jq .parallel_auth_per_s "$T/floor-ecc.json")
par_floor_us=$(jq .parallel_us_per_auth "$T/floor-ecc.json")
par_ratio=$(awk -v a="$main_rate" -v f="$par_floor" 'BEGIN { printf "%.3f", a / f }')
cat <<SUMMARY
#
# ==== patela-server authentication benchmark ($(nproc) CPUs, client and server on the same machine) ====
# nodes enrolled            $NODES ecc-p256 EKs${RSA_NODES:+ (+ $RSA_NODES rsa2048 for the RSA line)}
# client threads            $THREADS (kept-alive TLS 1.3 connections), $FRESH_THREADS for new connections; server threads $SERVER_THREADS
# full authentications/s    $main_rate        (goal ≥ $GOAL_RATE)
# latency p50 / p99 / max   $main_p50 / $main_p99 / $main_max ms   (goal p99 < $GOAL_P99_MS ms)
# database                  $BACKEND$([[ $BACKEND == postgresql ]] && echo " (PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }'), its own cluster on this machine)")
# CPU per auth             server $srv_cpu_us µs (of which the database's processes $db_cpu_us µs), client $cli_cpu_us µs
# cores busy on average     server $srv_cores, client $cli_cores, other processes $other_cores (the database's $db_cores), stolen $steal_cores
# server-only capacity      $capacity auth/s ($(nproc) cores ÷ server CPU per auth; the client excluded)
# pair capacity             $pair_capacity auth/s ($(nproc) cores ÷ server + client CPU per auth); $GOAL_RATE auth/s need $goal_cores cores
# floor share of server CPU $efficiency (crypto floor ÷ server CPU per auth)
# server RSS idle / max during / after / VmHWM   $RSS_IDLE / $RSS_MAX / $RSS_AFTER / $RSS_HWM kB   (goal ≤ $GOAL_RSS_KB kB)
# floor (crypto + logs)     $(jq .us_per_auth "$T/floor-ecc.json") µs per auth on one thread = $(jq .auth_per_s_cores "$T/floor-ecc.json") auth/s if $(nproc) cores each did as much
# crypto floor, all CPUs    $par_floor auth/s measured with $(nproc) threads at once ($par_floor_us µs per auth and thread)
# floor after the run       $(jq .us_per_auth "$T/floor-ecc-after.json") µs on one thread, $(jq .parallel_auth_per_s "$T/floor-ecc-after.json") auth/s on all CPUs at once
# ratio measured / floor    $(ratio "$T/main.json" "$T/floor-ecc.json") (one-thread floor × cores); $par_ratio (floor measured on all CPUs at once)
# credential every time     $(jq .auth_per_s "$T/credential.json") auth/s, server CPU $(jq '.server_cpu_us_per_auth + .db_cpu_us_per_auth' "$T/credential.json") µs/auth (nodes of the previous version; floor $(jq .us_per_auth "$T/floor-ecc-credential.json") µs); quote-only ÷ it: $(awk -v a="$srv_cpu_us" -v b="$(jq '.server_cpu_us_per_auth + .db_cpu_us_per_auth' "$T/credential.json")" 'BEGIN { printf "%.3f", a / b }') in server CPU per auth
SUMMARY
if ((REPORTS > 0)); then
        jq -r --argjson g "$GOAL_REPORT_RATIO" '"# relay report (4 relays)   \(.server_cpu_us_per_report) µs of server CPU per report, \(.server_cpu_us_per_check) µs per check it replaces: \(.server_cpu_us_added) µs added; \(.server_cpu_us_per_auth) µs per auth: ratio \(.ratio_to_auth)   (goal ≤ \($g); the whole report \(.ratio_whole_report_to_auth))\n#   per node and hour        \(.reports_per_node_hour) reports (RelayMetricsInterval=\(.interval_s)s) add \(.server_cpu_ms_per_node_hour) ms of server CPU"' "$T/reports.json"
fi
# New connections: rate, p99, each side's CPU per authentication, the ratio to the floor (one-thread floor ×
# cores, as above), and what the pair would do on all the cores at that CPU.
for name in fresh fresh-resume per-auth per-auth-resume; do
        jq -r --arg name "$name" --argjson floor "$(jq .auth_per_s_cores "$T/floor-ecc.json")" --argjson n "$(nproc)" '
                def r1: . * 10 | round / 10;
                def pad(w): . + " " * (w - length);
                ({"fresh": "connection per request", "fresh-resume": "  the same, resumed",
                  "per-auth": "connection per auth", "per-auth-resume": "  the same, resumed"}[$name] | pad(26)) as $head |
                (.server_cpu_us_per_auth + .db_cpu_us_per_auth) as $srv |
                "# \($head)\(.auth_per_s) auth/s, p99 \(.p99_ms) ms, CPU per auth server \($srv * 10 | round / 10) µs" +
                (if .db_cpu_us_per_auth > 0 then " (database \(.db_cpu_us_per_auth))" else "" end) +
                ", client \(.client_cpu_us_per_auth) µs; ratio \(.auth_per_s / $floor * 1000 | round / 1000); pair capacity \($n * 1e6 / ($srv + .client_cpu_us_per_auth) | round) auth/s"' \
                "$T/$name.json"
done
if [[ -n $EVENT_LOGS ]]; then
        echo "# event logs per auth       $(jq .event_logs_us "$T/floor-ecc.json") µs in the floor (decode, parse, checks, replay)"
        echo "# without event logs        $(jq .auth_per_s "$T/nologs.json") auth/s, server CPU $(jq .server_cpu_us_per_auth "$T/nologs.json") µs/auth; with them: ratio $(awk -v a="$main_rate" -v b="$(jq .auth_per_s "$T/nologs.json")" 'BEGIN { printf "%.3f", a / b }')"
fi
# On PostgreSQL the database's processes are "other processes" to patela-bench: not counted as the machine's sharing.
if awk -v o="$other_cores" -v d="$db_cores" 'BEGIN { exit !(o - d > 0.2) }'; then
        echo "# NOTE: other processes kept $other_cores cores busy during the run: the machine was shared, the numbers are low"
fi
if ((RSA_NODES > 0)); then
        echo "# rsa2048 EKs              $(jq .auth_per_s "$T/rsa.json") auth/s, p99 $(jq .p99_ms "$T/rsa.json") ms, server CPU $(jq .server_cpu_us_per_auth "$T/rsa.json") µs/auth; floor $(jq .us_per_auth "$T/floor-rsa.json") µs; ratio $(ratio "$T/rsa.json" "$T/floor-rsa.json")"
fi
if ((CHECK_DURATION > 0)); then
        # Per kind of connection: the check, its floor (GET /v1/health at the same rate, same connections), their
        # ratio, and the check's own cost over the floor's per request (token hash, query, JSON).
        jq -r --argjson g "$GOAL_CHECK_CPU_PCT" '. as $c | ["fresh", "kept_alive"][] as $m | $c[$m] as $x |
                def pct: . * 100 | round / 100;
                def pad: . + " " * (26 - length);
                ("checks, \($m | sub("_"; "-")), \($c.rate)/s" | pad) as $head |
                "# \($head)\($x.check.server_cpu_pct | pct) % of one core, \($x.check.server_cpu_us_per_request) µs per check, p50 / p99 \($x.check.p50_ms) / \($x.check.p99_ms) ms" +
                (if $m == "fresh" then "   (every node reconnecting: the worst case)" else "   (4 connections)" end) + "\n" +
                "#   health floor            \($x.health.server_cpu_pct | pct) % of one core, \($x.health.server_cpu_us_per_request) µs per request, p50 / p99 \($x.health.p50_ms) / \($x.health.p99_ms) ms\n" +
                "#   check ÷ floor           \($x.cpu_ratio) in CPU; the check itself \(($x.check.server_cpu_us_per_request - $x.health.server_cpu_us_per_request) * 10 | round / 10) µs per request over the floor"' \
                "$T/checks.json"
        # One connection per node: the fleet's steady state, the server holding every node's connection.
        jq -r --argjson g "$GOAL_CHECK_CPU_PCT" '. as $c | $c.per_node as $x |
                def pct: . * 100 | round / 100;
                def pad: . + " " * (26 - length);
                "# \("checks, per-node, \($c.rate)/s" | pad)\($x.check.server_cpu_pct | pct) % of one core, \($x.check.server_cpu_us_per_request) µs per check, p50 / p99 \($x.check.p50_ms) / \($x.check.p99_ms) ms   (goal ≤ \($g) %)\n" +
                "#   connections held        \($x.connections_held) of \($c.nodes), each idle \($x.interval_s) s between checks; \($x.handshakes_window) handshakes in the window (\($x.handshakes_warmup) in the warm-up)\n" +
                "#   server RSS              \($x.server_rss_before_kb) kB before the connections, \($x.server_rss_held_kb) kB holding them (\($x.bytes_per_connection) bytes each), \($x.check.server_rss_max_kb) kB at most in the window, \($x.server_rss_closed_kb) kB once closed"' \
                "$T/checks.json"
        loads='[.fresh.check, .fresh.health, .kept_alive.check, .kept_alive.health, .per_node.check]'
        echo "# server RSS during checks  $(jq -r "$loads | map(.server_rss_max_kb) | max" "$T/checks.json") kB at most; $(jq -r '.nodes' "$T/checks.json") nodes authenticated in $(jq -r '.auth_s' "$T/checks.json") s first"
        if jq -e "$loads | any(.late * 100 > .requests)" "$T/checks.json" >/dev/null; then
                echo "# NOTE: more than 1 % of the requests of a load started over 10 ms late: the client did not keep the pace"
        fi
        if jq -e "$loads | map(.other_cores) | max > 0.2" "$T/checks.json" >/dev/null; then
                echo "# NOTE: other processes kept up to $(jq -r "$loads | map(.other_cores) | max" "$T/checks.json") cores busy during the checks: the machine was shared"
        fi
fi

[[ -f $T/nologs.json ]] || echo 'null' >"$T/nologs.json"
jq -cn --slurpfile m "$T/main.json" --slurpfile f "$T/floor-ecc.json" --slurpfile fa "$T/floor-ecc-after.json" \
        --slurpfile fr "$T/fresh.json" --slurpfile nl "$T/nologs.json" --slurpfile ck "$T/checks.json" \
        --slurpfile rp "$T/reports.json" --slurpfile cr "$T/credential.json" --slurpfile fc "$T/floor-ecc-credential.json" \
        --slurpfile frr "$T/fresh-resume.json" --slurpfile pa "$T/per-auth.json" --slurpfile par "$T/per-auth-resume.json" \
        --argjson rss_idle "$RSS_IDLE" --argjson rss_max "$RSS_MAX" --argjson rss_after "$RSS_AFTER" \
        --argjson rss_hwm "$RSS_HWM" --argjson nodes "$NODES" --argjson capacity "$capacity" \
        --argjson pair_capacity "$pair_capacity" --argjson server_threads "$SERVER_THREADS" \
        --argjson fresh_threads "$FRESH_THREADS" \
        --arg backend "$BACKEND" --argjson server_db_cpu_us "$srv_cpu_us" \
        '{benchmark: "server-auth", backend: $backend, server_and_db_cpu_us_per_auth: $server_db_cpu_us, nodes: $nodes, server_threads: $server_threads, fresh_threads: $fresh_threads, run: $m[0], floor: $f[0], floor_after: $fa[0], fresh: $fr[0],
          without_event_logs: $nl[0], checks: $ck[0], relay_reports: $rp[0],
          fresh_resumed: $frr[0], per_auth: $pa[0], per_auth_resumed: $par[0],
          credential_each_time: $cr[0], floor_credential_each_time: $fc[0],
          rss_kb: {idle: $rss_idle, max: $rss_max, after: $rss_after, hwm: $rss_hwm},
          ratio: ($m[0].auth_per_s / $f[0].auth_per_s_cores),
          ratio_parallel_floor: ($m[0].auth_per_s / $f[0].parallel_auth_per_s), server_only_capacity: $capacity,
          pair_capacity: $pair_capacity,
          floor_share_of_server_cpu: ($f[0].us_per_auth / $server_db_cpu_us)}'

met=1
awk -v r="$main_rate" -v g="$GOAL_RATE" 'BEGIN { exit !(r >= g) }' || { echo "# goal missed: auth/s"; met=0; }
awk -v p="$main_p99" -v g="$GOAL_P99_MS" 'BEGIN { exit !(p < g) }' || { echo "# goal missed: p99"; met=0; }
((RSS_HWM <= GOAL_RSS_KB)) || { echo "# goal missed: RSS"; met=0; }
if ((REPORTS > 0)); then
        jq -e --argjson g "$GOAL_REPORT_RATIO" '.ratio_to_auth <= $g' "$T/reports.json" >/dev/null ||
                { echo "# goal missed: a relay report costs more than $GOAL_REPORT_RATIO of an authentication"; met=0; }
fi
# Issue 15: the server's CPU per kept-alive authentication (with the database's, on PostgreSQL), and a node's
# pattern for new connections, one per authentication, resumed: measured with the load generator on the same
# cores, and what the server alone would do (the cores ÷ its CPU per authentication).
awk -v c="$srv_cpu_us" -v g="$GOAL_KEPT_ALIVE_CPU_US" 'BEGIN { exit !(c <= g) }' || {
        echo "# goal missed: server CPU per kept-alive authentication $srv_cpu_us µs, above $GOAL_KEPT_ALIVE_CPU_US"
        met=0
}
fresh_alone=$(jq -r --argjson n "$(nproc)" \
        '$n * 1e6 / (.server_cpu_us_per_auth + .db_cpu_us_per_auth) | floor' "$T/per-auth-resume.json")
jq -e --argjson g "$GOAL_FRESH_RATE" '.auth_per_s >= $g' "$T/per-auth-resume.json" >/dev/null || {
        echo "# goal missed: a new connection per authentication, resumed, below $GOAL_FRESH_RATE auth/s" \
                "($(jq -r .auth_per_s "$T/per-auth-resume.json") measured; the server alone $fresh_alone auth/s)"
        met=0
}
if ((CHECK_DURATION > 0)); then
        # The goal is for 10,000 nodes (333/s) each keeping its connection: another rate is scaled to it. Fresh
        # connections (every node reconnecting) are the worst case, reported but not the goal.
        jq -e --argjson g "$GOAL_CHECK_CPU_PCT" '.per_node.check.server_cpu_pct * 333 / .rate <= $g' "$T/checks.json" >/dev/null ||
                { echo "# goal missed: checks over one connection per node cost more than $GOAL_CHECK_CPU_PCT % of one core"; met=0; }
        jq -e '.per_node.connections_held >= .nodes and .per_node.handshakes_window == 0' "$T/checks.json" >/dev/null ||
                { echo "# goal missed: the server did not hold every node's connection between its checks"; met=0; }
fi
((met)) && pass "all goals met"
if [[ ${PATELA_BENCH_STRICT:-0} == 1 && $met == 0 ]]; then
        fail "goals missed (PATELA_BENCH_STRICT=1)"
fi
exit 0
