#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Two patela-server processes on one database serve one fleet (issue 15, item 2; SQLite here, both processes on
# the same file): a proof challenge issued by one is answered at the other; an attestation challenge too (the
# challenges are derived from the database's key, docs/server.md "Challenges and sessions"), once; a session made
# by one is good at the other; a disable reaches the sessions at both.
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

ca_setup
ps_cli pool add names relayOne relayTwo >/dev/null
server_start --challenge-lifetime=5s --threads=3
A=$URL
server_start --challenge-lifetime=5s
B=$URL
[[ $A != "$B" ]] || fail "one URL for two servers"

swtpm_start
attestd_start
node_identity

# --- a new identity's proof: challenge at A, answer at B ---------------------------------------------------------
URL=$A http POST /v1/enroll "$T/enroll.json" >"$T/prove.json"
[[ $HTTP_STATUS == 200 && $(jq -r .state "$T/prove.json") == prove ]] || fail "proof challenge at A: HTTP $HTTP_STATUS"
secret=$(vl ActivateCredential "$(jq -c '{credentialBlob, encryptedSecret}' "$T/prove.json")" | jq -r .secret)
jq -n --arg c "$(jq -r .challenge "$T/prove.json")" --arg s "$secret" '{challenge: $c, secret: $s}' >"$T/proof.json"
URL=$B http POST /v1/enroll/proof "$T/proof.json" >/dev/null
[[ $HTTP_STATUS == 202 ]] || fail "the proof at B: HTTP $HTTP_STATUS $(cat "$T/http.body")"
fp=$(jq -r .fingerprint "$T/prove.json")
ps_cli node enable "$fp" >/dev/null
pass "a proof challenge issued by A is answered at B: the node is pending, then enabled"

# --- attestation: challenge at A, answer at B, the session good at both ----------------------------------------------
URL=$A node_challenge
node_answer
URL=$B http POST /v1/attest "$T/attest.json" >"$T/token.json"
[[ $HTTP_STATUS == 200 ]] || fail "A's challenge answered at B: HTTP $HTTP_STATUS $(cat "$T/token.json")"
TOKEN=$(jq -r .token "$T/token.json")
for u in "$A" "$B"; do
        URL=$u http GET /v1/node/relays "" "Authorization: Bearer $TOKEN" >/dev/null
        [[ $HTTP_STATUS == 200 ]] || fail "B's session at $u: HTTP $HTTP_STATUS $(cat "$T/http.body")"
done
# The same answer again, at either server: the challenge was taken.
for u in "$A" "$B"; do
        URL=$u http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 ChallengeUnknown
done
pass "an attestation challenge issued by A is answered at B, once; B's session is good at A"

# --- the other way; one session per node across both ---------------------------------------------------------------
URL=$B node_challenge
node_answer
URL=$A http POST /v1/attest "$T/attest.json" >"$T/token2.json"
[[ $HTTP_STATUS == 200 ]] || fail "B's challenge answered at A: HTTP $HTTP_STATUS $(cat "$T/token2.json")"
TOKEN2=$(jq -r .token "$T/token2.json")
for u in "$A" "$B"; do
        URL=$u http GET /v1/node/relays "" "Authorization: Bearer $TOKEN" >/dev/null; expect_error 401 TokenRejected
        URL=$u http GET /v1/node/relays "" "Authorization: Bearer $TOKEN2" >/dev/null
        [[ $HTTP_STATUS == 200 ]] || fail "A's new session at $u: HTTP $HTTP_STATUS"
done
pass "B's challenge answered at A; the new session replaces the old one at both servers"

# --- an open challenge of A, the node disabled (through the CLI, a third process): void at both -----------------------
URL=$A node_challenge
node_answer
ps_cli node disable "$fp" >/dev/null
for u in "$A" "$B"; do
        URL=$u http GET /v1/node/relays "" "Authorization: Bearer $TOKEN2" >/dev/null; expect_error 401 TokenRejected
        URL=$u http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 ChallengeUnknown
        URL=$u http POST /v1/enroll "$T/enroll.json" >/dev/null; expect_error 403 NodeDisabled
done
ps_cli node enable "$fp" >/dev/null
URL=$B http POST /v1/attest "$T/attest.json" >/dev/null; expect_error 403 ChallengeUnknown
URL=$B node_session
URL=$A http GET /v1/node/relays "" "Authorization: Bearer $TOKEN" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "a session after the re-enable: HTTP $HTTP_STATUS"
pass "a disable kills the sessions at both servers and voids the challenge A issued before it, also after a re-enable"

# On PostgreSQL each request thread has a connection of its own (A: 3 threads, B: one per CPU), rather than one
# connection that every request waits for; nothing else holds one (no checkpointer there, no metrics listener here,
# the start-up's connection closed).
if [[ $DB == postgresql://* ]]; then
        conns=$(db_query "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()
                          AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        ((conns == 3 + $(nproc))) || fail "$conns connections from two servers with 3 and $(nproc) request threads"
        pass "$conns PostgreSQL connections: one per request thread"
fi
