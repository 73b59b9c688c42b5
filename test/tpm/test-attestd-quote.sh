#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# attestd's quote verifies with tpm2_checkquote against the AK public, over the right nonce and PCR values.
source "$PATELA_SOURCE_DIR/test/lib.sh"

swtpm_start
# Give PCR 16 and 23 values that differ from their reset values.
tpm2_pcrextend 16:sha256=$(printf 'patela' | sha256sum | cut -d' ' -f1)
tpm2_pcrextend 23:sha256=$(printf 'test' | sha256sum | cut -d' ' -f1)
attestd_start

vl GetIdentity | jq -r .akPublic | b64decode_to "$T/ak.pub"

checkquote() {
        tpm2_checkquote -u "$T/ak.pub" -m "$T/quoted.bin" -s "$T/sig.bin" -g sha256 "$@" >"$T/check.out" 2>&1
}

quote_and_check() {
        local pcrs=$1 bank=$2 nonce_hex nonce_b64 wrong digest
        nonce_hex=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
        nonce_b64=$(printf '%s' "$nonce_hex" | xxd -r -p | base64 -w0)
        vl Quote "{\"nonce\":\"$nonce_b64\",\"pcrs\":[$pcrs],\"bank\":\"$bank\"}" >"$T/q.json"
        jq -r .quoted "$T/q.json" | b64decode_to "$T/quoted.bin"
        jq -r .signature "$T/q.json" | b64decode_to "$T/sig.bin"
        jq -r '.pcrValues[].value' "$T/q.json" | tr -d '\n' | xxd -r -p >"$T/pcrs.bin"
        [[ $(jq -r '[.pcrValues[].index] | join(",")' "$T/q.json") == "$pcrs" ]] || fail "pcrValues indexes differ from $pcrs"

        # Signature by the AK over a TPM-generated quote carrying our nonce.
        checkquote -q "$nonce_hex" || fail "tpm2_checkquote rejected the quote over $bank:$pcrs: $(cat "$T/check.out")"
        wrong=${nonce_hex:0:62}$([[ ${nonce_hex:62:2} == 00 ]] && echo 01 || echo 00)
        ! checkquote -q "$wrong" || fail "tpm2_checkquote accepted a wrong nonce"

        # The PCR values returned are the ones quoted: SHA-256 of their concatenation is the pcrDigest, the
        # last 32 bytes of the TPMS_ATTEST (TPMS_QUOTE_INFO ends with it).
        digest=$(sha256sum "$T/pcrs.bin" | cut -d' ' -f1)
        [[ $(tail -c 32 "$T/quoted.bin" | od -An -tx1 | tr -d ' \n') == "$digest" ]] || fail "pcrDigest does not match the returned values"

        # tpm2_checkquote's own PCR check (its value-file reader copes with few PCRs only: use the first 3).
        if [[ $(tr -cd , <<<"$pcrs" | wc -c) -lt 3 ]]; then
                checkquote -q "$nonce_hex" -f "$T/pcrs.bin" -l "$bank:$pcrs" ||
                        fail "tpm2_checkquote rejected the PCR values: $(cat "$T/check.out")"
                flip_bit "$T/pcrs.bin" 0
                ! checkquote -q "$nonce_hex" -f "$T/pcrs.bin" -l "$bank:$pcrs" || fail "tpm2_checkquote accepted altered PCR values"
        fi
}

quote_and_check "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,23" sha256
pass "quote over 18 sha256 PCRs verifies with tpm2_checkquote, pcrDigest matches the values; a wrong nonce does not verify"
quote_and_check "0,16,23" sha256
pass "quote over PCRs 0,16,23 verifies with tpm2_checkquote -f; altered values do not"
quote_and_check "0,16" sha1
pass "quote over the sha1 bank verifies"

# The PCR values attestd returns are the TPM's, as tpm2_pcrread sees them.
vl Quote '{"nonce":"AAECAw==","pcrs":[16,23]}' >"$T/q2.json"
want16=$(tpm2_pcrread sha256:16 | awk '/^ *16 *:/ {print tolower($NF)}' | sed 's/^0x//')
got16=$(jq -r '.pcrValues[] | select(.index==16) | .value' "$T/q2.json")
[[ -n $want16 && $want16 == "$got16" ]] || fail "PCR 16: attestd says $got16, tpm2_pcrread says $want16"
[[ $(jq -r .bank "$T/q2.json") == sha256 ]] || fail "default bank is not sha256"
pass "PCR values match tpm2_pcrread; default bank sha256"

# Event logs: the paths are overridable; absent logs are null, present ones come back byte for byte.
attestd_stop
head -c 5000 /dev/urandom >"$T/fw.log"
printf '\x1e{"pcr":11}\n' >"$T/measure.log"
attestd_start --firmware-log="$T/fw.log" --measure-log="$T/measure.log"
vl GetEventLogs >"$T/logs.json"
jq -r .firmwareLog "$T/logs.json" | b64decode_to "$T/fw.got"
jq -r .userspaceLog "$T/logs.json" | b64decode_to "$T/measure.got"
cmp -s "$T/fw.log" "$T/fw.got" && cmp -s "$T/measure.log" "$T/measure.got" || fail "event logs differ"
rm "$T/measure.log"
[[ $(vl GetEventLogs | jq -r .userspaceLog) == null ]] || fail "absent log is not null"
head -c $((4 * 1024 * 1024 + 1)) /dev/zero >"$T/fw.log"
vl_error io.patela.Attest.EventLogUnreadable GetEventLogs '{}' >/dev/null
pass "event logs: returned as stored, null when absent, refused past 4 MiB"
