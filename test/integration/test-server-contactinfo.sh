#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ContactInfo proofs (issue 12, item 7): a node (swtpm + patela-attestd) with a real session reports its relays'
# identities with curl, as keys that tor made itself; the server lists them and writes the rsa-fingerprint.txt
# of proof:uri-rsa for the relays of its enabled nodes. Reports for a relay that is not the node's, with another
# relay's identity, from a disabled node, without a token, or with a malformed body are refused with their codes
# and change nothing; a relay that goes takes its identity with it.
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

ca_setup
ps_cli pool add names exitA exitB exitC >/dev/null
ps_cli pool add ipv4 192.0.2.10 192.0.2.11 192.0.2.12 >/dev/null
printf '%s\n' "ContactInfo email:tor[]example.org url:https://relays.example.org proof:uri-rsa ciissversion:2" \
        "ExitPolicy reject *:*" >"$T/default.torrc"
ps_cli torrc import "$T/default.torrc" default >/dev/null
server_start

swtpm_start
attestd_start
node_identity
node_prove
[[ $HTTP_STATUS == 202 ]] || fail "proof: HTTP $HTTP_STATUS $(cat "$T/http.body")"
fp=$(jq -r .fingerprint "$T/id.json")
ps_cli node relays "$fp" 2 >/dev/null
ps_cli node enable "$fp" >/dev/null
node_session

# ---- the relays' keys, made by tor itself --------------------------------------------------------------------
: >"$T/tor-defaults"
declare -A RSA ED
for name in exitA exitB exitC; do
        mkdir -m 0700 "$T/tor-$name"
        printf '%s\n' "DataDirectory $T/tor-$name" "Nickname $name" "ORPort 9001" "Address 192.0.2.1" \
                "AddressDisableIPv6 1" "DisableNetwork 1" "SocksPort 0" "PublishServerDescriptor 0" \
                "Log notice file $T/tor-$name.log" >"$T/$name.torrc"
        tor --defaults-torrc "$T/tor-defaults" -f "$T/$name.torrc" --list-fingerprint >"$T/$name.fp" 2>&1 ||
                fail "tor --list-fingerprint for $name: $(tail -3 "$T/$name.fp")"
        tor --defaults-torrc "$T/tor-defaults" -f "$T/$name.torrc" --list-fingerprint ed25519 >"$T/$name.ed" 2>&1 ||
                fail "tor --list-fingerprint ed25519 for $name: $(tail -3 "$T/$name.ed")"
        RSA[$name]=$(tail -1 "$T/$name.fp" | awk -v n="$name" '$1 == n { $1 = ""; gsub(/ /, ""); print }')
        ED[$name]=$(tail -1 "$T/$name.ed" | awk -v n="$name" '$1 == n { print $2 }')
        [[ ${RSA[$name]} =~ ^[0-9A-F]{40}$ && ${ED[$name]} =~ ^[A-Za-z0-9+/]{43}$ ]] ||
                fail "$name: tor printed '$(tail -1 "$T/$name.fp")' and '$(tail -1 "$T/$name.ed")'"
done

# report_of FILE NAME=RSA=ED…: a report as configd sends it.
report_of() {
        local out=$1 entry n r e
        shift
        for entry in "$@"; do
                IFS== read -r n r e <<<"$entry"
                jq -n --arg n "$n" --arg r "$r" --arg e "$e" '{name: $n, rsaFingerprint: $r, ed25519Identity: $e}'
        done | jq -sc '{relays: .}' >"$out"
}
# report FILE NAME…: the report of these relays' keys.
report() {
        local out=$1 name entries=()
        shift
        for name in "$@"; do
                entries+=("$name=${RSA[$name]}=${ED[$name]}")
        done
        report_of "$out" "${entries[@]}"
}
stored() {
        db_query "SELECT r.name || '=' || f.rsa_fingerprint || '/' || COALESCE(f.ed25519_identity, '-')
                  FROM relay_fingerprints f JOIN relays r ON r.id = f.relay_id ORDER BY r.name" | paste -sd ' '
}
auth="Authorization: Bearer $TOKEN"

# ---- the node's report, listed by the CLI ----------------------------------------------------------------------
[[ $(ps_cli --json list relays | jq -c '[.[] | .rsaFingerprint]') == '[null,null]' ]] || fail "fingerprints before any report"
report "$T/report.json" exitA exitB
http POST /v1/node/fingerprints "$T/report.json" "$auth" >/dev/null
[[ $HTTP_STATUS == 200 && $(cat "$T/http.body") == '{}' ]] || fail "report: HTTP $HTTP_STATUS $(cat "$T/http.body")"
ps_cli --json list relays >"$T/relays.json"
for name in exitA exitB; do
        [[ $(jq -r --arg n "$name" '.[] | select(.name == $n) | .rsaFingerprint + " " + .ed25519Identity' "$T/relays.json") == \
                "${RSA[$name]} ${ED[$name]}" ]] || fail "$name: server lists $(jq -c --arg n "$name" '.[] | select(.name == $n)' "$T/relays.json"), tor says ${RSA[$name]} ${ED[$name]}"
        [[ $(jq -r --arg n "$name" '.[] | select(.name == $n) | .fingerprintsReported' "$T/relays.json") =~ ^20[0-9-]+T ]] ||
                fail "$name: no report time: $(cat "$T/relays.json")"
done
ps_cli list relays >"$T/relays.txt"
head -1 "$T/relays.txt" | grep -q "RSA FINGERPRINT *REPORTED" || fail "table header: $(head -1 "$T/relays.txt")"
grep -q "^exitA .*${RSA[exitA]}" "$T/relays.txt" || fail "table: $(cat "$T/relays.txt")"
grep -q "Node 1 ($fp) reported the identities of 2 relays" "$T/server.log" || fail "the report is not logged"
pass "a node's report (curl, real session) of keys tor made: list relays shows what tor --list-fingerprint prints"

# ---- refusals: nothing written ---------------------------------------------------------------------------------
before=$(stored)
refused() { # STATUS CODE: the last answer, and the table unchanged
        expect_error "$1" "$2"
        [[ $(stored) == "$before" ]] || fail "$2: stored $(stored), before $before"
}
# exitC is no relay of this node (nor anyone's); exitA in the same report is not changed either.
report_of "$T/bad.json" "exitA=${RSA[exitC]}=${ED[exitC]}" "exitC=${RSA[exitC]}=${ED[exitC]}"
http POST /v1/node/fingerprints "$T/bad.json" "$auth" >/dev/null; refused 409 UnknownRelay
grep -q "exitC is not one of node 1's relays" "$T/http.body" || fail "message: $(cat "$T/http.body")"
# exitB with exitA's identity: two relays with one identity would be one relay twice in the proof.
report_of "$T/bad.json" "exitB=${RSA[exitA]}=${ED[exitC]}"
http POST /v1/node/fingerprints "$T/bad.json" "$auth" >/dev/null; refused 409 FingerprintConflict
report_of "$T/bad.json" "exitB=${RSA[exitC]}=${ED[exitA]}"
http POST /v1/node/fingerprints "$T/bad.json" "$auth" >/dev/null; refused 409 FingerprintConflict
pass "a relay that is not the node's: 409 UnknownRelay; another relay's RSA or ed25519 identity: 409 FingerprintConflict; nothing stored"

bad_body() { # JQ_FILTER STATUS CODE FIELD: the good report changed by the filter is refused
        jq -c "$1" "$T/report.json" >"$T/bad.json"
        http POST /v1/node/fingerprints "$T/bad.json" "$auth" >/dev/null
        refused "$2" "$3"
        [[ -z ${4:-} ]] || grep -q "$4" "$T/http.body" || fail "$1: message does not name $4: $(cat "$T/http.body")"
}
bad_body '.relays[0].rsaFingerprint |= ascii_downcase' 400 InvalidField rsaFingerprint
bad_body '.relays[0].rsaFingerprint |= .[1:]' 400 InvalidField rsaFingerprint
bad_body '.relays[0].rsaFingerprint |= (. + "00")' 400 InvalidField rsaFingerprint
bad_body '.relays[0].rsaFingerprint |= (.[0:4] + " " + .[4:])' 400 InvalidField rsaFingerprint
bad_body '.relays[0].ed25519Identity |= (. + "=")' 400 InvalidField ed25519Identity
bad_body '.relays[0].ed25519Identity |= ("_" + .[1:])' 400 InvalidField ed25519Identity
bad_body '.relays[0].ed25519Identity = 1' 400 InvalidField ed25519Identity
bad_body '.relays[1].name = "exitA"' 400 InvalidField "listed twice"
bad_body '.relays[0].name = "exit/A"' 400 InvalidField "not a tor nickname"
bad_body '.relays[0].name = "exitAexitAexitAexitA"' 400 InvalidField "not a tor nickname"
bad_body '.relays[0] += {keyDirectory: "/tmp"}' 400 UnknownField keyDirectory
bad_body '.relays[0] |= del(.rsaFingerprint)' 400 MissingField rsaFingerprint
bad_body '.relays = []' 400 InvalidField "no relays"
bad_body '.relays = {}' 400 InvalidField relays
bad_body '{}' 400 MissingField relays
bad_body '.relays = [range(65) as $i | .relays[0] | .name = "r\($i)"]' 413 InvalidField "more than 64 relays"
printf '{"relays": [' >"$T/bad.json"
http POST /v1/node/fingerprints "$T/bad.json" "$auth" >/dev/null; refused 400 MalformedJson
http POST /v1/node/fingerprints "$T/report.json" >/dev/null; refused 401 TokenMissing
http POST /v1/node/fingerprints "$T/report.json" "Authorization: Bearer AAAA" >/dev/null; refused 401 TokenRejected
http GET /v1/node/fingerprints "" "$auth" >/dev/null; refused 405 MethodNotAllowed
pass "malformed reports (case, length, spaces, padding, base64url, duplicates, names, unknown and missing fields, 65 relays, broken JSON): 400/413 naming the field; no token, a bad token, GET: 401/405; nothing stored"

# ---- the proof file ---------------------------------------------------------------------------------------------
ps_cli contactinfo rsa-fingerprints >"$T/stdout.txt" 2>"$T/cli.err" || fail "contactinfo: $(cat "$T/cli.err")"
printf '%s\n' "${RSA[exitA]}" "${RSA[exitB]}" | sort >"$T/want.txt"
cmp -s "$T/stdout.txt" "$T/want.txt" || fail "rsa-fingerprints: $(cat "$T/stdout.txt"), want $(cat "$T/want.txt")"
# The format of proposal 326: non-comment lines of exactly 40 hex digits, each fingerprint once, at most 1 MB.
grep -v '^#' "$T/stdout.txt" | grep -Evq '^[0-9A-F]{40}$' && fail "a line that is not a fingerprint: $(cat "$T/stdout.txt")"
[[ $(sort -u "$T/stdout.txt" | wc -l) == $(wc -l <"$T/stdout.txt") ]] || fail "a fingerprint twice"
[[ -z $(grep -v "^Publish it at https://relays.example.org/" "$T/cli.err") ]] || fail "warnings for a complete fleet: $(cat "$T/cli.err")"
mkdir -p "$T/www/.well-known/tor-relay"
proof=$T/www/.well-known/tor-relay/rsa-fingerprint.txt
(umask 077 && ps_cli contactinfo rsa-fingerprints --output "$proof") 2>"$T/cli.err" || fail "contactinfo --output: $(cat "$T/cli.err")"
cmp -s "$proof" "$T/want.txt" || fail "the file differs from stdout: $(cat "$proof")"
[[ $(stat -c %a "$proof") == 644 ]] || fail "mode $(stat -c %a "$proof"), a web server must read it"
grep -q "Wrote $proof: 2 relay fingerprints" "$T/cli.err" || fail "contactinfo --output said: $(cat "$T/cli.err")"
grep -q "Publish it at https://relays.example.org/.well-known/tor-relay/rsa-fingerprint.txt" "$T/cli.err" ||
        fail "no publication hint: $(cat "$T/cli.err")"
inode=$(stat -c %i "$proof")
ps_cli contactinfo rsa-fingerprints --output="$proof" 2>"$T/cli.err"
grep -q "Unchanged $proof" "$T/cli.err" && [[ $(stat -c %i "$proof") == "$inode" ]] ||
        fail "an unchanged file was rewritten: $(cat "$T/cli.err")"
[[ -z $(ls -A "$T/www/.well-known/tor-relay" | grep -v '^rsa-fingerprint.txt$') ]] || fail "temporaries left: $(ls -A "$T/www/.well-known/tor-relay")"
ps_cli --json contactinfo rsa-fingerprints >"$T/ci.json" 2>/dev/null
[[ $(jq -r '[.relays[] | .name + "=" + .rsaFingerprint + "=" + .url + "=" + (.proofUriRsa | tostring)] | sort | join(" ")' "$T/ci.json") == \
        "exitA=${RSA[exitA]}=https://relays.example.org=true exitB=${RSA[exitB]}=https://relays.example.org=true" ]] ||
        fail "--json: $(cat "$T/ci.json")"
rc=0
ps_cli contactinfo rsa-fingerprints --output "$T/no/such/dir/rsa-fingerprint.txt" 2>"$T/cli.err" || rc=$?
[[ $rc == 3 ]] || fail "--output into a missing directory: exit $rc: $(cat "$T/cli.err")"
rc=0
ps_cli contactinfo ed25519 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "contactinfo with an unknown subverb: exit $rc"
pass "contactinfo rsa-fingerprints: tor's fingerprints, sorted, one per line, the same on stdout and in --output (0644 under umask 077, atomic, untouched when unchanged), the URL to publish it at"

# A relay whose ContactInfo lacks the proof is listed, and named.
ps_cli torrc set ContactInfo "email:tor[]example.org" relay --id exitB >/dev/null
ps_cli contactinfo rsa-fingerprints >"$T/stdout.txt" 2>"$T/cli.err"
cmp -s "$T/stdout.txt" "$T/want.txt" || fail "rsa-fingerprints with exitB's ContactInfo changed: $(cat "$T/stdout.txt")"
grep -q "1 listed relay lacks 'url:' or 'proof:uri-rsa' in its ContactInfo: exitB" "$T/cli.err" || fail "no warning: $(cat "$T/cli.err")"
ps_cli torrc set ContactInfo "email:tor[]example.org url:https://other.example.net proof:uri-rsa ciissversion:2" relay --id exitB >/dev/null
ps_cli contactinfo rsa-fingerprints >/dev/null 2>"$T/cli.err"
grep -q "more than one url:" "$T/cli.err" || fail "two url: values without a warning: $(cat "$T/cli.err")"
ps_cli torrc clear ContactInfo relay --id exitB >/dev/null
pass "a relay without url:/proof:uri-rsa in its rendered ContactInfo, or with another url:, is named in a warning"

# ---- relays that go, nodes that are not enabled -----------------------------------------------------------------
ps_cli node relays "$fp" 1 >/dev/null
[[ $(stored) == "exitA=${RSA[exitA]}/${ED[exitA]}" ]] || fail "after relay count 1: $(stored)"
ps_cli contactinfo rsa-fingerprints --output "$proof" 2>/dev/null
[[ $(cat "$proof") == "${RSA[exitA]}" ]] || fail "after relay count 1: $(cat "$proof")"
ps_cli node relays "$fp" 2 >/dev/null
[[ $(ps_cli --json list relays | jq -r '.[] | select(.name == "exitB") | .rsaFingerprint') == null ]] ||
        fail "exitB came back with its old identity"
ps_cli contactinfo rsa-fingerprints >/dev/null 2>"$T/cli.err"
grep -q "1 relay of enabled nodes has not reported its identity yet and is not listed: exitB" "$T/cli.err" ||
        fail "an unreported relay is not named: $(cat "$T/cli.err")"
pass "relay count 2 → 1: exitB's identity goes with it; back to 2: exitB unreported and named, until its node reports"

ps_cli node disable "$fp" >/dev/null
ps_cli contactinfo rsa-fingerprints --output "$proof" 2>/dev/null
[[ ! -s $proof ]] || fail "a disabled node's relays are listed: $(cat "$proof")"
report "$T/report.json" exitA
http POST /v1/node/fingerprints "$T/report.json" "$auth" >/dev/null; expect_error 401 TokenRejected
ps_cli node enable "$fp" >/dev/null
ps_cli contactinfo rsa-fingerprints --output "$proof" 2>/dev/null
[[ $(cat "$proof") == "${RSA[exitA]}" ]] || fail "enabled again: $(cat "$proof")"
ps_cli node remove "$fp" >/dev/null
[[ $(db_count relay_fingerprints) == 0 ]] || fail "identities left after node remove: $(stored)"
pass "a disabled node's relays leave the file and its session cannot report; enabled again they are back; node remove takes the identities"

server_stop
