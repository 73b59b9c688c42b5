#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The verifier: a node on swtpm boots (synthetically: firmware log + systemd's log, every digest extended into
# the TPM) a UKI made by objcopy whose reference patela-pcrlock wrote; attestd sends both logs; the server
# replays them against the verified quote and judges — UnknownImage before the image is registered, Trusted
# after, RetiredImage once it is retired, FirmwareChanged when PCR 2 changes until `node repin`, LogMismatch
# (or a 400) for every mutated log, never a crash. The verdict is recorded in the node's row and the
# attestation log. While no image is registered the node gets its session all the same (a new fleet's first
# boot); once one is, every verdict but Trusted is a 403 with the verdict as its code, no session, and the
# node's earlier sessions end; MeasuredBoot=warn records without refusing. Between attestations GET
# /v1/node/check tells a node with a session to re-attest once its image is retired or its verdict would now
# be refused, and answers 401 once the node is disabled. On either backend (PATELA_TEST_DB_BACKEND).
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
source "$PATELA_SOURCE_DIR/test/integration/lib-uki.sh"

make_uki "$T/a" 1.0
make_uki "$T/b" 2.0

ca_setup
ps_cli pool add names relayOne relayTwo >/dev/null
openssl rand -base64 32 >"$T/metrics-token"
chmod 600 "$T/metrics-token"
mport=$(random_port)
server_start --metrics-listen="127.0.0.1:$mport" --metrics-token-file="$T/metrics-token"
# log_cache RESULT: the server's patela_verdict_log_cache_total{result=RESULT}.
log_cache() {
        curl -sS --cacert "$T/ca/ca.crt" -H "Authorization: Bearer $(cat "$T/metrics-token")" \
                "https://127.0.0.1:$mport/metrics" |
                awk -v k="patela_verdict_log_cache_total{result=\"$1\"}" '$1 == k { print $2 }'
}

swtpm_start
boot_image "$T/a/patela.reference.json"
attestd_start --firmware-log="$T/firmware.evlog" --measure-log="$T/tpm2-measure.log"
node_identity
node_prove
ps_cli node enable "$(jq -r .fingerprint "$T/id.json")" >/dev/null

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
# reboot_into REFERENCE [OPTION_ROM_TEXT]: an orderly power cycle (TPM2_Shutdown first, as an OS does: without
# it every cycle counts as a dictionary-attack failure, and the third locks the EK's policy out), then a boot of
# REFERENCE's UKI.
reboot_into() {
        attestd_stop
        tpm2_shutdown || fail "tpm2_shutdown"
        swtpm_power_cycle tpm
        boot_image "$@"
        attestd_start --firmware-log="$T/firmware.evlog" --measure-log="$T/tpm2-measure.log"
}
verdict() {
        db_query "SELECT last_verdict FROM nodes WHERE id = 1"
}
reason() {
        db_query "SELECT last_verdict_reason FROM nodes WHERE id = 1"
}
sessions() {
        db_query "SELECT count(*) FROM sessions WHERE node_id = 1"
}
# expect_verdict VERDICT WHAT [accepted]: recorded in the node's row and the attestation log; Trusted (or any
# verdict with "accepted": not enforced) is a 200 whose body carries the verdict and a session; anything else
# is a 403 with the verdict as its code, logged as rejected, and the node holds no session afterwards.
expect_verdict() {
        [[ $(verdict) == "$1" ]] || fail "$2: verdict $(verdict) ($(reason)), expected $1"
        [[ $(db_query "SELECT measured_verdict FROM attestations ORDER BY id DESC LIMIT 1") == "$1" ]] ||
                fail "$2: the attestation log's newest entry does not say $1"
        if [[ $1 == Trusted || ${3:-} == accepted ]]; then
                [[ $HTTP_STATUS == 200 ]] || fail "$2: HTTP $HTTP_STATUS $(cat "$T/http.body")"
                [[ $(jq -r .verdict "$T/http.body") == "$1" ]] || fail "$2: reply $(jq -c 'del(.token)' "$T/http.body")"
                [[ $(db_query "SELECT verdict FROM attestations ORDER BY id DESC LIMIT 1") == accepted ]] ||
                        fail "$2: not logged as accepted"
        else
                expect_error 403 "$1"
                jq -r .message "$T/http.body" | grep -qF "$(reason)" || fail "$2: the message lacks the reason"
                [[ $(db_query "SELECT verdict FROM attestations ORDER BY id DESC LIMIT 1") == rejected ]] ||
                        fail "$2: not logged as rejected"
                [[ $(sessions) == 0 ]] || fail "$2: the refused node holds $(sessions) sessions"
        fi
}
# check: GET /v1/node/check with the token of the last 200 attestation; the body in $T/http.body.
check() {
        http GET /v1/node/check "" "Authorization: Bearer $TOKEN" >/dev/null
}
expect_check() {
        check
        [[ $HTTP_STATUS == 200 && $(jq -r .reattest "$T/http.body") == "$1" ]] ||
                fail "$2: check: HTTP $HTTP_STATUS $(cat "$T/http.body"), expected reattest $1"
        [[ $(jq -r .checkIn "$T/http.body") == 30 ]] || fail "$2: checkIn is not the default 30 s"
}

# --- no image registered --------------------------------------------------------------------------------
attest_logs
expect_verdict UnknownImage "unregistered UKI" accepted
reason | grep -q "no registered image has the UKI measured in PCR 4" || fail "reason: $(reason)"
[[ $(jq -r .reason "$T/http.body") == "$(reason)" ]] || fail "the reply's reason is not the recorded one"
[[ $(db_count node_firmware_pins) == 0 ]] || fail "an untrusted attestation pinned the firmware"
TOKEN=$(jq -r .token "$T/http.body")
expect_check false "no image registered"
pass "no image registered: UnknownImage recorded, not refused (reply verdict and reason); the check says carry on"

# --- registered: enforced; Trusted, firmware pinned -----------------------------------------------------
ps_cli image add "$T/a/patela.reference.json" >/dev/null 2>&1 || fail "image add a"
expect_check true "an image registered while the node runs on an unknown one"
ps_cli image add "$T/b/patela.reference.json" >/dev/null 2>&1 || fail "image add b"
# The node's UKI now has a registered image, but the session rests on the UnknownImage verdict: re-attest.
expect_check true "still the session of the UnknownImage verdict"
pass "an image registered: the session of an unenforced UnknownImage verdict is told to re-attest"
OLD_TOKEN=$TOKEN
attest_logs
expect_verdict Trusted "registered UKI"
# The same boot's logs and PCRs as the first attestation: the verifier's cache had what they showed (parsed once),
# and the registry, changed since, made it Trusted.
[[ $(log_cache miss) == 1 && $(log_cache hit) == 1 ]] ||
        fail "the verifier's log cache: $(log_cache miss) misses, $(log_cache hit) hits; expected 1 and 1"
TOKEN=$(jq -r .token "$T/http.body")
expect_check false "Trusted"
# One session per node: the new attestation ended the previous one.
[[ $(sessions) == 1 ]] || fail "the node holds $(sessions) sessions after two attestations"
http GET /v1/node/check "" "Authorization: Bearer $OLD_TOKEN" >/dev/null
expect_error 401 TokenRejected
pass "a new attestation ends the node's previous session (one session per node)"
[[ $(db_query "SELECT i.name FROM nodes n JOIN images i ON i.id = n.image_id WHERE n.id = 1") == patela-1.0 ]] ||
        fail "the node's image is not patela-1.0"
[[ $(db_query "SELECT pcr FROM node_firmware_pins WHERE node_id = 1 ORDER BY pcr" | paste -sd ,) == 0,1,2,3,5,7 ]] ||
        fail "pins: $(db_query 'SELECT pcr FROM node_firmware_pins')"
# The pins are the quoted values: PCR 2 as tpm2-tools reads it.
pcr2=$(tpm2_pcrread sha256:2 | sed -n 's/.*2 *: *0x//p' | tr 'A-F' 'a-f')
[[ $(db_query "SELECT $(db_hex value) FROM node_firmware_pins WHERE pcr = 2") == "$pcr2" ]] ||
        fail "PCR 2 pinned is not tpm2_pcrread's $pcr2"
ps_cli list nodes >"$T/nodes.txt"
grep -Eq "^1 +enabled .* patela-1.0 +Trusted$" "$T/nodes.txt" || fail "list nodes: $(cat "$T/nodes.txt")"
pass "the registered image: Trusted, image patela-1.0, firmware PCRs 0-3, 5, 7 pinned (= tpm2_pcrread)"

# --- logs named by their SHA-256 (docs/protocol.md): the verifier's cache stands for logs it judged -------------
# attest_named FIRMWARE_SHA256 USERSPACE_SHA256: a quote-only challenge answered with the logs named, not sent.
attest_named() {
        node_challenge "Prefer: quote-only"
        node_answer
        jq -c --arg f "$1" --arg u "$2" '. + {firmwareLogSha256: $f, userspaceLogSha256: $u}' "$T/attest.json" \
                >"$T/attest-named.json"
        http POST /v1/attest "$T/attest-named.json" >/dev/null
}
vl GetEventLogs >"$T/logs.json"
fw_sha=$(jq -j .firmwareLog "$T/logs.json" | sha256sum | cut -c1-64)
us_sha=$(jq -j .userspaceLog "$T/logs.json" | sha256sum | cut -c1-64)
hits=$(log_cache hit) rows=$(db_count attestations)
attest_named "$fw_sha" "$us_sha"
expect_verdict Trusted "logs named by their SHA-256"
[[ $(log_cache hit) == $((hits + 1)) ]] || fail "named logs: cache hits $hits → $(log_cache hit)"
[[ $(jq -r 'has("firmwareLog") or has("userspaceLog")' "$T/attest-named.json") == false ]] || fail "the logs were sent"
# Names the server does not hold (another log): 409 EventLogsRequired, nothing recorded, the challenge open; the same
# answer with the logs is Trusted.
attest_named "$fw_sha" "$(printf x | sha256sum | cut -c1-64)"
expect_error 409 EventLogsRequired
[[ $(db_count attestations) == $((rows + 1)) ]] || fail "an answer with unknown log names was recorded"
jq -c --slurpfile l "$T/logs.json" 'del(.firmwareLogSha256, .userspaceLogSha256) + $l[0]' "$T/attest-named.json" \
        >"$T/attest-sent.json"
http POST /v1/attest "$T/attest-sent.json" >/dev/null
expect_verdict Trusted "the same challenge answered with the logs after EventLogsRequired"
TOKEN=$(jq -r .token "$T/http.body")
# A log and its name together is malformed.
jq -c --arg f "$fw_sha" '. + {firmwareLogSha256: $f}' "$T/attest-sent.json" >"$T/attest-both.json"
http POST /v1/attest "$T/attest-both.json" >/dev/null
expect_error 400 InvalidField
pass "logs named by their SHA-256: Trusted from the verifier's cache; names it does not hold 409 EventLogsRequired with nothing taken, then the logs; a log and its name together 400"

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
# A refusal ends the node's sessions: the Trusted one of just before too.
check
expect_error 401 TokenRejected
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

# --- MeasuredBoot=warn: recorded, not refused -------------------------------------------------------------------
server_stop
server_start --measured-boot=warn
attest_logs 'del(.userspaceLog)'
expect_verdict LogMismatch "MeasuredBoot=warn, userspace log missing" accepted
TOKEN=$(jq -r .token "$T/http.body")
expect_check false "MeasuredBoot=warn"
grep -q "not refused (MeasuredBoot=warn" "$T/server.log" || fail "warn: no warning in the server's log"
server_stop
server_start
expect_check true "the LogMismatch session once the server enforces again"
pass "MeasuredBoot=warn: LogMismatch recorded and warned about, 200 with a session; enforced again: re-attest"

# --- images registered: a UKI that is not one of them is a 403 UnknownImage -------------------------------------
make_uki "$T/c" 3.0
reboot_into "$T/c/patela.reference.json"
attest_logs
expect_verdict UnknownImage "an unregistered UKI with images registered"
pass "an unregistered UKI once images are registered: 403 UnknownImage ($(reason)), no session"
reboot_into "$T/a/patela.reference.json"

# --- retired ------------------------------------------------------------------------------------------------
attest_logs
expect_verdict Trusted "the good logs again"
TOKEN=$(jq -r .token "$T/http.body")
expect_check false "Trusted again"
ps_cli image retire patela-1.0 >"$T/retire.out" 2>&1 || fail "image retire"
grep -q "1 node last booted it: at their next session check" "$T/retire.out" || fail "image retire says: $(cat "$T/retire.out")"
expect_check true "image retired while the node runs it"
attest_logs
expect_verdict RetiredImage "retired image"
check
expect_error 401 TokenRejected
pass "image retire: the running node's check says re-attest; its attestation is a 403 RetiredImage ($(reason)), its session gone"

# --- another firmware: FirmwareChanged until node repin ------------------------------------------------------
reboot_into "$T/b/patela.reference.json" "option rom 2.0"
attest_logs
expect_verdict FirmwareChanged "PCR 2 changed"
reason | grep -q "PCR 2 differs" || fail "reason does not name PCR 2: $(reason)"
ps_cli node repin 1 >/dev/null 2>&1 || fail "node repin"
[[ $(db_count node_firmware_pins) == 0 ]] || fail "node repin left pins"
attest_logs
expect_verdict Trusted "after node repin"
[[ $(db_query "SELECT $(db_hex value) FROM node_firmware_pins WHERE pcr = 2") == \
   "$(tpm2_pcrread sha256:2 | sed -n 's/.*2 *: *0x//p' | tr 'A-F' 'a-f')" ]] || fail "PCR 2 not pinned anew"
pass "another option ROM: FirmwareChanged naming PCR 2; node repin; Trusted on image patela-2.0, pinned anew"

# --- node disable: the check answers 401 ----------------------------------------------------------------------
TOKEN=$(jq -r .token "$T/http.body")
expect_check false "Trusted on patela-2.0"
ps_cli node disable 1 >/dev/null
check
expect_error 401 TokenRejected
pass "node disable: the check of its session is a 401 at once"

# --- the transparency log ------------------------------------------------------------------------------------
# Every change above and every verdict is an entry, in the transaction that made it; the log verifies from its
# entries; Go's sumdb opens the signed checkpoint and checks an entry's inclusion; a changed or removed entry is
# found by `log verify`.
count_kind() { db_query "SELECT count(*) FROM tlog_entries WHERE kind = '$1'"; }
[[ $(count_kind verdict) == $(db_query "SELECT count(*) FROM attestations WHERE measured_verdict IS NOT NULL") ]] ||
        fail "verdict entries $(count_kind verdict) against $(db_query "SELECT count(*) FROM attestations WHERE measured_verdict IS NOT NULL") judged attestations"
[[ $(count_kind image-registered) == "$(db_count images)" && $(count_kind image-retired) == 1 &&
   $(count_kind node-repinned) == 1 && $(count_kind node-disabled) == 1 && $(count_kind node-enabled) == 1 ]] ||
        fail "log entries by kind: $(db_query 'SELECT kind, count(*) FROM tlog_entries GROUP BY kind')"
ps_cli log verify >"$T/log-verify.out" 2>&1 || fail "log verify: $(cat "$T/log-verify.out")"
size=$(ps_cli --json log show | jq -r .size) root=$(ps_cli --json log show | jq -r .root)
last=$(db_query "SELECT max(idx) FROM tlog_entries WHERE kind = 'verdict'")
ps_cli log entry "$last" >"$T/entry"
grep -q "^verdict Trusted$" "$T/entry" && grep -q "^image patela-2.0$" "$T/entry" ||
        fail "the last verdict entry: $(cat "$T/entry")"
reg=$(db_query "SELECT min(idx) FROM tlog_entries WHERE kind = 'image-registered'")
ps_cli log entry "$reg" | grep -qx "reference-sha256 $(sha256sum "$T/a/patela.reference.json" | cut -d' ' -f1)" ||
        fail "the registration entry does not name the reference's SHA-256: $(ps_cli log entry "$reg")"
pass "transparency log: $size entries (every judged attestation, $(db_count images) registrations, the retirement, repin, enable, disable), verified from the entries"

if command -v go >/dev/null; then
        export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$T/gocache GOTOOLCHAIN=local GOFLAGS= GOPROXY=off
        (cd "$PATELA_SOURCE_DIR/test/tlog" && go build -o "$T/interop" interop.go) >"$T/go.log" 2>&1 ||
                fail "go build: $(cat "$T/go.log")"
        vkey=$(ps_cli log init patela.test/fleet "$T/log.key" 2>/dev/null) || fail "log init"
        [[ $(stat -c %a "$T/log.key") == 600 ]] || fail "the log's signer key is not 0600"
        ps_cli log init patela.test/fleet "$T/log.key" >/dev/null 2>&1 && fail "log init replaced a key"
        ps_cli log checkpoint "$T/log.key" >"$T/checkpoint.note" || fail "log checkpoint"
        [[ $("$T/interop" open "$vkey" "$T/checkpoint.note") == "$(printf 'patela.test/fleet\n%s\n%s' "$size" "$root")" ]] ||
                fail "Go did not open the checkpoint as ours: $(cat "$T/checkpoint.note")"
        ps_cli log proof "$last" >"$T/proof" || fail "log proof"
        out=$("$T/interop" inclusion "$root" "$size" "$last" "$T/entry" "$T/proof") || fail "Go refused the inclusion proof: $out"
        printf 'X' >>"$T/entry"
        "$T/interop" inclusion "$root" "$size" "$last" "$T/entry" "$T/proof" >/dev/null 2>&1 &&
                fail "Go accepted a changed entry"
        pass "Go's sumdb: the server's signed checkpoint opens under the log's key with its size and head; $out"

        # The same over HTTP, public: the checkpoint, entries, both proofs, as a monitor reads them.
        server_stop
        server_start --log-key="$T/log.key"
        http GET /v1/log/checkpoint >"$T/http-checkpoint.note"
        [[ $HTTP_STATUS == 200 ]] || fail "GET /v1/log/checkpoint: $HTTP_STATUS $(cat "$T/http.body")"
        [[ $("$T/interop" open "$vkey" "$T/http-checkpoint.note" | sed -n 2p) == "$size" ]] ||
                fail "Go did not open the served checkpoint: $(cat "$T/http-checkpoint.note")"
        http GET "/v1/log/entries?start=$last&count=2" >/dev/null
        [[ $HTTP_STATUS == 200 && $(jq -r '.entries | length' "$T/http.body") == 2 ]] ||
                fail "entries: $HTTP_STATUS $(cat "$T/http.body")"
        jq -j '.entries[0].entry' "$T/http.body" >"$T/http-entry"
        ps_cli log entry "$last" | cmp -s - "$T/http-entry" || fail "the served entry is not the logged one"
        http GET "/v1/log/inclusion?index=$last&size=$size" >/dev/null
        jq -r '.proof[]' "$T/http.body" >"$T/http-proof"
        out=$("$T/interop" inclusion "$(jq -r .root "$T/http.body")" "$size" "$last" "$T/http-entry" "$T/http-proof") ||
                fail "Go refused the served inclusion proof: $out"
        http GET "/v1/log/consistency?size1=3&size2=$size" >/dev/null
        jq -r '.proof[]' "$T/http.body" >"$T/http-cproof"
        out=$("$T/interop" consistency "$(jq -r .root1 "$T/http.body")" 3 "$(jq -r .root2 "$T/http.body")" "$size" \
              "$T/http-cproof") || fail "Go refused the served consistency proof: $out"
        [[ $(jq -r .root2 "$T/http.body") == "$root" ]] || fail "the consistency proof is not against the head"
        for q in "entries" "entries?start=x" "entries?start=0&count=257" "inclusion?index=1" \
                 "inclusion?index=-1&size=2" "consistency?size1=1"; do
                http GET "/v1/log/$q" >/dev/null
                expect_error 400 InvalidField
        done
        for q in "inclusion?index=$size&size=$size" "inclusion?index=0&size=$((size + 1))" \
                 "consistency?size1=0&size2=$size" "consistency?size1=$size&size2=$((size - 1))"; do
                http GET "/v1/log/$q" >/dev/null
                expect_error 404 NotFound
        done
        pass "GET /v1/log/checkpoint, entries, inclusion, consistency: what Go checks; bad queries 400, beyond the log 404; $out"
fi

# Whoever holds the database: the triggers refuse an UPDATE and a DELETE; without them (a copy of the database,
# its triggers dropped on SQLite, not fired on PostgreSQL), a changed entry and a removed one are found.
db_refuses "UPDATE tlog_entries SET entry = entry WHERE idx = 1"
db_refuses "DELETE FROM tlog_entries WHERE idx = $((size - 1))"
attestd_stop
server_stop
if db_is_postgresql; then
        # entry is bytea: replaced as its UTF-8 text
        changed="convert_to(replace(convert_from(entry, 'UTF8'), 'Trusted', 'Refused'), 'UTF8')"
else
        changed="replace(entry, 'Trusted', 'Refused')"
fi
entry_hex() { db_query_at "$1" "SELECT $(db_hex entry) FROM tlog_entries WHERE idx = $last"; }
tampered=$(db_copy changed)
db_tamper "$tampered" tlog_entries "UPDATE tlog_entries SET entry = $changed WHERE idx = $last"
[[ $(entry_hex "$tampered") == "$(ps_cli log entry "$last" | sed 's/Trusted/Refused/' | xxd -p | tr -d '\n')" ]] ||
        fail "the copy's entry $last is not the changed one"
"$SERVER_BIN" --database="$tampered" log verify >"$T/v1.out" 2>&1 && fail "log verify accepted a changed entry"
grep -q "entry $last is not the one logged" "$T/v1.out" || fail "log verify did not name the changed entry: $(cat "$T/v1.out")"
tampered=$(db_copy removed)
db_tamper "$tampered" tlog_entries "DELETE FROM tlog_entries WHERE idx = $((size - 1))"
[[ $(db_query_at "$tampered" "SELECT count(*) FROM tlog_entries") == $((size - 1)) ]] || fail "the copy's last entry was not removed"
"$SERVER_BIN" --database="$tampered" log verify >"$T/v2.out" 2>&1 && fail "log verify accepted a removed entry"
# The copies as they were made verify: what log verify refused is the tampering.
"$SERVER_BIN" --database="$(db_copy untouched)" log verify >"$T/v3.out" 2>&1 || fail "log verify of an untouched copy: $(cat "$T/v3.out")"
pass "log verify finds a changed entry (naming it) and a removed one; the triggers refuse an UPDATE and a DELETE"
