#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-configd resumes its TLS sessions: against a real patela-server (its handshakes counted in /metrics), a
# node made of swtpm, patela-attestd and patela-keyd boots to running over full handshakes; the server then
# closes idle connections after 5 s (IdleTimeout=5s) while the node checks every 8 s (CheckInterval=8s), so
# each check and the re-attestation that follows needs a new connection: each one resumes the session of the
# server's last ticket (libcurl's session cache, shared by all of configd's requests), none makes a full
# handshake. A restarted server (a new ticket key, in memory only) makes configd fall back to a full handshake.
source "$PATELA_SOURCE_DIR/test/integration/test-configd-lib.sh"

openssl rand -base64 32 >"$T/metrics-token"
chmod 600 "$T/metrics-token"
mport=$(random_port)
server_args=(--check-interval=8s --idle-timeout=5s --metrics-listen="127.0.0.1:$mport"
        --metrics-token-file="$T/metrics-token")
MURL=https://127.0.0.1:$mport

# handshakes RESUMED: the server's count of completed handshakes on the nodes' listener.
handshakes() {
        curl -sS --cacert "$T/ca/ca.crt" -H "Authorization: Bearer $(cat "$T/metrics-token")" "$MURL/metrics" |
                awk -v k="patela_tls_handshakes_total{resumed=\"$1\"}" '$1 == k { print $2 }'
}

fleet_setup
server_start "${server_args[@]}"
node_start
configd_config
configd_start
wait_phase pending 20
fp=$(jq -r .fingerprint "$T/status.json")
ps_cli node enable "$fp" >/dev/null
wait_phase running 30
full=$(handshakes false) resumed=$(handshakes true)
((full >= 1)) || fail "no full handshake counted: $full"
pass "running; the server counted $full full and $resumed resumed handshakes"

# Two checks, each after the server closed the idle connection.
sleep 18
full2=$(handshakes false) resumed2=$(handshakes true)
((resumed2 >= resumed + 2)) || fail "configd's new connections did not resume: resumed $resumed → $resumed2, full $full → $full2"
((full2 == full)) || fail "configd made full handshakes after the first: $full → $full2 (resumed $resumed → $resumed2)"
[[ $(status | jq -r .phase) == running ]] || fail "not running: $(cat "$T/status.json")"
pass "each new connection resumed: $((resumed2 - resumed)) resumed, no full handshake (server-side idle close every check)"

# A re-attestation on a new connection resumes too.
cv Refresh >/dev/null || fail "Refresh failed"
wait_phase running 30
sleep 6
cv Refresh >/dev/null || fail "Refresh failed"
wait_phase running 30
full3=$(handshakes false) resumed3=$(handshakes true)
((resumed3 > resumed2 && full3 == full)) || fail "re-attestation: resumed $resumed2 → $resumed3, full $full → $full3"
pass "re-attestation over a new connection resumed"

# A restarted server has another ticket key: configd's ticket is refused, a full handshake, then resumption.
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
port=${URL##*:}
"$SERVER_BIN" --database="$DB" --listen="127.0.0.1:$port" --certificate="$T/ca/server.crt" \
        --private-key="$T/ca/server.key" "${server_args[@]}" run >>"$T/server2.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for ((i = 0; i < 100; i++)); do
        grep -q "Listening on" "$T/server2.log" && break
        sleep 0.05
done
grep -q "Listening on" "$T/server2.log" || fail "the server did not restart: $(tail -5 "$T/server2.log")"
sleep 18
full4=$(handshakes false) resumed4=$(handshakes true)
((full4 >= 1 && resumed4 >= 1)) || fail "after the restart: full $full4, resumed $resumed4"
[[ $(status | jq -r .phase) == running ]] || fail "not running after the restart: $(cat "$T/status.json")"
pass "a restarted server (new key): $full4 full handshake(s), then $resumed4 resumed"
configd_stop
