#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-configd when things go wrong: attestd missing, a server certificate from another CA, a server that
# speaks TLS 1.2 only, the server under a wrong path (404), a relay whose keys keyd refuses and a relay
# whose torrc configd refuses, next to a relay that works. configd keeps running,
# says why, retries, and never lets one relay hold up another.
source "$PATELA_SOURCE_DIR/test/integration/test-configd-lib.sh"

# openssl_server TLS_FLAG: openssl s_server with the patela server certificate; sets OSSL_URL.
openssl_server() {
        local flag=$1 port i
        for ((i = 0; i < 20; i++)); do
                port=$(random_port)
                : >"$T/openssl.log"
                openssl s_server -accept "127.0.0.1:$port" -cert "$T/ca/server.crt" -key "$T/ca/server.key" \
                        "$flag" -www </dev/null >>"$T/openssl.log" 2>&1 &
                OSSL_PID=$!
                PIDS+=("$OSSL_PID")
                while kill -0 "$OSSL_PID" 2>/dev/null && ! grep -q ACCEPT "$T/openssl.log"; do
                        sleep 0.05
                done
                if kill -0 "$OSSL_PID" 2>/dev/null; then
                        OSSL_URL=https://127.0.0.1:$port
                        return 0
                fi
        done
        fail "openssl s_server did not start: $(cat "$T/openssl.log")"
}

openssl_server_stop() {
        kill "$OSSL_PID" 2>/dev/null || true
        wait "$OSSL_PID" 2>/dev/null || true
}

# wait_attempts N: until GetStatus counts at least N failed cycles.
wait_attempts() {
        local i
        for ((i = 0; i < 400; i++)); do
                configd_alive || fail "patela-configd died: $(tail -20 "$T/configd.log")"
                [[ $(status | jq -r .failedAttempts) -ge $1 ]] && return 0
                sleep 0.05
        done
        fail "fewer than $1 failed attempts: $(cat "$T/status.json")"
}

ca_setup
# "nobody" is a valid relay name and an existing user: with RelayUser=%n, keyd accepts that relay and
# refuses exitB, whose user does not exist.
ps_cli pool add names nobody exitB >/dev/null
ps_cli pool add ipv4 192.0.2.20 192.0.2.21 >/dev/null
server_start
node_start
configd_config

# patela-attestd is not there: configd says so and retries.
configd_start --attest-socket="$T/nonexistent.sock"
wait_attempts 2
[[ $(jq -r .phase "$T/status.json") == starting ]] || fail "phase: $(cat "$T/status.json")"
grep -q "patela-attestd" <<<"$(jq -r .lastError "$T/status.json")" || fail "error: $(cat "$T/status.json")"
cv Refresh >"$T/refresh.out" 2>&1 && fail "Refresh without attestd succeeded"
grep -q "io.patela.Config.Failed" "$T/refresh.out" || fail "Refresh without attestd: $(cat "$T/refresh.out")"
configd_stop
pass "no attestd: phase starting, $(jq -r .lastError "$T/status.json"), retried"

# A certificate from another CA: the pinned CA is the only trust anchor. Nothing reaches the API.
mkdir -p "$T/other-ca"
ps_cli ca init --dir "$T/other-ca" >/dev/null 2>&1
cp "$T/other-ca/ca.crt" "$T/creds/patela.ca"
configd_start
wait_phase unreachable 20
grep -qiE "certificate|SSL" <<<"$(jq -r .lastError "$T/status.json")" || fail "error: $(cat "$T/status.json")"
[[ $(db_count nodes) == 0 ]] || fail "a node was created through an untrusted connection"
configd_stop
pass "server certificate from another CA refused: $(jq -r .lastError "$T/status.json")"
cp "$T/ca/ca.crt" "$T/creds/patela.ca"

# TLS 1.2 only: refused at the handshake, although the certificate is right.
openssl_server -tls1_2
printf '%s\n' "$OSSL_URL" >"$T/creds/patela.server-url"
configd_start
wait_phase unreachable 20
grep -qiE "SSL|TLS" <<<"$(jq -r .lastError "$T/status.json")" || fail "error: $(cat "$T/status.json")"
configd_stop
openssl_server_stop
pass "TLS 1.2 server refused: $(jq -r .lastError "$T/status.json")"

# configd's ClientHello offers the groups patela-server negotiates (PROTO_TLS_GROUPS) with one key share, X25519's:
# not OpenSSL's default X25519MLKEM768 share, 1,216 bytes that GnuTLS cannot use and hashes in every handshake.
openssl_server -trace
printf '%s\n' "$OSSL_URL" >"$T/creds/patela.server-url"
configd_start
for ((i = 0; i < 200; i++)); do
        grep -q "key_share" "$T/openssl.log" && break
        sleep 0.05
done
configd_stop
openssl_server_stop
# extension_lines NAME: the lines of the ClientHello's extension NAME in the trace, up to the next extension.
extension_lines() {
        awk -v e="extension_type=$1(" 'index($0, e) { on = 1; next } on && /extension_type=/ { exit } on' \
                "$T/openssl.log"
}
shares=$(extension_lines key_share | awk '/NamedGroup:/ { print $2 }' | paste -sd' ')
[[ $shares == ecdh_x25519 ]] ||
        fail "configd's key shares: '$shares', not ecdh_x25519 alone; $(extension_lines supported_groups)"
groups=$(extension_lines supported_groups | awk '{ print $1 }' | paste -sd' ')
[[ $groups == "ecdh_x25519 secp256r1 secp384r1" ]] || fail "configd's supported groups: '$groups'"
pass "configd's ClientHello: one key share ($shares), groups $groups"

# The right server under a wrong path: a well-formed 404 is an unreachable server, not a refusal.
printf '%s/not-patela\n' "$URL" >"$T/creds/patela.server-url"
configd_start
wait_phase unreachable 20
[[ $(jq -r .lastErrorCode "$T/status.json") == NotFound ]] || fail "error: $(cat "$T/status.json")"
grep -q "HTTP 404" <<<"$(jq -r .lastError "$T/status.json")" || fail "error: $(cat "$T/status.json")"
configd_stop
pass "a 404 from the server is unreachable, not refused: $(jq -r .lastError "$T/status.json")"

# The real server. One relay's keys are refused by keyd (no such user): the other relay runs.
printf '%s\n' "$URL" >"$T/creds/patela.server-url"
configd_start --relay-user=%n
wait_phase pending 20
fp=$(jq -r .fingerprint "$T/status.json")
ps_cli node relays "$fp" 2 >/dev/null
ps_cli node enable "$fp" >/dev/null
cv Refresh >"$T/refresh.json" || fail "Refresh: $(cat "$T/refresh.json")"
[[ $(jq -r '.phase + " " + (.applied | tostring) + " " + (.failed | tostring)' "$T/refresh.json") == "running 1 1" ]] ||
        fail "Refresh: $(cat "$T/refresh.json")"
status >/dev/null
[[ $(relay_field nobody state) == applied && $(relay_field exitB state) == failed ]] || fail "states: $(cat "$T/status.json")"
grep -q "patela-keyd" <<<"$(relay_field exitB error)" || fail "exitB's error: $(relay_field exitB error)"
grep -q "asking for each relay alone" "$T/configd.log" || fail "no per-relay retry after the batch failed"
[[ $(our_files "$TORRC_DIR" .torrc) == nobody.torrc ]] || fail "files: $(ls "$TORRC_DIR")"
tor_check nobody
pass "keyd refuses exitB ($(relay_field exitB error)); relay nobody is configured and tor agrees on its keys"

# A torrc that sets what configd owns fails that relay alone; its last good files stay.
cp "$TORRC_DIR/nobody.torrc" "$T/nobody.good"
ps_cli torrc set DataDirectory /var/lib/elsewhere relay --id nobody >/dev/null
cv Refresh >"$T/refresh.json" || fail "Refresh: $(cat "$T/refresh.json")"
status >/dev/null
[[ $(relay_field nobody state) == failed ]] || fail "nobody: $(cat "$T/status.json")"
reason=$(relay_field nobody error)
grep -q "DataDirectory is set by patela-configd" <<<"$reason" || fail "error: $reason"
cmp -s "$T/nobody.good" "$TORRC_DIR/nobody.torrc" || fail "the last good torrc was changed"
ps_cli torrc clear DataDirectory relay --id nobody >/dev/null
[[ $(cv Refresh | jq -r .applied) == 1 ]] || fail "Refresh after the fix"
status >/dev/null
[[ $(relay_field nobody state) == applied ]] || fail "nobody after the fix: $(cat "$T/status.json")"
configd_alive || fail "configd died"
pass "a torrc setting DataDirectory fails that relay alone ($reason), its last good torrc kept; fixed on the server, applied again"

# A hostile (or compromised) server cannot run code on the node, point tor at a path, or open a listener
# beyond loopback (issue 11, item 8): each such torrc fails the relay alone, with the reason, and its last
# good torrc stays. (The server stores them: they are valid tor options.)
cp "$TORRC_DIR/nobody.torrc" "$T/nobody.good"
while IFS='|' read -r option value needle; do
        ps_cli torrc set "$option" "$value" relay --id nobody >/dev/null || fail "torrc set $option $value"
        cv Refresh >/dev/null 2>&1 || true
        status >/dev/null
        reason=$(relay_field nobody error)
        [[ $(relay_field nobody state) == failed ]] && grep -q "$needle" <<<"$reason" ||
                fail "$option $value: $(relay_field nobody state): $reason"
        cmp -s "$T/nobody.good" "$TORRC_DIR/nobody.torrc" || fail "$option $value: the last good torrc was changed"
        ps_cli torrc clear "$option" relay --id nobody >/dev/null
        echo "# $option $value: $reason" >&2
done <<'VECTORS'
ServerTransportPlugin|obfs4 exec /bin/sh -c id|runs a program on the node
Log|notice file /etc/cron.d/patela|writes to a file on the node
ControlPort|0.0.0.0:9051|must be 0 or on a loopback address
SocksPort|0.0.0.0:9050|must be 0 or on a loopback address
PidFile|/etc/passwd|names a path on the node
VECTORS
[[ $(cv Refresh | jq -r .applied) == 1 ]] || fail "Refresh after the hostile options were cleared"
configd_alive || fail "configd died"
pass "a server's ServerTransportPlugin exec, Log to a file, ControlPort/SocksPort beyond loopback, PidFile: the relay fails alone, its last good torrc kept"

# Without any Refresh: the periodic re-attestation (here every 2 s ±10 %) picks up a change on the server.
configd_stop
configd_start --relay-user=%n --reattest-interval=2s
wait_phase running 20
first=$(jq -r .lastAttestation "$T/status.json")
attestations=$(db_count attestations)
ps_cli node relays "$fp" 1 >/dev/null
for ((i = 0; i < 200; i++)); do
        [[ $(status | jq -r .lastAttestation) != "$first" && $(jq -r '[.relays[].name] | join(",")' "$T/status.json") == nobody ]] &&
                break
        sleep 0.05
done
[[ $(jq -r '[.relays[].name] | join(",")' "$T/status.json") == nobody ]] || fail "not re-attested: $(cat "$T/status.json")"
[[ $(db_count attestations) -gt $attestations ]] || fail "the server saw no new attestation"
[[ $(jq -r '.phase + " " + (.failedAttempts | tostring)' "$T/status.json") == "running 0" ]] || fail "$(cat "$T/status.json")"
pass "periodic re-attestation without Refresh: a new attestation at the server, exitB's removal applied"

# A stranger who knows the node's public areas (they are not secret) holds all of its challenge slots: the
# node cannot attest for a while, but that is no refusal of the node — the relays keep running.
node_identity
for i in 1 2 3 4 5; do
        http POST /v1/enroll "$T/enroll.json" >/dev/null
done
[[ $HTTP_STATUS == 429 ]] || fail "the stranger's fifth enrolment: HTTP $HTTP_STATUS"
cv Refresh >"$T/refresh.out" 2>&1 && fail "Refresh succeeded with every challenge slot taken"
grep -q "io.patela.Config.Unreachable" "$T/refresh.out" || fail "Refresh: $(cat "$T/refresh.out")"
status >/dev/null
[[ $(jq -r '.phase + " " + .lastErrorCode' "$T/status.json") == "unreachable RateLimited" ]] || fail "$(cat "$T/status.json")"
[[ $(our_files "$TORRC_DIR" .torrc) == nobody.torrc && $(relay_field nobody state) == applied ]] ||
        fail "the relay went: $(ls "$TORRC_DIR"; cat "$T/status.json")"
pass "a stranger holding the node's challenge slots: unreachable (RateLimited), the relay and its files stay"
configd_stop
server_stop

# ManageUnits=yes and a TorrcDirectory= that patela-tor@.service does not read: refused at start, never a
# node whose relays silently do not start.
rc=0
CREDENTIALS_DIRECTORY=$T/creds "$CONFIGD_BIN" --config="$T/patela.conf" --listen="$T/other.sock" \
        --attest-socket="$ATTESTD_SOCK" --keys-socket="$KEYD_SOCK" --state-directory="$T/run" \
        --torrc-directory="$T/elsewhere" --network-directory="$NETWORK_DIR" >"$T/mismatch.log" 2>&1 || rc=$?
[[ $rc != 0 ]] || fail "configd started with TorrcDirectory=$T/elsewhere and managed units"
grep -q "but patela-tor@.service reads the torrc from /run/patela/torrc" "$T/mismatch.log" ||
        fail "no clear error: $(cat "$T/mismatch.log")"
[[ ! -e $T/other.sock ]] || fail "configd listened before refusing"
pass "TorrcDirectory= other than the tor unit's with ManageUnits=yes: refused at start, saying why"
