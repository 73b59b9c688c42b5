#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A node made of swtpm + patela-attestd enrols at patela-server over TLS 1.3: pending → node enable →
# challenge → activation + quote → session → network settings and relays' torrc, which tor accepts.
# Argument: the EK type (rsa2048 or ecc-p256).
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
ek_type=${1:?ek type}

ca_setup
ps_cli pool add names exitA exitB exitC
ps_cli pool add ipv4 192.0.2.10 192.0.2.11 192.0.2.12
ps_cli pool add ipv6 2001:db8::10 2001:db8::11 2001:db8::12
cat >"$T/default.torrc" <<'TORRC'
# fleet-wide
ContactInfo operator@example.org
ExitRelay 1
ExitPolicy accept *:80
ExitPolicy accept *:443
ExitPolicy reject *:*
IPv6Exit true
MaxMemInQueues 512 MB
TORRC
ps_cli torrc import "$T/default.torrc" default
server_start

swtpm_start
attestd_start --ek-type="$ek_type"
node_identity

node_prove
[[ $HTTP_STATUS == 202 && $(jq -r .state "$T/http.body") == pending ]] || fail "first enrolment: $HTTP_STATUS $(cat "$T/http.body")"
fp=$(jq -r .fingerprint "$T/http.body")
[[ $fp == "$(jq -r .fingerprint "$T/id.json")" ]] || fail "server fingerprint $fp differs from the node's $(jq -r .fingerprint "$T/id.json")"
[[ $(ps_cli --json list nodes | jq -r '.[0].state + " " + .[0].fingerprint') == "pending $fp" ]] || fail "node list"
pass "pending, and the server's fingerprint equals attestd's: $fp"

# Still pending: the same answer, no second row.
http POST /v1/enroll "$T/enroll.json" >/dev/null
[[ $HTTP_STATUS == 202 && $(db_count nodes) == 1 ]] || fail "second enrolment of a pending node"
[[ $(db_count relays) == 0 ]] || fail "relays allocated before enable"

ps_cli node relays "$fp" 2
ps_cli node enable "$fp"
[[ $(db_count relays) == 2 ]] || fail "enable did not allocate 2 relays"
ps_cli node set DNS 192.0.2.53 default
ps_cli node set DNS 2001:db8::53 default
ps_cli node set Interface eth0 --id 1
ps_cli torrc append ExitPolicy "accept *:22" node --id 1
ps_cli torrc set ContactInfo "relay-b@example.org" relay --id exitB
# Ports are allocated (ORPortRange=), no longer set: the old setting is refused with a usage error.
rc=0
ps_cli node set ORPort 443 --id 1 2>"$T/orport.err" || rc=$?
[[ $rc == 2 ]] && grep -q "ORPortRange=" "$T/orport.err" || fail "node set ORPort: exit $rc, $(cat "$T/orport.err")"
pass "enabled with 2 relays; settings and torrc at three levels; the ORPort setting refused (ports come from ORPortRange=)"

node_session
[[ $(jq -r .expiresIn "$T/token.json") == 3600 ]] || fail "default session lifetime"
pass "challenge activated by the TPM, quote verified, session issued"

# Quote-only re-attestation (docs/protocol.md): this TPM proved its EK and AK (the enrolment proof, and the
# credential answered just now), so a challenge asked with "Prefer: quote-only" has no credential to activate and
# the quote over its nonce alone answers it.
[[ $(db_query "SELECT credential_proven FROM nodes WHERE id = 1") == 1 ]] || fail "the node is not credential_proven"
node_challenge "Prefer: quote-only"
[[ $(jq -c '[has("credentialBlob"), has("encryptedSecret"), has("nonce")]' "$T/challenge.json") == '[false,false,true]' ]] ||
        fail "quote-only challenge: $(cat "$T/challenge.json")"
grep -qix $'preference-applied: quote-only\r' "$T/http.headers" || fail "no Preference-Applied: $(cat "$T/http.headers")"
node_answer
[[ $(jq -r 'has("secret")' "$T/attest.json") == false ]] || fail "the quote-only answer has a secret"
cp "$T/attest.json" "$T/attest-quote-only.json"
# A quote that is not the TPM's (a byte of the signature's r changed): refused, and the challenge is not taken.
jq '.signature = .signature[0:20] + (if .signature[20:21] == "A" then "B" else "A" end) + .signature[21:]' \
        "$T/attest.json" >"$T/attest-forged.json"
http POST /v1/attest "$T/attest-forged.json" >/dev/null
expect_error 403 QuoteRejected
http POST /v1/attest "$T/attest-quote-only.json" >"$T/token.json"
[[ $HTTP_STATUS == 200 && $(jq -r .verdict "$T/token.json") != null ]] || fail "quote-only answer: HTTP $HTTP_STATUS $(cat "$T/token.json")"
http POST /v1/attest "$T/attest-quote-only.json" >/dev/null
expect_error 403 ChallengeUnknown
# An earlier quote of this TPM sent for a new challenge: not over its nonce, refused, the challenge not taken.
node_challenge "Prefer: quote-only"
jq --arg c "$(jq -r .challenge "$T/challenge.json")" '.challenge = $c' "$T/attest-quote-only.json" >"$T/attest-replayed.json"
http POST /v1/attest "$T/attest-replayed.json" >/dev/null
expect_error 403 QuoteRejected
node_answer
http POST /v1/attest "$T/attest.json" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "the node's own answer after a replayed quote: HTTP $HTTP_STATUS $(cat "$T/http.body")"
pass "quote-only challenge (no credential, Preference-Applied), answered by the quote alone; a forged and a replayed quote refused without taking the challenge"

# Without the preference (a node of the previous version), a credential as before.
node_challenge
[[ $(jq -c '[has("credentialBlob"), has("encryptedSecret")]' "$T/challenge.json") == '[true,true]' ]] ||
        fail "challenge without Prefer: $(cat "$T/challenge.json")"
! grep -qi '^preference-applied' "$T/http.headers" || fail "Preference-Applied without a preference"
# A node whose TPM never proved its EK and AK to this server (enrolled before migration 18): a credential even when
# it asks for quote-only, and an answer without the secret is refused without taking the challenge; the secret
# proves it, and the next challenge is quote-only.
db_query "UPDATE nodes SET credential_proven = 0 WHERE id = 1" >/dev/null
node_challenge "Prefer: quote-only"
[[ $(jq -r 'has("credentialBlob")' "$T/challenge.json") == true ]] || fail "an unproven node got a quote-only challenge"
node_answer
jq 'del(.secret)' "$T/attest.json" >"$T/attest-nosecret.json"
http POST /v1/attest "$T/attest-nosecret.json" >/dev/null
expect_error 403 SecretMismatch
http POST /v1/attest "$T/attest.json" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "the answer with the secret after one without: HTTP $HTTP_STATUS $(cat "$T/http.body")"
[[ $(db_query "SELECT credential_proven FROM nodes WHERE id = 1") == 1 ]] || fail "the secret did not make the node credential_proven"
node_challenge "Prefer: quote-only"
[[ $(jq -r 'has("credentialBlob")' "$T/challenge.json") == false ]] || fail "still a credential after the proof"
pass "without Prefer a credential; an unproven node gets one anyway, an answer without its secret is refused, the secret proves the TPM"
node_session # the session of the last attestation, for what follows

http GET /v1/node/network "" "Authorization: Bearer $TOKEN" >"$T/network.json"
[[ $HTTP_STATUS == 200 ]] || fail "network: $HTTP_STATUS"
[[ $(jq -r .Interface "$T/network.json") == eth0 ]] || fail "Interface: $(cat "$T/network.json")"
[[ $(jq -c .DNS "$T/network.json") == '["192.0.2.53","2001:db8::53"]' ]] || fail "DNS: $(cat "$T/network.json")"
[[ $(jq -r '.relays[0].name + " " + .relays[0].ipv4 + " " + .relays[0].ipv6' "$T/network.json") == "exitA 192.0.2.10 2001:db8::10" ]] ||
        fail "relay addresses: $(cat "$T/network.json")"
pass "network settings resolved default → node"

http GET /v1/node/relays "" "Authorization: Bearer $TOKEN" >"$T/relays.json"
[[ $HTTP_STATUS == 200 && $(jq '.relays | length' "$T/relays.json") == 2 ]] || fail "relays: $HTTP_STATUS $(cat "$T/relays.json")"
for name in exitA exitB; do
        jq -r --arg n "$name" '.relays[] | select(.name == $n) | .torrc' "$T/relays.json" >"$T/$name.torrc"
        grep -qx "Nickname $name" "$T/$name.torrc" || fail "$name: Nickname not forced"
        grep -qx "ExitRelay 1" "$T/$name.torrc" || fail "$name: default level missing"
        grep -qx "IPv6Exit 1" "$T/$name.torrc" || fail "$name: boolean not rendered as 1"
        grep -qx "ExitPolicy accept \*:22" "$T/$name.torrc" || fail "$name: node level append missing"
        [[ $(grep -c '^ExitPolicy' "$T/$name.torrc") == 4 ]] || fail "$name: ExitPolicy lines: $(grep ExitPolicy "$T/$name.torrc")"
        # One address per relay here (three in each pool): each relay on the first port of ORPortRange=.
        want=$(ps_cli --json list relays | jq -r --arg n "$name" '.[] | select(.name == $n) | "ORPort \(.ipv4):\(.orPort)\nORPort [\(.ipv6)]:\(.orPort)"')
        [[ $(grep '^ORPort' "$T/$name.torrc") == "$want" && $want == *":9001"* ]] ||
                fail "$name: ORPort lines $(grep '^ORPort' "$T/$name.torrc"), allocated $want"
        # tor itself must accept it; no network: DisableNetwork and a private data directory.
        mkdir -p "$T/tor-$name"
        { cat "$T/$name.torrc"; printf 'DisableNetwork 1\nDataDirectory %s\nSocksPort 0\nLog notice stderr\n' "$T/tor-$name"; } \
                >"$T/$name.verify.torrc"
        tor --verify-config -f "$T/$name.verify.torrc" >"$T/tor-$name.log" 2>&1 ||
                fail "tor --verify-config rejected $name's torrc: $(tail -5 "$T/tor-$name.log")"
done
# Each relay's metrics on loopback only, a port per relay; what an operator sets cannot move or open it.
grep -qx "MetricsPort 127.0.0.1:9035" "$T/exitA.torrc" && grep -qx "MetricsPort 127.0.0.1:9036" "$T/exitB.torrc" ||
        fail "MetricsPort: $(grep -h MetricsPort "$T"/exit?.torrc)"
for name in exitA exitB; do
        [[ $(grep '^MetricsPortPolicy' "$T/$name.torrc" | paste -sd,) == "MetricsPortPolicy accept 127.0.0.1,MetricsPortPolicy reject *" ]] ||
                fail "$name: $(grep MetricsPortPolicy "$T/$name.torrc")"
done
ps_cli torrc set MetricsPort 0.0.0.0:9035 node --id 1 >/dev/null
ps_cli torrc append MetricsPortPolicy "accept *" node --id 1 >/dev/null
ps_cli --json diff --node 1 >"$T/diff-metrics.json"
[[ $(jq -r '[.exitA[] | select(.option == "MetricsPort" or .option == "MetricsPortPolicy") | .level + " " + .value] | join(",")' "$T/diff-metrics.json") == \
   "forced 127.0.0.1:9035,forced accept 127.0.0.1,forced reject *" ]] ||
        fail "an operator's MetricsPort reached the torrc: $(jq -c '.exitA[] | select(.option | startswith("Metrics"))' "$T/diff-metrics.json")"
ps_cli torrc clear MetricsPort node --id 1 >/dev/null
ps_cli torrc clear MetricsPortPolicy node --id 1 >/dev/null
pass "each relay's MetricsPort is forced to 127.0.0.1 (9035, 9036) with a loopback-only policy; a node level's 0.0.0.0 and accept * do not reach the torrc"
grep -qx "ContactInfo relay-b@example.org" "$T/exitB.torrc" || fail "relay level did not override ContactInfo"
grep -qx "ContactInfo operator@example.org" "$T/exitA.torrc" || fail "exitA lost the default ContactInfo"
pass "both relays' torrc rendered from three levels + forced options; tor --verify-config accepts them"

ps_cli --json diff --node 1 >"$T/diff.json"
[[ $(jq -r '.exitB[] | select(.option == "ContactInfo") | .level' "$T/diff.json") == relay ]] || fail "diff provenance"
[[ $(jq -r '.exitA[] | select(.option == "Nickname") | .level' "$T/diff.json") == forced ]] || fail "diff forced"
# The node's "accept *:22" comes before the fleet's lines and their "reject *:*" (it was dead after it).
[[ $(jq -r '[.exitA[] | select(.option == "ExitPolicy") | .level + " " + .value] | join(",")' "$T/diff.json") == \
   "node accept *:22,default accept *:80,default accept *:443,default reject *:*" ]] ||
        fail "diff ExitPolicy order: $(jq -c .exitA "$T/diff.json")"
pass "diff --node shows where each line comes from"

[[ $(ps_cli --json attestations | jq -r '.[0].verdict') == accepted ]] || fail "attestation log"
[[ $(db_query "SELECT pcr_values FROM attestations WHERE verdict = 'accepted'" | jq -r 'keys | length' | sort -u) == 10 ]] ||
        fail "PCR values not recorded"
# Five accepted (credential, quote-only twice, credential twice); the forged, the replayed quote and the answer
# without its secret rejected.
[[ $(db_query "SELECT verdict || ' ' || COUNT(*) FROM attestations GROUP BY verdict ORDER BY verdict" | paste -sd,) == \
   "accepted 5,rejected 3" ]] || fail "attestation log: $(db_query "SELECT verdict, reason FROM attestations")"
pass "each attestation recorded, the accepted with the 10 quoted PCR values"

# Relay count changes reallocate in one step; the freed name returns to the pool.
ps_cli node relays 1 1
[[ $(ps_cli --json list relays | jq -r '[.[].name] | join(",")') == exitA ]] || fail "relay count 1"
[[ $(ps_cli --json pool list names | jq -r '[.[] | select(.relayCount == 0) | .value] | join(",")') == exitB,exitC ]] ||
        fail "names not returned to the pool"
[[ $(ps_cli --json pool list ipv4 | jq -r '[.[] | .value + "=" + (.relayCount | tostring) + "/" + (.capacity | tostring)] | join(",")') == \
   "192.0.2.10=1/8,192.0.2.11=0/8,192.0.2.12=0/8" ]] || fail "address pool: $(ps_cli pool list ipv4)"
pass "relay count lowered: exitB's name and addresses back in the pools"
server_stop
