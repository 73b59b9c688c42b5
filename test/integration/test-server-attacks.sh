#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Each attack on enrolment, attestation and sessions is refused with a clear error, and nothing is written
# (no node, session or relay row, no accepted attestation; challenges are not stored: server-challenge.h).
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

ca_setup
ps_cli pool add names relayOne relayTwo relayThree
server_start --challenge-lifetime=2s --session-lifetime=2s --max-body-size=8192 --max-pending-nodes=2 --enroll-rate=100

swtpm_start
attestd_start
node_identity

snapshot() {
        echo "$(db_count nodes) $(db_count sessions) $(db_count relays) $(db_query "SELECT COUNT(*) FROM attestations WHERE verdict = 'accepted'")"
}
unchanged() {
        local now
        now=$(snapshot)
        [[ $now == "$1" ]] || fail "$2: database changed from ($1) to ($now)"
}

# --- malformed requests -------------------------------------------------------------------------------
before=$(snapshot)
printf '{"ekPublic": "AAEC", ' >"$T/bad.json"
http POST /v1/enroll "$T/bad.json" >/dev/null; expect_error 400 MalformedJson
printf '[1,2,3]' >"$T/bad.json"
http POST /v1/enroll "$T/bad.json" >/dev/null; expect_error 400 MalformedJson
printf '{"a":1} {"b":2}' >"$T/bad.json"
http POST /v1/enroll "$T/bad.json" >/dev/null; expect_error 400 MalformedJson
head -c 20000 /dev/zero | tr '\0' ' ' >"$T/big.json"
http POST /v1/enroll "$T/big.json" >/dev/null; expect_error 413 BodyTooLarge
jq -c '. + {"akName": "000b0000"}' "$T/enroll.json" >"$T/bad.json"
http POST /v1/enroll "$T/bad.json" >/dev/null; expect_error 400 UnknownField
jq -c '.ekPublic = "not base64!"' "$T/enroll.json" >"$T/bad.json"
http POST /v1/enroll "$T/bad.json" >/dev/null; expect_error 400 InvalidField
jq -c 'del(.akPublic)' "$T/enroll.json" >"$T/bad.json"
http POST /v1/enroll "$T/bad.json" >/dev/null; expect_error 400 MissingField
unchanged "$before" "malformed requests"
pass "malformed, oversized, trailing and unknown-field JSON refused; nothing written"

# --- a non-restricted AK, and an AK name that does not belong to the AK public ----------------------
jq -r .akPublic "$T/enroll.json" | base64 -d >"$T/ak.pub"
printf '\x04' | dd of="$T/ak.pub" bs=1 seek=7 conv=notrunc status=none # attributes 0x00050072 → 0x00040072
jq -c --arg ak "$(base64 -w0 "$T/ak.pub")" '.akPublic = $ak' "$T/enroll.json" >"$T/bad.json"
http POST /v1/enroll "$T/bad.json" >/dev/null; expect_error 400 AkRejected
jq -c '.akPublic = .ekPublic' "$T/enroll.json" >"$T/bad.json"
http POST /v1/enroll "$T/bad.json" >/dev/null; expect_error 400 AkRejected
unchanged "$before" "bad AK"
pass "non-restricted AK and an EK posing as AK refused; the server takes no AK name from the client"

expect_exit() {
        local want=$1 rc=0
        shift
        ps_cli "$@" >"$T/cli.out" 2>&1 || rc=$?
        [[ $rc == "$want" ]] || fail "patela-server $*: exit $rc, expected $want: $(cat "$T/cli.out")"
}

# --- a stranger with the public areas alone: no pending row (issue 11, item 3) ----------------------------
# The public areas are not secret. An identity the server does not know gets a proof challenge; only the
# TPM that holds the EK and AK recovers its secret, and only then does a pending node exist.
n=$(db_count nodes)
http POST /v1/enroll "$T/enroll.json" >"$T/prove.json"
[[ $HTTP_STATUS == 200 && $(jq -r .state "$T/prove.json") == prove ]] || fail "new identity: HTTP $HTTP_STATUS $(cat "$T/prove.json")"
[[ $(db_count nodes) == "$n" ]] || fail "an enrolment without a proof created a node"
jq -n --arg c "$(jq -r .challenge "$T/prove.json")" --arg s "$(head -c 32 /dev/urandom | base64 -w0)"         '{challenge: $c, secret: $s}' >"$T/proof.json"
http POST /v1/enroll/proof "$T/proof.json" >/dev/null; expect_error 403 SecretMismatch
[[ $(db_count nodes) == "$n" ]] || fail "a wrong proof created a node"
http POST /v1/enroll/proof "$T/proof.json" >/dev/null; expect_error 403 ChallengeUnknown
[[ $(db_count enrolment_proofs) == 0 ]] || fail "the answered proof challenge is still open"
pass "public areas alone: a proof challenge, no node; a wrong secret is 403 SecretMismatch and uses the challenge up"

# --- enable the genuine node ----------------------------------------------------------------------------
node_prove
[[ $HTTP_STATUS == 202 && $(jq -r .state "$T/http.body") == pending ]] || fail "proof: HTTP $HTTP_STATUS $(cat "$T/http.body")"
expect_exit 2 node enable 1
grep -q "enable it by the fingerprint" "$T/cli.out" || fail "node enable 1: $(cat "$T/cli.out")"
[[ $(db_query "SELECT state FROM nodes WHERE id = 1") == pending ]] || fail "node enable by id enabled a pending node"
ps_cli node enable "$(jq -r .fingerprint "$T/id.json" | tr 'A-Z' 'a-z')" >/dev/null
pass "the TPM's proof makes the node pending; node enable of a pending node needs its fingerprint, not its id"
id_before=$(snapshot)

# --- a quote over another nonce (replay) ----------------------------------------------------------------
node_challenge
node_answer "$(head -c 32 /dev/urandom | base64 -w0)"
before=$(snapshot)
http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 QuoteRejected
grep -q replay "$T/http.body" || fail "reason does not say replay: $(cat "$T/http.body")"
[[ $(db_count sessions) == 0 ]] || fail "session after a replayed quote"
pass "quote over another nonce refused (replay)"

# --- a quote signed by another TPM's AK ---------------------------------------------------------------
node_challenge
node_answer
cp "$T/attest.json" "$T/genuine.json"
attestd_stop
swtpm_start other
attestd_start
q=$(vl Quote "$(jq -c '{nonce, pcrs, bank}' "$T/challenge.json")")
jq --argjson q "$q" '.quoted = $q.quoted | .signature = $q.signature | .pcrValues = $q.pcrValues' "$T/genuine.json" >"$T/attest.json"
http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 QuoteRejected
grep -q "AK" "$T/http.body" || fail "reason does not name the AK: $(cat "$T/http.body")"
[[ $(db_count sessions) == 0 ]] || fail "session after a foreign quote"
pass "quote signed by another TPM's AK refused"
attestd_stop
swtpm_power_cycle tpm
attestd_start

# --- the secret of another credential: refused, and the challenge stays the node's --------------------------
# Anyone who learns a challenge id can send a wrong answer; it must not void the node's challenge, and the
# attestation log takes at most 4 refused answers per node and ChallengeLifetime=.
node_challenge
node_answer
logged=$(db_count attestations)
for i in 1 2 3 4 5 6; do
        jq -c --arg s "$(head -c 32 /dev/urandom | base64 -w0)" '.secret = $s' "$T/attest.json" >"$T/bad.json"
        http POST /v1/attest "$T/bad.json" >/dev/null; expect_error 403 SecretMismatch
done
[[ $(db_count attestations) == $((logged + 4)) ]] ||
        fail "6 wrong answers logged $(($(db_count attestations) - logged)) rejections, expected 4"
http POST /v1/attest "$T/attest.json" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "the node's answer after 6 wrong ones: HTTP $HTTP_STATUS $(cat "$T/http.body")"
pass "a wrong credential secret is refused, does not void the challenge, and at most 4 refusals per lifetime are logged"

# --- a credential answered twice ------------------------------------------------------------------------
node_challenge
node_answer
http POST /v1/attest "$T/attest.json" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "genuine attestation failed: $(cat "$T/http.body")"
sessions=$(db_count sessions)
http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 ChallengeUnknown
[[ $(db_count sessions) == "$sessions" ]] || fail "a second answer created a session"
pass "a challenge answered twice: the second answer is refused"

# --- a challenge id: its node (8 bytes), its time (8) and the server's tag (16): any change is unknown ------------
node_challenge
node_answer
jq -c --arg r "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" '.challenge = .challenge[0:32] + $r' \
        "$T/attest.json" >"$T/bad.json"
http POST /v1/attest "$T/bad.json" >/dev/null; expect_error 403 ChallengeUnknown
jq -c '.challenge = "0000000000000002" + .challenge[16:64]' "$T/attest.json" >"$T/bad.json"
http POST /v1/attest "$T/bad.json" >/dev/null; expect_error 403 ChallengeUnknown
# One millisecond later, same tag.
t=$(jq -r '.challenge[16:32]' "$T/attest.json")
jq -c --arg t "$(printf '%016x' $((16#$t + 1)))" '.challenge = .challenge[0:16] + $t + .challenge[32:64]' \
        "$T/attest.json" >"$T/bad.json"
http POST /v1/attest "$T/bad.json" >/dev/null; expect_error 403 ChallengeUnknown
http POST /v1/attest "$T/attest.json" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "the real challenge's answer after the guesses: HTTP $HTTP_STATUS $(cat "$T/http.body")"
pass "a challenge id with another tag, under another node's id or with another time is unknown"

# --- answered after expiry (ChallengeLifetime=2s) -------------------------------------------------------
node_challenge
node_answer
sleep 2.5
http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 ChallengeExpired
http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 ChallengeExpired
pass "a challenge answered after its 2 s lifetime is refused, every time"

# --- a stranger with the node's public areas cannot void its challenge (issue 11, item 2) --------------------
# The public areas are not secret: anyone can POST them. Before, each enrolment replaced the node's open
# challenge, so the node's answer was refused. Now a node has up to 4 open challenges, and a fifth
# enrolment is a 429 that takes nothing away.
node_challenge
cp "$T/challenge.json" "$T/node-challenge.json"
for i in 1 2 3; do
        http POST /v1/enroll "$T/enroll.json" >"$T/stranger-$i.json"
        [[ $HTTP_STATUS == 200 ]] || fail "stranger's enrolment $i: HTTP $HTTP_STATUS $(cat "$T/http.body")"
done
logged=$(db_count attestations)
http POST /v1/enroll "$T/enroll.json" >/dev/null; expect_error 429 RateLimited
[[ $(db_count attestations) == "$logged" ]] || fail "the refused enrolment changed something"
cp "$T/node-challenge.json" "$T/challenge.json"
node_answer
http POST /v1/attest "$T/attest.json" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "the node's answer after a stranger's enrolments: HTTP $HTTP_STATUS $(cat "$T/http.body")"
# The answered challenge is no longer open (the strangers' three still are): one more, then 429 again.
http POST /v1/enroll "$T/enroll.json" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "an enrolment after the answer: HTTP $HTTP_STATUS $(cat "$T/http.body")"
http POST /v1/enroll "$T/enroll.json" >/dev/null; expect_error 429 RateLimited
sleep 2.5
node_challenge
pass "three strangers' enrolments with the node's public areas leave its challenge answerable; a fifth open challenge is a 429; answered and expired ones free their place"

# --- tokens: expiry, disable, garbage -------------------------------------------------------------------
node_session
http GET /v1/node/relays "" "Authorization: Bearer $TOKEN" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "fresh token refused"
sleep 2.5
http GET /v1/node/relays "" "Authorization: Bearer $TOKEN" >/dev/null; expect_error 401 TokenRejected
pass "token refused after its 2 s lifetime"

node_session
node_challenge
node_answer
ps_cli node disable 1
http GET /v1/node/network "" "Authorization: Bearer $TOKEN" >/dev/null; expect_error 401 TokenRejected
[[ $(db_count sessions) == 0 ]] || fail "disable left sessions"
http POST /v1/enroll "$T/enroll.json" >/dev/null; expect_error 403 NodeDisabled
http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 ChallengeUnknown
pass "token dead the moment the node is disabled; a disabled node gets no challenge, its open one is void"
ps_cli node enable 1
http GET /v1/node/network "" "Authorization: Bearer $TOKEN" >/dev/null; expect_error 401 TokenRejected
http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 ChallengeUnknown
pass "re-enabling revives neither the old token nor a challenge issued before the disable"

http GET /v1/node/relays "" "Authorization: Bearer AAAA" >/dev/null; expect_error 401 TokenRejected
http GET /v1/node/relays "" >/dev/null; expect_error 401 TokenMissing
http GET /v1/node/relays "" "Authorization: Bearer $(head -c 3000 /dev/zero | base64 -w0)" >/dev/null; expect_error 401 TokenRejected
pass "missing, short and oversized tokens refused"

# A token names its node in its first 8 bytes (the row's key); the rest must be the session's own: the node's id
# with other random bytes, or the real token under another id, is refused.
node_session
forged=$({ base64 -d <<<"$TOKEN" | head -c 8; head -c 24 /dev/urandom; } | base64 -w0)
http GET /v1/node/relays "" "Authorization: Bearer $forged" >/dev/null; expect_error 401 TokenRejected
http GET /v1/node/check "" "Authorization: Bearer $forged" >/dev/null; expect_error 401 TokenRejected
moved=$({ printf '\0\0\0\0\0\0\0\2'; base64 -d <<<"$TOKEN" | tail -c 24; } | base64 -w0)
http GET /v1/node/relays "" "Authorization: Bearer $moved" >/dev/null; expect_error 401 TokenRejected
zero=$({ head -c 8 /dev/zero; base64 -d <<<"$TOKEN" | tail -c 24; } | base64 -w0)
http GET /v1/node/check "" "Authorization: Bearer $zero" >/dev/null; expect_error 401 TokenRejected
http GET /v1/node/relays "" "Authorization: Bearer $TOKEN" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "the real token refused after the forgeries: HTTP $HTTP_STATUS"
pass "a token with its node's id and other random bytes, or moved to another id or to 0, is refused; the real one works"

# --- nothing from a request reaches the journal unescaped ---------------------------------------------------
# libmicrohttpd unescapes the URL before the server logs it: %0a<0> would start a forged entry at priority 0.
curl -sS --cacert "$T/ca/ca.crt" -o /dev/null "$URL/v1/x%0a<0>forged%0d%1b%7f" || fail "curl of a URL with controls"
grep -q '^<0>forged' "$T/server.log" && fail "a forged log line: $(grep -n forged "$T/server.log")"
grep -qF 'x\x0a<0>forged\x0d\x1b\x7f' "$T/server.log" || fail "the URL is not logged escaped: $(grep -n forged "$T/server.log")"
[[ $(grep -c forged "$T/server.log") == 1 ]] || fail "the request took more than one log line"
pass "a URL with newline, CR, ESC and DEL is logged on one line, escaped (no forged journal entry)"

# --- more sockets than the server serves -----------------------------------------------------------------------
listen=()
for i in $(seq 1 17); do
        listen+=(--listen="$T/sock$i")
done
systemd-socket-activate "${listen[@]}" "$SERVER_BIN" --database="$DB" --certificate="$T/ca/server.crt" \
        --private-key="$T/ca/server.key" run >"$T/many.log" 2>&1 &
activate=$!
PIDS+=("$activate")
wait_for_socket "$T/sock1"
curl -sS --max-time 5 --unix-socket "$T/sock1" -o /dev/null http://localhost/v1/health 2>/dev/null || true
rc=0
wait "$activate" || rc=$?
[[ $rc == 1 ]] || fail "17 passed sockets: exit $rc: $(cat "$T/many.log")"
grep -q "passed 17 sockets; patela-server serves at most 16" "$T/many.log" || fail "17 sockets: $(cat "$T/many.log")"
pass "17 sockets passed by the service manager: refused with a clear error, nothing written past the array"

# --- the admin CLI: bad names, values with newlines, SQL metacharacters --------------------------------
before=$(snapshot)
cfg_before=$(db_query "SELECT COUNT(*) FROM config_ops")
expect_exit 2 torrc set ContactInfo $'line\nInjected 1' default
expect_exit 2 torrc set ContactInfo $'a\rb' node --id 1
printf 'ContactInfo a\nNickname x\0y\n' >"$T/nul.torrc"
expect_exit 2 torrc import "$T/nul.torrc" default
expect_exit 2 torrc set NoSuchOption 1 default
expect_exit 2 pool add names ../etc relay/one ok1
expect_exit 2 pool add names "$(printf 'x%.0s' {1..20})"
[[ $(db_query "SELECT COUNT(*) FROM pool_names WHERE name = 'ok1'") == 0 ]] || fail "pool add was not all-or-nothing"
expect_exit 2 torrc set ContactInfo x relay --id ../relayOne
expect_exit 2 torrc set ContactInfo x relay --id "relay/One"
expect_exit 3 torrc set ContactInfo x relay --id nosuchrelay
expect_exit 2 node show "1; DROP TABLE nodes"
expect_exit 2 node enable "1' OR '1'='1"
expect_exit 2 node set Interface "eth0; rm -rf /" default
expect_exit 2 node set IPv4Gateway "'); DROP TABLE nodes; --" default
unchanged "$before" "bad CLI arguments"
[[ $(db_query "SELECT COUNT(*) FROM config_ops") == "$cfg_before" ]] || fail "bad CLI arguments stored configuration"
# Metacharacters in a legitimate value are data, stored and rendered as given.
ps_cli torrc set ContactInfo "x'); DROP TABLE nodes; -- \"quoted\"" default
[[ $(db_count nodes) -ge 1 ]] || fail "nodes table damaged"
ps_cli torrc get default | grep -qF "DROP TABLE nodes" || fail "value not stored literally"
pass "CLI refuses newlines, NUL, unknown options, bad relay names ('/', '..', >19) and injection attempts; values stay data"

# --- more pending nodes than the cap (MaxPendingNodes=2) -----------------------------------------------
for i in 1 2 3; do
        attestd_stop
        swtpm_start "pending$i"
        attestd_start
        node_identity
        node_prove
        if [[ $i -le 2 ]]; then
                [[ $HTTP_STATUS == 202 ]] || fail "pending node $i refused: $(cat "$T/http.body")"
        else
                expect_error 503 TooManyPendingNodes
        fi
done
[[ $(db_query "SELECT COUNT(*) FROM nodes WHERE state = 'pending'") == 2 ]] || fail "pending cap exceeded"
pass "a third pending node is refused at MaxPendingNodes=2"
# Open proofs are bounded like pending nodes: strangers' enrolments cannot grow the table.
db_query "DELETE FROM nodes WHERE state = 'pending'"
for i in 1 2; do
        http POST /v1/enroll "$T/enroll.json" >/dev/null
        [[ $HTTP_STATUS == 200 ]] || fail "proof challenge $i: HTTP $HTTP_STATUS"
done
http POST /v1/enroll "$T/enroll.json" >/dev/null; expect_error 503 TooManyPendingNodes
[[ $(db_count enrolment_proofs) == 2 ]] || fail "$(db_count enrolment_proofs) open proofs at MaxPendingNodes=2"
pass "open proof challenges are capped at MaxPendingNodes=2 too"
server_stop

# --- rate limit of new identities per source (EnrollRatePerMinute=1); pending nodes expire -------------------
db_query "DELETE FROM enrolment_proofs"
server_start --enroll-rate=1 --pending-lifetime=2s
attestd_stop
swtpm_start rate1
attestd_start
node_identity
node_prove
[[ $HTTP_STATUS == 202 ]] || fail "first new identity refused"
rate1=$(jq -r .fingerprint "$T/id.json")
attestd_stop
swtpm_start rate2
attestd_start
node_identity
n=$(db_count nodes)
http POST /v1/enroll "$T/enroll.json" >/dev/null; expect_error 429 RateLimited
[[ $(db_count nodes) == "$n" ]] || fail "rate-limited enrolment created a row"
pass "new identities from one source rate-limited"
# PendingLifetime=2s: a pending node that stopped asking goes when the next one is created. last_seen has
# whole seconds: 3.5 s are past 2 s whatever the fractions.
sleep 3.5
server_stop
server_start --pending-lifetime=2s
node_prove
[[ $HTTP_STATUS == 202 ]] || fail "second identity after the rate limit: HTTP $HTTP_STATUS"
[[ $(db_query "SELECT count(*) FROM nodes WHERE fingerprint = '$rate1'") == 0 ]] ||
        fail "a pending node not seen for PendingLifetime=2s is still there"
grep -q "pending nodes removed: not seen for PendingLifetime=2s" "$T/server.log" || fail "the expiry is not logged"
pass "PendingLifetime=2s: a pending node gone quiet is removed when the next one is created"
server_stop

# --- unauthenticated memory: bodies held at once, connections per source ------------------------------------
server_start --max-body-size=60000 --max-buffered-bytes=65536 --max-connections-per-source=4
head -c 50000 /dev/zero | tr '\0' ' ' >"$T/slow.json"
head -c 20000 /dev/zero | tr '\0' ' ' >"$T/quick.json"
# A slow upload announcing 50,000 bytes holds them from its first byte on: 20,000 more would pass 65,536.
curl -sS --cacert "$T/ca/ca.crt" --limit-rate 2k --data-binary "@$T/slow.json" -H 'Content-Type: application/json' \
        -o /dev/null "$URL/v1/enroll" 2>/dev/null &
slow=$!
PIDS+=("$slow")
sleep 1
http POST /v1/enroll "$T/quick.json" >/dev/null; expect_error 429 RateLimited
kill "$slow"
wait "$slow" 2>/dev/null || true
sleep 0.5
http POST /v1/enroll "$T/quick.json" >/dev/null; expect_error 400 MalformedJson
pass "MaxBufferedBytes=: a body that would pass the bound while a slow upload holds its announced size is 429; once it is gone, accepted"
# Four connections from one source are served; a fifth is closed without an answer.
for i in 1 2 3 4 5; do
        curl -sS --cacert "$T/ca/ca.crt" --limit-rate 1k --data-binary "@$T/quick.json" -o /dev/null \
                -w '%{http_code}\n' "$URL/v1/enroll" >"$T/conn$i.out" 2>&1 &
        conns+=($!)
        sleep 0.2
done
sleep 1
grep -q "^000$\|Empty reply\|reset\|closed" "$T/conn5.out" || fail "a fifth connection from one source was served: $(cat "$T/conn5.out")"
kill "${conns[@]}" 2>/dev/null || true
wait "${conns[@]}" 2>/dev/null || true
http GET /v1/health >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "the server does not answer after the connection flood"
pass "MaxConnectionsPerSource=4: a fifth concurrent connection from one address is refused"
server_stop
