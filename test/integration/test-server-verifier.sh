#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The verifier: a node on swtpm boots (synthetically: firmware log + systemd's log, every digest extended into
# the TPM) a UKI made by objcopy whose reference patela-pcrlock wrote; attestd sends both logs; the server
# replays them against the verified quote and judges — UnknownImage before the image is registered, Trusted
# after, RetiredImage once it is retired, FirmwareChanged when PCR 2 changes until `node repin`, LogMismatch
# (or a 400) for every mutated log, never a crash. The verdict is recorded in the node's row and the
# attestation log; the node still gets its session (not refused yet: docs/server.md, "Measured boot").
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
source "$PATELA_SOURCE_DIR/test/integration/lib-uki.sh"

make_uki "$T/a" 1.0
make_uki "$T/b" 2.0

ca_setup
ps_cli pool add names relayOne relayTwo >/dev/null
server_start

swtpm_start
boot_image "$T/a/patela.reference.json"
attestd_start --firmware-log="$T/firmware.evlog" --measure-log="$T/tpm2-measure.log"
node_identity
http POST /v1/enroll "$T/enroll.json" >/dev/null
ps_cli node enable 1 >/dev/null

# attest_logs [JQ_FILTER_ON_LOGS]: a fresh challenge, the answer with attestd's event logs (optionally changed
# by a jq filter over {firmwareLog, userspaceLog}, in which $m is the content of $T/mutated.b64), POST
# /v1/attest; the body in $T/http.body.
attest_logs() {
        node_challenge
        node_answer
        touch "$T/mutated.b64"
        vl GetEventLogs | jq -c --rawfile m "$T/mutated.b64" "${1:-.}" >"$T/logs.json"
        jq -c --slurpfile l "$T/logs.json" '. + $l[0]' "$T/attest.json" >"$T/attest-logs.json"
        http POST /v1/attest "$T/attest-logs.json" >/dev/null
}
verdict() {
        sqlite3 "$DB" "SELECT last_verdict FROM nodes WHERE id = 1"
}
reason() {
        sqlite3 "$DB" "SELECT last_verdict_reason FROM nodes WHERE id = 1"
}
expect_verdict() {
        [[ $HTTP_STATUS == 200 ]] || fail "$2: HTTP $HTTP_STATUS $(cat "$T/http.body")"
        [[ $(verdict) == "$1" ]] || fail "$2: verdict $(verdict) ($(reason)), expected $1"
        [[ $(sqlite3 "$DB" "SELECT measured_verdict FROM attestations ORDER BY id DESC LIMIT 1") == "$1" ]] ||
                fail "$2: the attestation log's newest entry does not say $1"
}

# --- no image registered --------------------------------------------------------------------------------
attest_logs
expect_verdict UnknownImage "unregistered UKI"
reason | grep -q "no registered image has the UKI measured in PCR 4" || fail "reason: $(reason)"
[[ $(db_count node_firmware_pins) == 0 ]] || fail "an untrusted attestation pinned the firmware"
pass "a UKI no image is registered for: UnknownImage, recorded ($(reason))"

# --- registered: Trusted, firmware pinned ---------------------------------------------------------------
ps_cli image add "$T/a/patela.reference.json" >/dev/null 2>&1 || fail "image add a"
ps_cli image add "$T/b/patela.reference.json" >/dev/null 2>&1 || fail "image add b"
attest_logs
expect_verdict Trusted "registered UKI"
[[ $(sqlite3 "$DB" "SELECT i.name FROM nodes n JOIN images i ON i.id = n.image_id WHERE n.id = 1") == patela-1.0 ]] ||
        fail "the node's image is not patela-1.0"
[[ $(sqlite3 "$DB" "SELECT group_concat(pcr) FROM (SELECT pcr FROM node_firmware_pins WHERE node_id = 1 ORDER BY pcr)") == 0,1,2,3,5,7 ]] ||
        fail "pins: $(sqlite3 "$DB" 'SELECT pcr FROM node_firmware_pins')"
# The pins are the quoted values: PCR 2 as tpm2-tools reads it.
pcr2=$(tpm2_pcrread sha256:2 | sed -n 's/.*2 *: *0x//p' | tr 'A-F' 'a-f')
[[ $(sqlite3 "$DB" "SELECT lower(hex(value)) FROM node_firmware_pins WHERE pcr = 2") == "$pcr2" ]] ||
        fail "PCR 2 pinned is not tpm2_pcrread's $pcr2"
ps_cli list nodes >"$T/nodes.txt"
grep -Eq "^1 +enabled .* patela-1.0 +Trusted$" "$T/nodes.txt" || fail "list nodes: $(cat "$T/nodes.txt")"
pass "the registered image: Trusted, image patela-1.0, firmware PCRs 0-3, 5, 7 pinned (= tpm2_pcrread)"

# --- mutated logs: LogMismatch or a 400, never Trusted, never a crash -----------------------------------------
# mutate NAME JQ_FILTER EXPECTED: EXPECTED is a verdict, or an HTTP status.
mutate() {
        local before
        before=$(db_count attestations)
        attest_logs "$2"
        if [[ $3 == 400 || $3 == 413 ]]; then
                [[ $HTTP_STATUS == "$3" ]] || fail "$1: HTTP $HTTP_STATUS, expected $3: $(cat "$T/http.body")"
                [[ $(db_count attestations) == "$before" ]] || fail "$1: a refused request was logged"
        else
                expect_verdict "$3" "$1"
                echo "# $1: $(reason)" >&2
        fi
        kill -0 "$SERVER_PID" || fail "$1: the server died"
}
# byte surgery on the base64 firmware log: fw_edit 'xxd-p filter' (sed over the hex, one line)
fw_hex() { base64 -d | xxd -p | tr -d '\n'; }
fw_b64() { xxd -r -p | base64 -w0; }
vl GetEventLogs >"$T/good-logs.json"
fw=$(jq -r .firmwareLog "$T/good-logs.json" | fw_hex)
ukiauth=$(jq -r .uki.authenticode "$T/a/patela.reference.json")
# the UKI's PCR 4 event, retyped from EV_EFI_BOOT_SERVICES_APPLICATION (03000080) to EV_EFI_ACTION (07000080)
pcr4_event=$(grep -o "0400000003000080[0-9a-f]\{8\}" <<<"$fw" | head -n 1)
[[ -n $pcr4_event ]] || fail "no PCR 4 application event in the firmware log"
retyped=${fw/$pcr4_event/0400000007000080${pcr4_event:16}}
changed=${fw/$ukiauth/$(jq -r .uki.authenticode "$T/b/patela.reference.json")}
# with_fw NAME EXPECTED: mutate with the firmware log on standin (hex) as the firmware log
with_fw() {
        fw_b64 >"$T/mutated.b64"
        mutate "$1" '.firmwareLog = $m' "$2"
}
mutate "missing firmware log" 'del(.firmwareLog)' LogMismatch
with_fw "retyped PCR 4 event" LogMismatch <<<"$retyped"
with_fw "another UKI's digest in PCR 4" LogMismatch <<<"$changed"
with_fw "truncated" LogMismatch <<<"${fw:0:$((${#fw} - 20))}"
# "Spec ID Event03" → "Xpec ID Event03": the header is no Spec ID event
[[ $fw == *53706563204944204576656e74303300* ]] || fail "no Spec ID Event03 in the firmware log"
with_fw "no Spec ID header" LogMismatch <<<"${fw/53706563204944/58706563204944}"
mutate "empty firmware log" '.firmwareLog = ""' LogMismatch
mutate "not base64" '.firmwareLog = "!!!"' LogMismatch
jq -r .userspaceLog "$T/good-logs.json" | base64 -d | tac | base64 -w0 >"$T/mutated.b64"
mutate "userspace phases reordered" '.userspaceLog = $m' LogMismatch
mutate "userspace log missing" 'del(.userspaceLog)' LogMismatch
mutate "firmware log of type number" '.firmwareLog = 7' 400
head -c 800000 /dev/zero | base64 -w0 >"$T/mutated.b64"
mutate "firmware log over 1 MiB" '.firmwareLog = $m' 413
pass "every mutated log: LogMismatch or a 400/413, nothing Trusted, the server alive"

# --- retired ------------------------------------------------------------------------------------------------
attest_logs
expect_verdict Trusted "the good logs again"
ps_cli image retire patela-1.0 >/dev/null 2>&1 || fail "image retire"
attest_logs
expect_verdict RetiredImage "retired image"
pass "image retire: the next attestation is RetiredImage ($(reason))"

# --- another firmware: FirmwareChanged until node repin ------------------------------------------------------
attestd_stop
swtpm_power_cycle tpm
boot_image "$T/b/patela.reference.json" "option rom 2.0"
attestd_start --firmware-log="$T/firmware.evlog" --measure-log="$T/tpm2-measure.log"
attest_logs
expect_verdict FirmwareChanged "PCR 2 changed"
reason | grep -q "PCR 2 differs" || fail "reason does not name PCR 2: $(reason)"
ps_cli node repin 1 >/dev/null 2>&1 || fail "node repin"
[[ $(db_count node_firmware_pins) == 0 ]] || fail "node repin left pins"
attest_logs
expect_verdict Trusted "after node repin"
[[ $(sqlite3 "$DB" "SELECT lower(hex(value)) FROM node_firmware_pins WHERE pcr = 2") == \
   "$(tpm2_pcrread sha256:2 | sed -n 's/.*2 *: *0x//p' | tr 'A-F' 'a-f')" ]] || fail "PCR 2 not pinned anew"
pass "another option ROM: FirmwareChanged naming PCR 2; node repin; Trusted on image patela-2.0, pinned anew"

attestd_stop
server_stop
