#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Sealing: no policy → no keys; a policy weaker than required → refused; an unpredicted PCR change →
# refused with no key file written; a predicted update (new variant, make-policy while the old policy still
# holds) → the same sealed objects unseal in the new boot; after that, an unpredicted image fails again.
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/lib-keyd.sh"

swtpm_start
head -c 4096 /dev/urandom >"$T/uki-A"
head -c 4096 /dev/urandom >"$T/uki-B"
head -c 4096 /dev/urandom >"$T/uki-C"
boot "$T/uki-A"

# No policy yet: nothing is generated, nothing sealed.
keyd_start
kv_error io.patela.Keys.NoPolicy EnsureRelays "$(relays_json relayone)" >/dev/null
[[ ! -e $KEYD_KEYS/relayone ]] || fail "key directory written without a policy"
[[ $(kv GetStatus | jq -r .sealed) == false ]] || fail "sealed without a policy"
pass "no pcrlock policy: NoPolicy, nothing generated or sealed"
keyd_stop

# make-policy silently drops a PCR it cannot match: here the UKI component describes another image than
# the one that booted, so PCR 4 leaves the policy ("Removing from set of PCRs"). keyd must refuse it.
pcrlock_components "$T/uki-B"
pcrlock_make_policy "$POLICY" || fail "make-policy: $(cat "$T/make-policy.log")"
grep -q 'PCR 4 .*Removing from set of PCRs' "$T/make-policy.log" || fail "make-policy kept PCR 4"
keyd_start
out=$(kv_error io.patela.Keys.PolicyTooWeak EnsureRelays "$(relays_json relayone)")
grep -q '"missingPcrs":\[4\]' <<<"$out" || fail "PolicyTooWeak does not name PCR 4: $out"
[[ ! -e $KEYD_KEYS/relayone ]] || fail "key directory written for a weakened policy"
[[ $(kv GetStatus | jq -r .sealed) == false ]] || fail "sealed to a weakened policy"
keyd_stop
pass "a policy from which make-policy dropped PCR 4 is refused (PolicyTooWeak, missingPcrs [4]); nothing sealed"
# make-policy cannot rewrite its index for a new prediction now: start over from a clean NV state.
rm -f "$POLICY"
tpm2_nvundefine -C o "$(tpm2_getcap handles-nv-index | awk '/0x1[89ab]/ {print $2; exit}')" >/dev/null 2>&1 || true

policy_for "$T/uki-A"
nv_index=$(jq -r .nvIndex "$POLICY")

# A policy that does not cover a required PCR (9 here: the synthetic boot measures no initrd) is refused.
PCRLOCK_MASK_SAVED=$PCRLOCK_MASK
PCRLOCK_MASK=$PCRLOCK_MASK,9
keyd_start
out=$(kv_error io.patela.Keys.PolicyTooWeak EnsureRelays "$(relays_json relayone)")
grep -q '"missingPcrs":\[9\]' <<<"$out" || fail "PolicyTooWeak does not name PCR 9: $out"
[[ $(kv CheckReseal | jq -c .missingPcrs) == '[9]' ]] || fail "CheckReseal does not report PCR 9"
keyd_stop
PCRLOCK_MASK=$PCRLOCK_MASK_SAVED
pass "a policy lacking a required PCR is refused (PolicyTooWeak, missingPcrs [9])"

keyd_start
kv EnsureRelays "$(relays_json relayone relaytwo)" >"$T/a.json"
[[ $(kv CheckReseal | jq -r .unsealable) == true ]] || fail "CheckReseal: not unsealable in the sealed boot"

# Unpredicted change: another image boots.
rm -rf "$KEYD_KEYS"
reboot_into "$T/uki-C"
keyd_start
out=$(kv_error io.patela.Keys.PolicyMismatch EnsureRelays "$(relays_json relayone)")
grep -q "PCRs do not satisfy" <<<"$out" || fail "PolicyMismatch without a reason: $out"
[[ ! -e $KEYD_KEYS/relayone ]] || fail "key files written although unsealing failed"
[[ $(kv CheckReseal | jq -r .unsealable) == false ]] || fail "CheckReseal claims unsealable"
grep -q "Refusing to unseal" "$T/keyd.log" || fail "refusal not in keyd's log"
pass "unpredicted image: PolicyMismatch, no key file written, the refusal logged"

# Back to A; predict B as the update: its variant after the running one, make-policy while A is booted.
reboot_into "$T/uki-A"
pcrlock_raw 4 "$T/uki-B" >"$PCRLOCK_COMPONENTS/650-uki.pcrlock.d/400-next.pcrlock"
pcrlock_make_policy "$POLICY" || fail "make-policy for the update failed: $(cat "$T/make-policy.log")"
[[ $(jq -r .nvIndex "$POLICY") == "$nv_index" ]] || fail "make-policy moved the NV index"
reboot_into "$T/uki-B"
keyd_start
kv EnsureRelays "$(relays_json relayone relaytwo)" >"$T/b.json"
[[ $(jq -c '[.relays[] | .rsaFingerprint]' "$T/a.json") == "$(jq -c '[.relays[] | .rsaFingerprint]' "$T/b.json")" ]] ||
        fail "fingerprints changed across the predicted update"
[[ $(jq '[.relays[] | select(.created)] | length' "$T/b.json") == 0 ]] || fail "keys regenerated after the update"
pass "predicted update: the new image unseals the same sealed KEK; fingerprints unchanged"

reboot_into "$T/uki-C"
keyd_start
kv_error io.patela.Keys.PolicyMismatch EnsureRelays "$(relays_json relayone)" >/dev/null
pass "still no unsealing under an unpredicted image"
