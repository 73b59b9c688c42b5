#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-configd's boot flow against a real patela-server, patela-attestd and patela-keyd on swtpm:
# pending with the fingerprint → node enable → running, each relay's torrc accepted by tor and holding the
# keys tor fingerprints as keyd says → Diff/ShowConfig/Refresh repair a tampered file → relays added and
# removed on the server → node disabled: the next session check (CheckInterval=2s here) makes configd
# re-attest, refused, files removed, without a Refresh → time from start to all torrc written → an image
# registered while the node runs one the server does not know: the check asks for a fresh attestation,
# refused with the verdict (LogMismatch: this node sends no firmware log), relays gone.
source "$PATELA_SOURCE_DIR/test/integration/test-configd-lib.sh"
source "$PATELA_SOURCE_DIR/test/integration/lib-uki.sh"

fleet_setup
server_start --check-interval=2s
node_start
configd_config

# Files that are not configd's, in the directories it writes to: never touched.
mkdir -p "$TORRC_DIR" "$DROPIN_DIR"
echo '# the operator'"'"'s own' >"$TORRC_DIR/local.torrc"
echo '[Network]' >"$DROPIN_DIR/10-site.conf"
echo '# not ours' >"$DROPIN_DIR/patela-relay-exitZ.conf"

configd_start
wait_phase pending 20
fp=$(jq -r .fingerprint "$T/status.json")
[[ $fp == "$(vl GetIdentity | jq -r .fingerprint)" ]] || fail "configd's fingerprint $fp is not attestd's"
[[ $(ps_cli --json list nodes | jq -r '.[0].state + " " + .[0].fingerprint') == "pending $fp" ]] ||
        fail "server: $(ps_cli --json list nodes)"
[[ $(jq -r .nodeState "$T/status.json") == pending && $(jq -r .serverUrl "$T/status.json") == "$URL" ]] ||
        fail "status: $(cat "$T/status.json")"
grep -q "pending on $URL, fingerprint $fp" "$T/configd.log" || fail "the journal does not show the fingerprint"
[[ $(our_files "$TORRC_DIR" .torrc) == "" ]] || fail "files written while pending"
cv Refresh >"$T/refresh.out" 2>&1 && fail "Refresh of a pending node succeeded"
grep -q "io.patela.Config.Pending" "$T/refresh.out" || fail "Refresh while pending: $(cat "$T/refresh.out")"
pass "pending, with the fingerprint that the server and attestd show: $fp (credentials override patela.conf)"

ps_cli node relays "$fp" 2 >/dev/null
ps_cli node enable "$fp" >/dev/null
start=$(date +%s%N)
wait_phase running 30
ms=$((($(date +%s%N) - start) / 1000000))
[[ $(jq -r '[.relays[] | .name + ":" + .state] | join(",")' "$T/status.json") == "exitA:applied,exitB:applied" ]] ||
        fail "relays: $(cat "$T/status.json")"
[[ $(jq -r '.nodeState + " " + .lastVerdict' "$T/status.json") == "enabled accepted" ]] || fail "verdict: $(cat "$T/status.json")"
# No image registered: the server records the verdict and lets the node in; configd shows and logs it.
[[ $(jq -r .bootVerdict "$T/status.json") == LogMismatch ]] || fail "boot verdict: $(cat "$T/status.json")"
jq -r .bootVerdictReason "$T/status.json" | grep -q "no firmware event log" || fail "reason: $(cat "$T/status.json")"
grep -q "although its verdict is LogMismatch" "$T/configd.log" || fail "configd did not warn about the verdict"
[[ $(jq -r .lastError "$T/status.json") == null && $(jq -r .failedAttempts "$T/status.json") == 0 ]] ||
        fail "error after success: $(cat "$T/status.json")"
[[ $(our_files "$TORRC_DIR" .torrc) == "exitA.torrc exitB.torrc" ]] || fail "torrc files: $(ls "$TORRC_DIR")"
pass "node enabled: running ${ms} ms after the enable, two relays applied"
# This TPM proved its EK and AK at the enrolment proof: configd asks for quote-only challenges and the server
# gives them, so its attestation activated no credential.
grep -q "The server's challenge is quote-only" "$T/configd.log" || fail "configd's challenge was not quote-only"
[[ $(db_query "SELECT credential_proven FROM nodes") == 1 ]] || fail "the node is not credential_proven"
pass "attested with a quote-only challenge: no credential to activate after the enrolment proof"

for name in exitA exitB; do
        tor_check "$name"
done
grep -qx 'Address=192.0.2.10/32' "$DROPIN_DIR/patela-relay-exitA.conf" &&
        grep -qx 'Address=2001:db8::10/64' "$DROPIN_DIR/patela-relay-exitA.conf" ||
        fail "network drop-in: $(cat "$DROPIN_DIR/patela-relay-exitA.conf")"
[[ $(our_files "$DROPIN_DIR" .conf) == "patela-relay-exitA.conf patela-relay-exitB.conf" ]] ||
        fail "network drop-ins: $(ls "$DROPIN_DIR")"
pass "tor --verify-config accepts each torrc; tor --list-fingerprint with configd's KeyDirectory equals keyd's; drop-ins hold the relays' addresses"

# The exits resolve through the node's own resolver (forced in every torrc), which sends its queries from the
# node's own addresses: configd wrote them (this namespace's, none of the relays') and would reload it.
for r in exitA exitB; do
        [[ $(grep -c '^ServerDNSResolvConfFile ' "$TORRC_DIR/$r.torrc") == 1 ]] &&
                grep -qx "ServerDNSResolvConfFile $PATELA_TOR_RESOLV_CONF" "$TORRC_DIR/$r.torrc" ||
                fail "$r's torrc: $(grep ServerDNS "$TORRC_DIR/$r.torrc")"
done
resolver=$T/resolver/outgoing.conf
head -1 "$resolver" | grep -q '^# Written by patela-configd' || fail "no resolver file: $(ls "$T/resolver" 2>&1)"
grep -qx 'server:' "$resolver" && grep -q '^    outgoing-interface: ' "$resolver" || fail "resolver file: $(cat "$resolver")"
relay_addresses=$(grep -h '^Address=' "$DROPIN_DIR"/patela-relay-*.conf | sed 's/^Address=//; s|/.*||')
[[ -n $relay_addresses ]] || fail "no relay address in the drop-ins"
for a in $relay_addresses; do
        grep -qx "    outgoing-interface: $a" "$resolver" && fail "the resolver would send from relay address $a"
done
grep -q "would reload patela-resolver.service" "$T/configd.log" || fail "--no-units does not say it would reload the resolver"
pass "every torrc names the node's resolver (ServerDNSResolvConfFile); the resolver's outgoing addresses: $(grep -c outgoing-interface "$resolver"), none a relay's"

# The relays' identities reached the server once the keys were in place (ContactInfo proofs): what tor reads from
# the key files is what the server lists and what its rsa-fingerprint.txt holds.
# server_identities_check NAME…: these relays, and no other, have the identities tor and the key files show.
server_identities_check() {
        local name ed
        ps_cli --json list relays >"$T/server-relays.json"
        [[ $(jq -r '[.[] | select(.rsaFingerprint != null) | .name] | join(" ")' "$T/server-relays.json") == "$*" ]] ||
                fail "relays with identities at the server: $(jq -c '[.[] | {name, rsaFingerprint}]' "$T/server-relays.json"), want $*"
        for name in "$@"; do
                ed=$(tail -c 32 "$KEYD_KEYS/$name/ed25519_master_id_public_key" | base64 -w0 | tr -d =)
                [[ $(jq -r --arg n "$name" '.[] | select(.name == $n) | .rsaFingerprint + " " + .ed25519Identity' "$T/server-relays.json") == \
                        "${TOR_FP[$name]} $ed" ]] ||
                        fail "$name: server has $(jq -c --arg n "$name" '.[] | select(.name == $n)' "$T/server-relays.json"), tor says ${TOR_FP[$name]}, the key file $ed"
        done
        ps_cli contactinfo rsa-fingerprints --output "$T/rsa-fingerprint.txt" 2>/dev/null || fail "contactinfo rsa-fingerprints"
        for name in "$@"; do
                echo "${TOR_FP[$name]}"
        done | sort | cmp -s - "$T/rsa-fingerprint.txt" || fail "rsa-fingerprint.txt: $(cat "$T/rsa-fingerprint.txt")"
}
reports() {
        grep -c "Reported the fingerprints of" "$T/configd.log" || true
}
server_identities_check exitA exitB
grep -q "Reported the fingerprints of 2 relays to the server" "$T/configd.log" || fail "configd did not log its report"
[[ $(reports) == 1 ]] || fail "$(reports) reports, expected 1"
pass "configd reported its relays' identities: the server lists tor's RSA fingerprints and the key files' ed25519 keys, and rsa-fingerprint.txt holds them"

# Text beyond ASCII (an operator's name in ContactInfo) crosses the protocol as \u escapes and reaches the torrc
# as UTF-8: json-c's strict parser refuses raw non-ASCII bytes, which made such a reply undecodable.
ps_cli torrc set ContactInfo "Zoë Ørsted <ops@example.org> 🔒" relay --id exitA >/dev/null
cv Refresh >/dev/null || fail "Refresh with a non-ASCII ContactInfo: $(tail -3 "$T/configd.log")"
grep -qxF "ContactInfo \"Zoë Ørsted <ops@example.org> 🔒\"" "$TORRC_DIR/exitA.torrc" ||
        grep -qxF "ContactInfo Zoë Ørsted <ops@example.org> 🔒" "$TORRC_DIR/exitA.torrc" ||
        fail "ContactInfo: $(grep ContactInfo "$TORRC_DIR/exitA.torrc")"
tor_check exitA
ps_cli torrc clear ContactInfo relay --id exitA >/dev/null
pass "a non-ASCII ContactInfo reaches the torrc intact (\\u escapes on the wire) and tor accepts it"
[[ $(reports) == 1 ]] || fail "two cycles with the same keys sent $(reports) reports"

# ShowConfig is what was written; Diff sees a tampered file; Refresh repairs it.
cv ShowConfig >"$T/show.json"
[[ $(jq -r '.relays[] | select(.name == "exitB") | .torrc' "$T/show.json") == "$(cat "$TORRC_DIR/exitB.torrc")" ]] ||
        fail "ShowConfig's torrc is not the file"
[[ $(jq -r '.network.ipv6PrefixLength' "$T/show.json") == 64 ]] || fail "ShowConfig network: $(jq -c .network "$T/show.json")"
[[ $(cv Diff | jq -r '[.files[].change] | unique | join(",")') == unchanged ]] || fail "Diff after apply: $(cv Diff)"
echo 'ExitPolicy accept *:*' >>"$TORRC_DIR/exitB.torrc"
rm "$DROPIN_DIR/patela-relay-exitA.conf"
cv Diff >"$T/diff.json"
[[ $(jq -r '.files[] | select(.relay == "exitB" and .kind == "torrc") | .change + " " + (.addedLines | length | tostring) + " " + .removedLines[0]' "$T/diff.json") == \
        'changed 0 ExitPolicy accept *:*' ]] || fail "Diff of a tampered torrc: $(cat "$T/diff.json")"
[[ $(jq -r '.files[] | select(.relay == "exitA" and .kind == "network") | .change' "$T/diff.json") == added ]] ||
        fail "Diff of a missing drop-in: $(cat "$T/diff.json")"
[[ $(cv Refresh | jq -r '.phase + " " + (.applied | tostring)') == "running 2" ]] || fail "Refresh"
[[ $(cv Diff | jq -r '[.files[].change] | unique | join(",")') == unchanged ]] || fail "Diff after Refresh: $(cv Diff)"
pass "ShowConfig shows the files; Diff names a tampered torrc line and a missing drop-in; Refresh restores both"

# The server changes the relay count: files follow; keys stay sealed in keyd.
ps_cli node relays "$fp" 3 >/dev/null
[[ $(cv Refresh | jq -r .applied) == 3 ]] || fail "Refresh after 3 relays"
status >/dev/null
[[ $(our_files "$TORRC_DIR" .torrc) == "exitA.torrc exitB.torrc exitC.torrc" ]] || fail "3 relays: $(ls "$TORRC_DIR")"
tor_check exitC
ps_cli node relays "$fp" 1 >/dev/null
[[ $(cv Refresh | jq -r .applied) == 1 ]] || fail "Refresh after 1 relay"
status >/dev/null
[[ $(our_files "$TORRC_DIR" .torrc) == exitA.torrc ]] || fail "1 relay: $(ls "$TORRC_DIR")"
[[ $(our_files "$DROPIN_DIR" .conf) == patela-relay-exitA.conf ]] || fail "1 relay: $(ls "$DROPIN_DIR")"
[[ $(kv ListRelays | jq '.relays | length') == 3 ]] || fail "keys of removed relays were deleted"
# The relays that went took their identities at the server with them; configd reported the new set each time.
server_identities_check exitA
[[ $(reports) == 3 ]] || fail "$(reports) reports after 2 → 3 → 1 relays, expected 3"
grep -q "would stop patela-tor@exitC.service" "$T/configd.log" || fail "--no-units does not say what it would stop"
pass "relay count 2 → 3 → 1 on the server: torrc and drop-ins added and removed, identities reported and removed at the server; the keys stay sealed"

# More relays than addresses (issue 12, item 2): the server doubles up, each relay on a port of its own; an
# address that several relays share is configured once, in the first one's drop-in, and stays while one of
# them is left.
ps_cli pool add names exitD exitE >/dev/null
ps_cli node set IPv4Gateway 192.0.2.1 default >/dev/null
ps_cli node relays "$fp" 5 >/dev/null
[[ $(cv Refresh | jq -r .applied) == 5 ]] || fail "Refresh after 5 relays: $(tail -3 "$T/configd.log")"
status >/dev/null
[[ $(ps_cli --json list relays | jq -r '[.[] | .name + "=" + .ipv4 + ":" + (.orPort | tostring)] | join(",")') == \
        "exitA=192.0.2.10:9001,exitB=192.0.2.11:9001,exitC=192.0.2.12:9001,exitD=192.0.2.10:9002,exitE=192.0.2.11:9002" ]] ||
        fail "allocation: $(ps_cli list relays)"
grep -qx 'ORPort 192.0.2.10:9002' "$TORRC_DIR/exitD.torrc" && grep -qx 'ORPort \[2001:db8::10\]:9002' "$TORRC_DIR/exitD.torrc" ||
        fail "exitD's ORPort: $(grep ORPort "$TORRC_DIR/exitD.torrc")"
for name in exitD exitE; do
        tor_check "$name"
done
[[ $(our_files "$DROPIN_DIR" .conf) == "patela-relay-exitA.conf patela-relay-exitB.conf patela-relay-exitC.conf patela-routes.conf" ]] ||
        fail "drop-ins with shared addresses: $(ls "$DROPIN_DIR")"
for a in 192.0.2.10/32 192.0.2.11/32 2001:db8::10/64 2001:db8::11/64; do
        [[ $(cat "$DROPIN_DIR"/patela-relay-*.conf | grep -cxF "Address=$a") == 1 ]] || fail "Address=$a not once: $(cat "$DROPIN_DIR"/*)"
done
[[ $(cat "$DROPIN_DIR"/patela-relay-*.conf | grep -cxF "From=192.0.2.10/32") == 1 &&
   $(cat "$DROPIN_DIR"/patela-relay-*.conf | grep -c "^From=") == 3 ]] || fail "rules: $(cat "$DROPIN_DIR"/*)"
[[ $(relay_field exitD networkPath) == null && $(relay_field exitA networkPath) == "$DROPIN_DIR/patela-relay-exitA.conf" ]] ||
        fail "networkPath: $(cat "$T/status.json")"
[[ $(cv Diff | jq -r '[.files[].change] | unique | join(",")') == unchanged ]] || fail "Diff with shared addresses: $(cv Diff)"
ps_cli node relays "$fp" 4 >/dev/null
[[ $(cv Refresh | jq -r .applied) == 4 ]] || fail "Refresh after 4 relays"
grep -qx 'Address=192.0.2.11/32' "$DROPIN_DIR/patela-relay-exitB.conf" || fail "exitE's removal took exitB's address"
ps_cli node relays "$fp" 1 >/dev/null
ps_cli node clear IPv4Gateway default >/dev/null
[[ $(cv Refresh | jq -r .applied) == 1 ]] || fail "Refresh back to 1 relay"
[[ $(our_files "$DROPIN_DIR" .conf) == "patela-relay-exitA.conf" ]] || fail "1 relay: $(ls "$DROPIN_DIR")"
pass "5 relays on 3 addresses: exitD on 192.0.2.10:9002 and [2001:db8::10]:9002, tor accepts its torrc; each shared address and its rule once, in the first relay's drop-in, kept when a relay sharing it goes"

# Refused: node disabled. The session dies with it: the next check is a 401, configd attests again without
# being asked, and the enrolment says NodeDisabled.
status >/dev/null
[[ $(jq -r .nextCheck "$T/status.json") != null ]] || fail "no check planned: $(cat "$T/status.json")"
for ((i = 0; i < 100; i++)); do
        [[ $(status | jq -r .lastCheck) != null ]] && break
        sleep 0.05
done
[[ $(jq -r .lastCheck "$T/status.json") != null ]] || fail "no check answered in 5 s: $(cat "$T/status.json")"
start=$(date +%s%N)
ps_cli node disable "$fp" >/dev/null
wait_phase refused 10
ms=$((($(date +%s%N) - start) / 1000000))
grep -q "Check: the server ended the session (TokenRejected" "$T/configd.log" || fail "not through the check: $(tail "$T/configd.log")"
cv Refresh >"$T/refresh.out" 2>&1 && fail "Refresh of a disabled node succeeded"
grep -q "io.patela.Config.Refused" "$T/refresh.out" || fail "Refresh when disabled: $(cat "$T/refresh.out")"
status >/dev/null
[[ $(jq -r .nextCheck "$T/status.json") == null ]] || fail "a refused node still checks: $(cat "$T/status.json")"
[[ $(jq -r '.phase + " " + .lastErrorCode + " " + .nodeState' "$T/status.json") == "refused NodeDisabled disabled" ]] ||
        fail "refused status: $(cat "$T/status.json")"
grep -q "disabled" <<<"$(jq -r .lastError "$T/status.json")" || fail "no reason: $(cat "$T/status.json")"
[[ $(jq '.relays | length' "$T/status.json") == 0 ]] || fail "relays still listed"
[[ $(our_files "$TORRC_DIR" .torrc) == "" && $(our_files "$DROPIN_DIR" .conf) == "" ]] ||
        fail "files left after refusal: $(ls "$TORRC_DIR" "$DROPIN_DIR")"
[[ -f $TORRC_DIR/local.torrc && -f $DROPIN_DIR/10-site.conf && -f $DROPIN_DIR/patela-relay-exitZ.conf ]] ||
        fail "a file configd did not write was removed"
configd_alive || fail "configd died"
# The relays' key files go from keyd's tmpfs directory too (the keys stay sealed in the TPM).
for ((i = 0; i < 50; i++)); do
        [[ -z $(ls -A "$KEYD_KEYS" 2>/dev/null) ]] && break
        sleep 0.1
done
[[ -z $(ls -A "$KEYD_KEYS" 2>/dev/null) ]] || fail "key files left after refusal: $(ls -R "$KEYD_KEYS")"
grep -q "patela-keyd removed the key files of 5 relays" "$T/configd.log" || fail "configd did not ask keyd: $(tail -5 "$T/configd.log")"
pass "node disabled: refused ${ms} ms later through the session check ($(jq -r .lastError "$T/status.json")), relay files and key files removed, other files untouched"

# Enabled again (keys unchanged in the TPM), then a cold start with the node enabled: keyd and configd
# restart, key files and torrc are gone, as after a reboot; time to all torrc written.
ps_cli node enable "$fp" >/dev/null
ps_cli node relays "$fp" 3 >/dev/null
cv Refresh >/dev/null || fail "Refresh after re-enable"
status >/dev/null
[[ $(relay_field exitC rsaFingerprint) == "$(kv ListRelays | jq -r '.relays[] | select(.name == "exitC") | .rsaFingerprint')" ]] ||
        fail "exitC changed identity"
configd_stop
keyd_stop
rm -rf "$KEYD_KEYS" "$TORRC_DIR"/exit*.torrc "$DROPIN_DIR"/patela-relay-exit[ABC].conf
keyd_start
start=$(date +%s%N)
configd_start
for ((i = 0; i < 600; i++)); do
        [[ $(our_files "$TORRC_DIR" .torrc) == "exitA.torrc exitB.torrc exitC.torrc" ]] && break
        sleep 0.05
done
ms=$((($(date +%s%N) - start) / 1000000))
wait_phase running 10
[[ $(our_files "$TORRC_DIR" .torrc) == "exitA.torrc exitB.torrc exitC.torrc" ]] || fail "cold start: $(ls "$TORRC_DIR")"
for name in exitA exitB exitC; do
        tor_check "$name"
done
echo "# time from patela-configd start (node enabled, keys unsealed from the TPM) to all 3 torrc written: ${ms} ms"
server_identities_check exitA exitB exitC
pass "cold start of an enabled node: 3 relays written in ${ms} ms, same identities"

# The server goes away and configd restarts: unreachable, retrying with backoff, relays' files untouched.
server_stop
configd_stop
configd_start
wait_phase unreachable 20
for ((i = 0; i < 200; i++)); do
        [[ $(status | jq -r .failedAttempts) -ge 3 ]] && break
        sleep 0.05
done
[[ $(jq -r .failedAttempts "$T/status.json") -ge 3 ]] || fail "no retries: $(cat "$T/status.json")"
[[ $(jq -r .nextAttempt "$T/status.json") != null ]] || fail "no next attempt: $(cat "$T/status.json")"
grep -qi "connect" <<<"$(jq -r .lastError "$T/status.json")" || fail "unclear error: $(cat "$T/status.json")"
cv Refresh >"$T/refresh.out" 2>&1 && fail "Refresh without a server succeeded"
grep -q "io.patela.Config.Unreachable" "$T/refresh.out" || fail "Refresh without a server: $(cat "$T/refresh.out")"
[[ $(our_files "$TORRC_DIR" .torrc) == "exitA.torrc exitB.torrc exitC.torrc" ]] || fail "files changed while unreachable"
configd_alive || fail "configd died"
pass "server gone: unreachable after $(jq -r .failedAttempts "$T/status.json") attempts ($(jq -r .lastError "$T/status.json")), relays' files kept"

# An image is registered while the node runs an image the server does not know: its session rests on a verdict
# that is refused from now on. The check says re-attest; the attestation is refused with the verdict.
configd_stop
server_start --check-interval=2s
configd_config
configd_start
wait_phase running 20
make_uki "$T/uki" 1.0
start=$(date +%s%N)
ps_cli image add "$T/uki/patela.reference.json" >/dev/null 2>&1 || fail "image add"
wait_phase refused 10
ms=$((($(date +%s%N) - start) / 1000000))
grep -q "The server asks for a fresh attestation" "$T/configd.log" || fail "not through the check: $(tail "$T/configd.log")"
[[ $(jq -r '.lastErrorCode + " " + .bootVerdict + " " + .lastVerdict' "$T/status.json") == "LogMismatch LogMismatch rejected" ]] ||
        fail "refused status: $(cat "$T/status.json")"
[[ $(our_files "$TORRC_DIR" .torrc) == "" ]] || fail "torrc left after the refusal: $(ls "$TORRC_DIR")"
PATELA_RUNTIME_DIRECTORY=$T "$PATELA_BUILD_DIR/src/patelactl/patelactl" --config-socket="$CONFIGD_SOCK" status >"$T/ctl.txt" 2>&1 || true
grep -Eq "Boot verdict: LogMismatch: .*no firmware event log" "$T/ctl.txt" || fail "patelactl status: $(cat "$T/ctl.txt")"
pass "image registered while the node runs an unknown one: re-attested at the check, refused (LogMismatch) ${ms} ms later, relays gone; patelactl status shows the verdict"

configd_stop
