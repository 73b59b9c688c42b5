#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Power cuts and the TPM's dictionary-attack protection (issue 11, item 11). A TPM counts a restart without
# TPM2_Shutdown as a failed authorization when a DA-protected key was used since the last orderly shutdown;
# with patela's AK and sealed keys DA-protected, three cuts locked the AK out (the vm suite saw it). Now both
# are noDA: after five unclean power cycles, each after a quote, a credential and an unseal, the counter is
# still 0 and everything works. Then another program locks the TPM out with a wrong password: keyd's
# GetStatus (and patelactl status) say so, and attestd and keyd keep working.
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/lib-keyd.sh"

CYCLES=5

swtpm_start
# Deterministic DA parameters: three failures lock out for an hour.
tpm2_dictionarylockout --setup-parameters --max-tries=3 --recovery-time=3600 --lockout-recovery-time=3600 ||
        fail "tpm2_dictionarylockout --setup-parameters"
head -c 4096 /dev/urandom >"$T/uki"
boot "$T/uki"
policy_for "$T/uki"

counter() {
        printf '%d' "$(tpm2_getcap properties-variable | sed -n 's/^TPM2_PT_LOCKOUT_COUNTER: *//p')"
}
in_lockout() {
        tpm2_getcap properties-variable | awk '/inLockout/ { print $2 }'
}

# use_keys N: what a boot does with the TPM: a credential activated with the EK and AK, a quote with the AK,
# the relay keys unsealed. Prints the relay's fingerprint.
use_keys() {
        local n=$1
        head -c 32 /dev/urandom >"$T/secret$n.bin"
        make_credential "$T/ek.pub" "$T/secret$n.bin" "$ak_name" "$T/cred$n"
        [[ $(vl ActivateCredential "$(activate_params "$T/cred$n")" | jq -r .secret) == "$(b64file "$T/secret$n.bin")" ]] ||
                fail "cycle $n: ActivateCredential did not return the secret"
        vl Quote '{"nonce":"AAECAw==","pcrs":[0,7,11],"bank":"sha256"}' >/dev/null || fail "cycle $n: Quote failed"
        kv EnsureRelays "$(relays_json daone)" | jq -r '.relays[0].rsaFingerprint'
}

# swtpm has three object slots and attestd keeps its EK and AK loaded: the EK persistent, as many platforms
# ship it, leaves keyd the two it needs (test/integration/test-configd-lib.sh does the same).
tpm2_createek -c 0x81010001 -G rsa -u "$T/ek-created.pub" >/dev/null || fail "tpm2_createek"
attestd_start
keyd_start
vl GetIdentity >"$T/id.json"
jq -r .ekPublic "$T/id.json" | b64decode_to "$T/ek.pub"
jq -r .akPublic "$T/id.json" | b64decode_to "$T/ak.pub"
ak_name=$(jq -r .akName "$T/id.json")
tpm2_print -t TPM2B_PUBLIC "$T/ak.pub" >"$T/ak.txt"
grep -Eq "^ +value: .*\bnoda\b" "$T/ak.txt" || fail "the AK is not noDA: $(cat "$T/ak.txt")"
fp=$(use_keys 0)
[[ -n $fp && $fp != null ]] || fail "no relay fingerprint"

for ((i = 1; i <= CYCLES; i++)); do
        attestd_stop
        keyd_stop
        swtpm_power_cycle # no TPM2_Shutdown: a power cut
        boot "$T/uki"
        attestd_start
        keyd_start
        [[ $(counter) == 0 ]] || fail "after $i power cuts the DA counter is $(counter)"
        [[ $(use_keys "$i") == "$fp" ]] || fail "cycle $i: another relay identity"
done
[[ $(in_lockout) == 0 ]] || fail "the TPM is in lockout"
kv GetStatus >"$T/status.json"
[[ $(jq -c '.dictionaryAttack | [.inLockout, .failedTries, .maxTries]' "$T/status.json") == '[false,0,3]' ]] ||
        fail "GetStatus: $(jq -c .dictionaryAttack "$T/status.json")"
pass "$CYCLES unclean power cycles after using the AK, EK and sealed keys: DA counter 0, keys unsealed, same relay"

# Someone else's DA-protected key, tried with wrong passwords: the TPM locks out. patela is not affected, and
# says it.
tpm2_nvdefine 0x01500016 -C o -s 8 -a "authread|authwrite" -p right >/dev/null || fail "tpm2_nvdefine"
for i in 1 2 3; do
        tpm2_nvread 0x01500016 -C 0x01500016 -P wrong -s 8 >/dev/null 2>&1 && fail "a wrong password read the index"
done
[[ $(in_lockout) == 1 ]] || fail "three wrong passwords did not lock the TPM out (counter $(counter))"
[[ $(use_keys 9) == "$fp" ]] || fail "in lockout: another relay identity"
kv GetStatus >"$T/status.json"
[[ $(jq -c '.dictionaryAttack | [.inLockout, .failedTries]' "$T/status.json") == '[true,3]' ]] ||
        fail "GetStatus in lockout: $(jq -c .dictionaryAttack "$T/status.json")"
grep -q "dictionary-attack lockout (3 of 3 failures" "$T/keyd.log" || fail "keyd did not log the lockout"
PATELA_RUNTIME_DIRECTORY=$T "$PATELA_BUILD_DIR/src/patelactl/patelactl" --keys-socket="$KEYD_SOCK" \
        --attest-socket="$ATTESTD_SOCK" --config-socket="$T/none" status >"$T/ctl.txt" 2>&1 || true
grep -q "TPM lockout: yes" "$T/ctl.txt" || fail "patelactl status: $(cat "$T/ctl.txt")"
pass "another program's wrong passwords lock the TPM out: attestd and keyd keep working (noDA), GetStatus and patelactl status say lockout"
