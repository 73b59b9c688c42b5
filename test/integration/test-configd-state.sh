#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tor's state survives a reboot without a disk (issue 12, item 5), on a node of swtpm booted (synthetically, with
# both event logs) into a registered image, so that the server judges it Trusted, with attestd, keyd and configd:
#   - tor state files with BWHistory lines in the instances' directories (as patela-tor@ lays them out) are sealed
#     by keyd and saved by configd every StateSaveInterval=; the server holds only ciphertext (the database has
#     no plaintext line, every blob starts with keyd's magic); nothing of the plaintext in any log;
#   - a "reboot" (fresh key, state and instance directories, keyd and configd anew): the states are fetched and
#     keyd puts each back into its relay's key directory byte for byte, before anything would start tor;
#   - a boot the server does not judge Trusted gets nothing (409 NotTrusted) and restores nothing;
#   - the endpoints with curl: no token, NotTrusted, malformed bodies (empty, unknown field, not base64, too short,
#     too large, too many relays, a relay twice), then with a Trusted session a relay of another node (UnknownRelay,
#     nothing stored: all or nothing), a replacement, and the blob gone with its relay;
#   - keyd with varlinkctl: garbage, another relay's blob, an oversized blob refused (StateRejected,
#     InvalidParameter), and on a boot with other software (a PCR of the policy extended) it opens nothing and
#     seals nothing (PolicyMismatch), no state file written.
source "$PATELA_SOURCE_DIR/test/integration/test-configd-lib.sh"
source "$PATELA_SOURCE_DIR/test/integration/lib-uki.sh"

TOR_DIR=$T/tor
SEALED_DIR=$T/sealed

# plant NAME VALUE: tor's state file of NAME's instance, with a bandwidth history whose first value is VALUE.
plant() {
        local d=$TOR_DIR/$1/data y
        y=$(date -u -d '-1 day' '+%Y-%m-%d %H:%M:%S')
        mkdir -p "$d"
        printf '%s\n' "# Tor state file (planted by the test)" "BWHistoryReadEnds $y" "BWHistoryReadInterval 86400" \
                "BWHistoryReadValues $2,2345678000" "BWHistoryReadMaxima 7654321,8765432" "BWHistoryWriteEnds $y" \
                "BWHistoryWriteInterval 86400" "BWHistoryWriteValues 3456789000,$2" "BWHistoryWriteMaxima 7654321,8765432" \
                "LastWritten $y" >"$d/state"
        chmod 0600 "$d/state"
}

# saved COUNT [SECONDS]: until the server holds COUNT relay states.
saved() {
        local i
        for ((i = 0; i < ${2:-20} * 10; i++)); do
                [[ $(db_count relay_states) == "$1" ]] && return 0
                sleep 0.1
        done
        fail "the server holds $(db_count relay_states) relay states, not $1: $(tail -5 "$T/configd.log")"
}

# --- the server: an image registered (measured boot enforced) ----------------------------------------------
make_uki "$T/uki" 1.0
fleet_setup "DisableNetwork 1"
ps_cli image add "$T/uki/patela.reference.json" >/dev/null 2>&1 || fail "image add"
server_start

# --- the node, Trusted, two relays ---------------------------------------------------------------------------
swtpm_start
boot_image "$T/uki/patela.reference.json"
policy_for_image "$T/uki/patela.reference.json"
tpm2_createek -c 0x81010001 -G rsa -u "$T/ek.pub" >/dev/null || fail "tpm2_createek failed"
attestd_start --firmware-log="$T/firmware.evlog" --measure-log="$T/tpm2-measure.log"
keyd_start --tor-directory="$TOR_DIR" --state-directory="$SEALED_DIR"
configd_config
echo "StateSaveInterval=1s" >>"$T/patela.conf"
configd_start
wait_phase pending 30
fp=$(jq -r .fingerprint "$T/status.json")
ps_cli node relays "$fp" 2 >/dev/null
ps_cli node enable "$fp" >/dev/null
wait_phase running 30
[[ $(jq -r .bootVerdict "$T/status.json") == Trusted ]] || fail "not Trusted: $(cat "$T/status.json")"
mapfile -t RELAYS < <(jq -r '.relays[].name' "$T/status.json")
((${#RELAYS[@]} == 2)) || fail "relays: ${RELAYS[*]}"
A=${RELAYS[0]} B=${RELAYS[1]}

# --- saved: ciphertext only ----------------------------------------------------------------------------------
plant "$A" 1234567000
plant "$B" 7777777000
sleep 1.1 # StateSaveInterval=1s since configd started
cv Refresh >/dev/null || fail "Refresh: $(tail -5 "$T/configd.log")"
saved 2
grep -q "saved the sealed tor state of 2 relays" "$T/server.log" || fail "server log: $(tail -5 "$T/server.log")"
[[ $(db_query "SELECT substr($(db_hex state), 1, 8) FROM relay_states" | paste -sd ' ') == "50545331 50545331" ]] ||
        fail "a stored blob is not keyd's: $(db_query "SELECT substr($(db_hex state), 1, 16) FROM relay_states")"
# Every byte the database keeps on disk, its log included, and a dump of the table: no plaintext.
if db_is_postgresql; then
        db_query "CHECKPOINT" >/dev/null
        grep -r -a -q -e BWHistory -e 1234567000 -e 7777777000 "$PG_DIR/data" &&
                fail "plaintext of the tor state in the cluster's files"
        [[ -z $(pg_dump -d "$DB" -t relay_states | grep -e BWHistory) ]] || fail "plaintext in the dump"
else
        sqlite3 "$DB" "PRAGMA wal_checkpoint(FULL)" >/dev/null
        for f in "$DB"*; do
                grep -a -q -e BWHistory -e 1234567000 -e 7777777000 "$f" && fail "plaintext of the tor state in $f"
        done
        [[ -z $(sqlite3 "$DB" ".dump relay_states" | grep -e BWHistory) ]] || fail "plaintext in the dump"
fi
for l in "$T/keyd.log" "$T/configd.log" "$T/server.log"; do
        grep -q -e BWHistory -e 1234567000 -e 7777777000 "$l" && fail "plaintext of the tor state in $l"
done
[[ -f $SEALED_DIR/$A/sealed && $(head -c 4 "$SEALED_DIR/$A/sealed") == PTS1 ]] || fail "keyd kept no sealed copy of $A"
[[ $(ps_cli --json list relays | jq -r '[.[] | .stateSaved | test("^20[0-9-]+T")] | all') == true ]] ||
        fail "list relays: $(ps_cli --json list relays | jq -c '[.[] | {name, stateSaved}]')"
pass "StateSaveInterval=1s: keyd sealed both relays' tor state, the server holds 2 blobs of keyd's (PTS1…), list relays shows when, no plaintext in the database or any log"

# --- a reboot: fresh directories, keyd and configd anew; the states come back before tor ---------------------
cp "$TOR_DIR/$A/data/state" "$T/state-A" && cp "$TOR_DIR/$B/data/state" "$T/state-B"
configd_stop
keyd_stop
rm -rf "$TOR_DIR" "$SEALED_DIR" "${KEYD_KEYS:?}"/*
keyd_start --tor-directory="$TOR_DIR" --state-directory="$SEALED_DIR"
start=$(date +%s%N)
configd_start
wait_phase running 30
ms=$((($(date +%s%N) - start) / 1000000))
cmp "$T/state-A" "$KEYD_KEYS/$A/state" || fail "$A's state is not what was saved"
cmp "$T/state-B" "$KEYD_KEYS/$B/state" || fail "$B's state is not what was saved"
[[ $(stat -c '%a %U' "$KEYD_KEYS/$A/state") == "600 nobody" ]] ||
        fail "$A's state: $(stat -c '%a %U' "$KEYD_KEYS/$A/state"), not the relay user's 0600"
grep -q "Fetched the sealed tor state of 2 relays" "$T/configd.log" || fail "configd: $(tail -5 "$T/configd.log")"
fetch_ms=$(grep -o "Fetched the sealed tor state of 2 relays ([0-9.]* ms)" "$T/configd.log" | tail -1 | grep -o '[0-9.]* ms')
grep -q "Relay $A: tor state restored" "$T/keyd.log" || fail "keyd: $(tail -5 "$T/keyd.log")"
echo "# configd start → running ${ms} ms, the state fetch ${fetch_ms}"
pass "reboot (fresh directories): configd fetched both states, keyd put each back into its key directory byte for byte (0600, the relay's user); start → running ${ms} ms, the fetch ${fetch_ms}"

# --- keyd: bad input, wrong relay ---------------------------------------------------------------------------
blob_a=$(db_query "SELECT $(db_hex s.state) FROM relay_states s JOIN relays r ON r.id = s.relay_id WHERE r.name = '$A'" |
         xxd -r -p | base64 -w0)
# ensure_json NAME STATE_B64: EnsureRelays' parameters for NAME with that state.
ensure_json() {
        jq -nc --arg n "$1" --arg s "$2" '{relays: [{name: $n, user: "nobody", state: $s}]}'
}
rm -f "$KEYD_KEYS/$A/state" "$KEYD_KEYS/$B/state"
kv EnsureRelays "$(ensure_json "$A" "$blob_a")" >/dev/null || fail "EnsureRelays with $A's own state"
cmp "$T/state-A" "$KEYD_KEYS/$A/state" || fail "$A's state restored by hand differs"
kv_error StateRejected EnsureRelays "$(ensure_json "$B" "$blob_a")" >/dev/null
[[ -e $KEYD_KEYS/$B/state ]] && fail "$A's state written for $B"
kv_error StateRejected EnsureRelays "$(ensure_json "$A" "$(head -c 300 /dev/urandom | base64 -w0)")" >/dev/null
kv_error StateRejected EnsureRelays "$(ensure_json "$A" "$(printf 'PTS1%0100d' 0 | base64 -w0)")" >/dev/null
kv_error StateRejected EnsureRelays "$(ensure_json "$A" "not base64")" >/dev/null
kv_error InvalidParameter EnsureRelays "$(ensure_json "$A" "$(head -c 40000 /dev/zero | base64 -w0)")" >/dev/null
kv_error InvalidParameter SealStates '{"relays":[]}' >/dev/null
kv_error InvalidParameter SealStates '{"relays":["no-such/nick"]}' >/dev/null
[[ $(kv SealStates '{"relays":["exitZ"]}' | jq -c .states) == '[]' ]] || fail "SealStates of a relay without a state"
grep -q "Refusing the tor state given for $B" "$T/keyd.log" || fail "keyd does not say why"
pass "keyd: another relay's blob, garbage and a blob with keyd's magic but not keyd's seal refused (StateRejected, nothing written), an oversized one and bad relay lists InvalidParameter"

# --- configd stops: the state saved once more -------------------------------------------------------------------
plant "$A" 4444444000
mkdir -p "$TOR_DIR/$B/data" && cp "$T/state-B" "$TOR_DIR/$B/data/state"
saves=$(grep -c "saved the sealed tor state of 2 relays" "$T/server.log")
configd_stop
(($(grep -c "saved the sealed tor state of 2 relays" "$T/server.log") == saves + 1)) ||
        fail "configd stopped without saving: $(tail -5 "$T/configd.log")"
grep -q "Stopping: saving the relays' tor state at the server first" "$T/configd.log" || fail "configd: $(tail -3 "$T/configd.log")"
pass "configd stopped (SIGTERM): it had keyd seal the relays' state and saved it at the server before exiting"

# Within a boot, keyd's copy is the newest: the key directory's state follows each seal (a relay that starts again
# begins where tor left), a state given by configd does not go over it, and a relay asked for without one gets it.
cmp "$TOR_DIR/$A/data/state" "$KEYD_KEYS/$A/state" || fail "$A's key directory does not hold the state keyd sealed last"
kv EnsureRelays "$(ensure_json "$A" "$blob_a")" | jq -e '.relays[0].stateRestored == false' >/dev/null ||
        fail "a given state went over the one keyd sealed in this boot"
cmp "$TOR_DIR/$A/data/state" "$KEYD_KEYS/$A/state" || fail "$A's newer state was replaced"
rm "$KEYD_KEYS/$A/state"
kv EnsureRelays "$(relays_json "$A")" | jq -e '.relays[0].stateRestored == true' >/dev/null ||
        fail "keyd did not put back the state it kept"
cmp "$TOR_DIR/$A/data/state" "$KEYD_KEYS/$A/state" || fail "$A's kept state put back differs"
pass "within a boot: the key directory's state follows keyd's last seal; a state from the server does not go over it; a relay without one gets keyd's copy back"

# --- the server's endpoints with curl ----------------------------------------------------------------------------
# MeasuredBoot=warn: a session without event logs is accepted, and judged LogMismatch, not Trusted.
server_stop
server_start --measured-boot=warn
node_identity
node_session
auth="Authorization: Bearer $TOKEN"
states() { db_query "SELECT relay_id || ' ' || $(db_hex state) || ' ' || saved_at FROM relay_states ORDER BY relay_id"; }
before=$(states | sha256sum)
body() { jq -nc --arg n "$1" --arg s "$2" '{relays: [{name: $n, state: $s}]}' >"$T/body.json"; }
body "$A" "$(head -c 100 /dev/urandom | base64 -w0)"
http GET /v1/node/state >/dev/null
expect_error 401 TokenMissing
http GET /v1/node/state "" "$auth" >/dev/null
expect_error 409 NotTrusted
http POST /v1/node/state/save "$T/body.json" "$auth" >/dev/null
expect_error 409 NotTrusted
grep -q "tor state refused: its last attestation was not judged Trusted" "$T/server.log" || fail "server log"
echo '{"relays":[]}' >"$T/bad.json"
http POST /v1/node/state/save "$T/bad.json" "$auth" >/dev/null
expect_error 400 InvalidField
echo '{"relays":[{"name":"exitA","state":"UFRTMQ==","x":1}]}' >"$T/bad.json"
http POST /v1/node/state/save "$T/bad.json" "$auth" >/dev/null
expect_error 400 UnknownField
body "$A" "!!!!"
http POST /v1/node/state/save "$T/body.json" "$auth" >/dev/null
expect_error 400 InvalidField
body "$A" "$(head -c 16 /dev/urandom | base64 -w0)"
http POST /v1/node/state/save "$T/body.json" "$auth" >/dev/null
expect_error 400 InvalidField
body "$A" "$(head -c 40000 /dev/urandom | base64 -w0)"
http POST /v1/node/state/save "$T/body.json" "$auth" >/dev/null
expect_error 413 InvalidField
s=$(head -c 64 /dev/urandom | base64 -w0)
jq -nc --arg s "$s" '{relays: [range(65) | {name: "r\(.)", state: $s}]}' >"$T/bad.json"
http POST /v1/node/state/save "$T/bad.json" "$auth" >/dev/null
expect_error 413 InvalidField
jq -nc --arg s "$s" --arg n "$A" '{relays: [{name: $n, state: $s}, {name: $n, state: $s}]}' >"$T/bad.json"
http POST /v1/node/state/save "$T/bad.json" "$auth" >/dev/null
expect_error 400 InvalidField
[[ $(states | sha256sum) == "$before" ]] ||
        fail "a refused request changed the stored states"
pass "curl: no token 401, a session not judged Trusted 409 NotTrusted for both; empty, unknown field, not base64, too short, too large (413), 65 relays (413), a relay twice: refused, nothing changed"

# A Trusted session: the boot's event logs with the quote, as configd sends them.
node_challenge
node_answer
vl GetEventLogs >"$T/logs.json"
jq -c --slurpfile l "$T/logs.json" '. + {firmwareLog: $l[0].firmwareLog, userspaceLog: $l[0].userspaceLog}' \
        "$T/attest.json" >"$T/attest-logs.json"
http POST /v1/attest "$T/attest-logs.json" >"$T/token.json"
[[ $HTTP_STATUS == 200 ]] || fail "attest with event logs: HTTP $HTTP_STATUS $(cat "$T/token.json")"
auth="Authorization: Bearer $(jq -r .token "$T/token.json")"
http GET /v1/node/state "" "$auth" >"$T/states.json"
[[ $HTTP_STATUS == 200 && $(jq -r '[.relays[].name] | sort | join(" ")' "$T/states.json") == "$(printf '%s\n' "$A" "$B" | sort | tr '\n' ' ' | sed 's/ $//')" ]] ||
        fail "GET as Trusted: HTTP $HTTP_STATUS $(head -c 300 "$T/states.json")"
jq -nc --arg s "$s" --arg n "$A" '{relays: [{name: $n, state: $s}, {name: "exitZ", state: $s}]}' >"$T/bad.json"
http POST /v1/node/state/save "$T/bad.json" "$auth" >/dev/null
expect_error 409 UnknownRelay
[[ $(states | sha256sum) == "$before" ]] ||
        fail "a request naming another node's relay changed the stored states"
body "$A" "$s"
http POST /v1/node/state/save "$T/body.json" "$auth" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "save as Trusted: HTTP $HTTP_STATUS $(cat "$T/http.body")"
stored=$(db_query "SELECT $(db_hex s.state) FROM relay_states s JOIN relays r ON r.id = s.relay_id WHERE r.name = '$A'")
[[ -n $stored && $stored == "$(base64 -d <<<"$s" | xxd -p | tr -d '\n')" ]] || fail "$A's blob not replaced"
ps_cli node relays "$fp" 1 >/dev/null
[[ $(db_count relay_states) == 1 ]] || fail "a relay's state outlived the relay: $(db_count relay_states)"
pass "curl with a Trusted session: both blobs back; a save naming a relay that is not the node's: 409 UnknownRelay, nothing stored; a replacement stored as sent; relay count 2 → 1: its state gone with it"
ps_cli node relays "$fp" 2 >/dev/null

# --- a boot the server does not trust: configd gets nothing, keyd restores nothing -------------------------------
mv "$T/tpm2-measure.log" "$T/tpm2-measure.log.away"
rm -rf "${KEYD_KEYS:?}"/* "$TOR_DIR" "$SEALED_DIR" # a reboot: nothing in RAM
configd_config
configd_start
wait_phase running 30
[[ $(jq -r .bootVerdict "$T/status.json") == LogMismatch ]] || fail "verdict: $(cat "$T/status.json")"
grep -q "The server did not release the relays' tor state: HTTP 409 NotTrusted" "$T/configd.log" ||
        fail "configd: $(grep -i 'tor state' "$T/configd.log" | tail -3)"
[[ -z $(find "$KEYD_KEYS" -name state) ]] || fail "a state restored on a boot judged LogMismatch: $(find "$KEYD_KEYS" -name state)"
configd_stop
mv "$T/tpm2-measure.log.away" "$T/tpm2-measure.log"
pass "a boot judged LogMismatch (MeasuredBoot=warn): running, the server released no state (409 NotTrusted), no state file in any key directory"

# --- another measured boot: keyd opens nothing, seals nothing --------------------------------------------------
plant "$A" 1234567000
tpm2_pcrextend "4:sha256=$(printf 'other software' | sha256sum | cut -d' ' -f1)" || fail "tpm2_pcrextend"
rm -f "$KEYD_KEYS/$A/state"
kv_error PolicyMismatch EnsureRelays "$(ensure_json "$A" "$blob_a")" >/dev/null
[[ -e $KEYD_KEYS/$A/state ]] && fail "a state written on another boot"
kv_error PolicyMismatch SealStates "{\"relays\":[\"$A\"]}" >/dev/null
pass "a boot with other software (PCR 4 extended): EnsureRelays with $A's state and SealStates of its live file: PolicyMismatch, no state file written"
