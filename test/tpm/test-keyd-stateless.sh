#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A stateless node: after every reboot nothing but the TPM remains. The pcrlock state that unsealing and
# resealing need comes back from keyd's copy in TPM NV; a reseal (predicted update) after such a reboot
# still rewrites the same NV index, and the same sealed key unseals in the updated boot.
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/lib-keyd.sh"

keyd_restore() {
        PATELA_TPM2_TCTI=$TCTI "$PATELA_BUILD_DIR/src/keyd/patela-keyd" --pcrlock-policy="$POLICY" \
                --restore-pcrlock-policy >>"$T/restore.log" 2>&1 || fail "restore failed: $(tail -3 "$T/restore.log")"
}

# wipe: what a reboot of a RAM-only node loses (keyd's note of the NV copy beside the policy too). The
# pcrlock components stay: they ship in the image.
wipe() {
        rm -rf "$KEYD_KEYS" "$POLICY" "$POLICY.patela-nv-copy" "$T"/tor-*
}

swtpm_start
head -c 4096 /dev/urandom >"$T/uki-A"
head -c 4096 /dev/urandom >"$T/uki-B"
boot "$T/uki-A"

keyd_restore
[[ ! -e $POLICY ]] || fail "restore invented a policy on a fresh TPM"
grep -q "first boot" "$T/restore.log" || fail "restore did not say first boot"

policy_for "$T/uki-A"
nv_index=$(jq -r .nvIndex "$POLICY")
keyd_start
kv EnsureRelays "$(relays_json statelessone statelesstwo)" >"$T/a.json"
grep -q "Saved a copy" "$T/keyd.log" || fail "keyd did not keep a copy of the policy"
cp "$POLICY" "$T/policy-A.json"

wipe
reboot_into "$T/uki-A"
keyd_restore
[[ -e $POLICY ]] || fail "policy not restored"
cmp -s "$POLICY" "$T/policy-A.json" || fail "restored policy differs"
[[ -s $POLICY.patela-nv-copy ]] || fail "restore left no note of the copy it read"
: >"$T/keyd.log"
keyd_start
kv EnsureRelays "$(relays_json statelessone statelesstwo)" >"$T/a2.json"
[[ $(jq -c '[.relays[].rsaFingerprint]' "$T/a.json") == "$(jq -c '[.relays[].rsaFingerprint]' "$T/a2.json")" ]] ||
        fail "fingerprints changed after a wiped reboot"
pass "every directory wiped, TPM power-cycled: pcrlock.json restored from NV, same fingerprints"
# The restore read the copy whole; keyd's first unseal need not read it again (5 TPM commands spared).
grep -q "is current (noted)" "$T/keyd.log" || fail "keyd read the NV copy again: $(grep 'TPM commands' "$T/keyd.log")"
grep -q "Saved a copy" "$T/keyd.log" && fail "keyd rewrote an unchanged copy"
pass "keyd trusts the restore's note: the unchanged copy is neither read nor written again"

# Reseal after that reboot: predict B while A runs. make-policy must find the old state and keep the index.
pcrlock_raw 4 "$T/uki-B" >"$PCRLOCK_COMPONENTS/650-uki.pcrlock.d/400-next.pcrlock"
pcrlock_make_policy "$POLICY" || fail "make-policy after the stateless reboot failed: $(cat "$T/make-policy.log")"
[[ $(jq -r .nvIndex "$POLICY") == "$nv_index" ]] || fail "make-policy allocated a new NV index"
kv CheckReseal >"$T/check.json" # keyd saves the new policy copy on its next successful unseal
kv EnsureRelays "$(relays_json statelessone)" >/dev/null
grep -q "Saved a copy" "$T/keyd.log" || fail "the updated policy was not saved (the note must not hide a change)"
pass "reseal after the stateless reboot updates the same NV index ($nv_index)"

wipe
reboot_into "$T/uki-B"
keyd_restore
keyd_start
kv EnsureRelays "$(relays_json statelessone statelesstwo)" >"$T/b.json"
[[ $(jq -c '[.relays[].rsaFingerprint]' "$T/a.json") == "$(jq -c '[.relays[].rsaFingerprint]' "$T/b.json")" ]] ||
        fail "fingerprints changed in the updated boot"
pass "wiped again, booted the predicted image: restored policy unseals the same key; fingerprints unchanged"
