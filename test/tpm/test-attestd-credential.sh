#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tpm2_makecredential (software, --tcti none) on attestd's EK public and AK name → attestd activates it
# and returns the same secret. Argument: rsa2048 or ecc-p256.
source "$PATELA_SOURCE_DIR/test/lib.sh"
ek_type=${1:?ek type}

swtpm_start
attestd_start --ek-type="$ek_type"

vl GetIdentity >"$T/id.json"
[[ $(jq -r .ekType "$T/id.json") == "$ek_type" ]] || fail "ekType is not $ek_type: $(cat "$T/id.json")"
jq -r .ekPublic "$T/id.json" | b64decode_to "$T/ek.pub"
jq -r .akPublic "$T/id.json" | b64decode_to "$T/ak.pub"
ak_name=$(jq -r .akName "$T/id.json")
fp=$(jq -r .fingerprint "$T/id.json")
[[ $fp =~ ^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$ ]] || fail "fingerprint '$fp' malformed"
[[ ${ak_name:0:4} == 000b && ${#ak_name} -eq 68 ]] || fail "AK name '$ak_name' is not a SHA-256 name"
pass "identity: $ek_type EK, AK name $ak_name, fingerprint $fp"

# The tpm2-tools view of the public areas agrees with attestd's.
tpm2_print -t TPM2B_PUBLIC "$T/ak.pub" >"$T/ak.txt"
grep -q "sign" "$T/ak.txt" && grep -q "restricted" "$T/ak.txt" || fail "AK is not a restricted signing key: $(cat "$T/ak.txt")"
tpm2_print -t TPM2B_PUBLIC "$T/ek.pub" >"$T/ek.txt"
grep -q "decrypt" "$T/ek.txt" && grep -q "adminwithpolicy" "$T/ek.txt" || fail "EK attributes: $(cat "$T/ek.txt")"

# A credential for (EK, AK name), made in software, must come back out of the TPM unchanged.
for n in 1 2 3; do
        head -c 32 /dev/urandom >"$T/secret$n.bin"
        make_credential "$T/ek.pub" "$T/secret$n.bin" "$ak_name" "$T/cred$n"
        vl ActivateCredential "$(activate_params "$T/cred$n")" >"$T/act$n.json"
        jq -r .secret "$T/act$n.json" | b64decode_to "$T/got$n.bin"
        cmp -s "$T/secret$n.bin" "$T/got$n.bin" || fail "activation $n returned another secret"
done
pass "three credentials made by tpm2_makecredential activate to their secrets"
# One policy session salted with the EK does it all: StartAuthSession, PolicySecret, ActivateCredential, and
# the TPM flushes the session (no FlushContext).
[[ $(grep -c 'ActivateCredential: 3 TPM commands' "$T/attestd.log") == 3 ]] ||
        fail "TPM commands per activation: $(grep 'ActivateCredential:' "$T/attestd.log")"
pass "each activation: 3 TPM commands"

# Bound to the AK name: a credential for another name is refused by the TPM.
other_name=000b$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
make_credential "$T/ek.pub" "$T/secret1.bin" "$other_name" "$T/credx"
vl_error io.patela.Attest.CredentialRejected ActivateCredential "$(activate_params "$T/credx")" >/dev/null
pass "credential for another AK name rejected"

# And still serving, with nothing left in the TPM by the refused one (its session flushed).
vl ActivateCredential "$(activate_params "$T/cred1")" >/dev/null
[[ -z $(tpm2_getcap handles-loaded-session; tpm2_getcap handles-saved-session) ]] ||
        fail "sessions left in the TPM: $(tpm2_getcap handles-loaded-session) $(tpm2_getcap handles-saved-session)"
pass "valid activation after a rejected one; no session left in the TPM"
