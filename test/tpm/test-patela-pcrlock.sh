#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-pcrlock with systemd-pcrlock and swtpm on a synthetic boot (test/lib-pcrlock.sh): lock-boot
# describes the running "UKI" from the event log, predict adds another image from its reference and the
# policy allows both, predict refuses without the running image and with a broken reference (policy
# untouched), and after "booting" the other image commit leaves only it.
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/lib-pcrlock.sh"

TOOL=$PATELA_BUILD_DIR/src/pcrlock/patela-pcrlock
POLICY=$T/pcrlock.json
VARIANTS=$PCRLOCK_COMPONENTS/600-patela-image.pcrlock.d

patela_pcrlock() {
        SYSTEMD_MEASURE_LOG_FIRMWARE="$T/firmware.evlog" SYSTEMD_MEASURE_LOG_USERSPACE="$T/tpm2-measure.log" \
                SYSTEMD_TPM2_DEVICE="$TCTI" SYSTEMD_LOG_COLOR=0 \
                "$TOOL" --event-log="$T/firmware.evlog" --components="$PCRLOCK_COMPONENTS" --policy="$POLICY" \
                --pcrs="$PCRLOCK_MASK" --no-keyd "$@"
}

# reference FILE: an image reference whose one event is FILE's SHA-256 on PCR 4 (the synthetic log's
# stand-in for an Authenticode digest).
reference() {
        jq -n --arg d "$(sha256sum "$1" | cut -d' ' -f1)" \
                '{uki: {sha256: $d, size: 4096}, records: [{pcr: 4, event: "authenticode UKI", sha256: $d}]}'
}

pcr4_values() {
        jq -r '.pcrValues[] | select(.pcr == 4) | .values | length' "$POLICY"
}

# boot UKI: a fresh TPM boot of UKI and the components a stateless boot has (no image variant yet).
boot() {
        pcrlock_boot "$1"
        pcrlock_components "$1"
        rm -rf "$PCRLOCK_COMPONENTS/650-uki.pcrlock.d" # patela-pcrlock describes the image instead
}

swtpm_start
head -c 4096 /dev/urandom >"$T/uki-A"
head -c 4096 /dev/urandom >"$T/uki-B"
reference "$T/uki-B" >"$T/B.reference.json"

# --- boot A: lock-boot, the policy as make-policy makes it at boot --------------------------------------
boot "$T/uki-A"
patela_pcrlock lock-boot 2>"$T/lock-boot.log" || fail "lock-boot: $(cat "$T/lock-boot.log")"
[[ $(jq -r '.records[0].digests[0].digest' "$VARIANTS/1-boot.pcrlock") == "$(sha256sum "$T/uki-A" | cut -d' ' -f1)" ]] ||
        fail "1-boot.pcrlock does not hold A's event: $(cat "$VARIANTS/1-boot.pcrlock")"
grep -q "Booted image: PCR 4 from the firmware log" "$T/lock-boot.log" || fail "no PCR values logged"
pcrlock_make_policy "$POLICY" || fail "make-policy: $(cat "$T/make-policy.log")"
[[ $(pcr4_values) == 1 ]] || fail "PCR 4 should have one value, policy: $(cat "$POLICY")"
nv=$(jq -r .nvIndex "$POLICY")
pass "lock-boot wrote the running image's variant; make-policy locks PCR 4 to it"

# --- refusals leave the policy alone -------------------------------------------------------------------
mv "$VARIANTS/1-boot.pcrlock" "$T/1-boot.saved"
patela_pcrlock predict "$T/B.reference.json" >/dev/null 2>"$T/refuse.log" && fail "predict without 1-boot succeeded"
grep -q "lock-boot" "$T/refuse.log" || fail "no hint to lock-boot: $(cat "$T/refuse.log")"
mv "$T/1-boot.saved" "$VARIANTS/1-boot.pcrlock"
echo '{"uki": {}}' >"$T/bad.json"
patela_pcrlock predict "$T/bad.json" >/dev/null 2>"$T/bad.log" && fail "predict accepted a broken reference"
[[ $(pcr4_values) == 1 && $(ls "$VARIANTS" | wc -l) == 1 ]] || fail "a refused predict changed something"
pass "predict refuses without the running image's variant and with a broken reference; nothing changed"

# --- predict B ------------------------------------------------------------------------------------------
patela_pcrlock predict "$T/B.reference.json" >"$T/predict.out" 2>"$T/predict.log" ||
        fail "predict: $(cat "$T/predict.log")"
[[ $(pcr4_values) == 2 ]] || fail "PCR 4 should allow A and B: $(jq -c .pcrValues "$POLICY")"
[[ $(jq -r .nvIndex "$POLICY") == "$nv" ]] || fail "predict allocated another NV index"
[[ $(grep -c '^PCR  4 ' "$T/predict.out") == 2 ]] || fail "predict printed: $(cat "$T/predict.out")"
pass "predict B: the same NV index now allows A and B on PCR 4"

# --- boot B (stateless: the variants are gone), commit ----------------------------------------------------
swtpm_power_cycle
boot "$T/uki-B"
patela_pcrlock lock-boot 2>"$T/lock-boot-b.log" || fail "lock-boot B: $(cat "$T/lock-boot-b.log")"
patela_pcrlock commit >"$T/commit.out" 2>"$T/commit.log" || fail "commit: $(cat "$T/commit.log")"
[[ $(pcr4_values) == 1 && $(jq -r .nvIndex "$POLICY") == "$nv" ]] ||
        fail "after commit: $(jq -c '{nvIndex, pcrValues}' "$POLICY")"
pass "booted B: commit reseals the same index to B alone (make-policy unsealed its PIN under the A+B policy)"
