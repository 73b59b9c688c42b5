#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every bad input gets its declared error naming the problem, and a valid call still succeeds afterwards.
source "$PATELA_SOURCE_DIR/test/lib.sh"

swtpm_start
attestd_start
vl GetIdentity >"$T/id.json"
jq -r .ekPublic "$T/id.json" | b64decode_to "$T/ek.pub"
ak_name=$(jq -r .akName "$T/id.json")

head -c 32 /dev/urandom >"$T/secret.bin"
make_credential "$T/ek.pub" "$T/secret.bin" "$ak_name" "$T/cred"
idlen=$(( $(stat -c %s "$T/cred.id") - 2 ))
ID=$(b64file "$T/cred.id")
SEC=$(b64file "$T/cred.secret")
big=$(head -c 4000 /dev/zero | base64 -w0)
nonce65=$(head -c 65 /dev/zero | base64 -w0)
nonce64=$(head -c 64 /dev/zero | base64 -w0)

valid_calls() {
        vl Quote "{\"nonce\":\"$nonce64\",\"pcrs\":[0,23]}" >/dev/null || fail "valid quote failed after bad input"
        attestd_alive || fail "attestd died"
}

check() {
        local expected=$1 field=$2 method=$3 params=$4 out
        out=$(vl_error "$expected" "$method" "$params")
        if [[ -n $field ]]; then
                grep -qF "\"parameter\":\"$field\"" <<<"$out" || fail "$method $params: error does not name $field: $out"
        fi
        valid_calls
        pass "$method: ${5:-$params} → $expected${field:+ ($field)}"
}

IP=org.varlink.service.InvalidParameter
check $IP credentialBlob ActivateCredential "{\"credentialBlob\":\"not base64!\",\"encryptedSecret\":\"$SEC\"}" "bad base64"
check $IP credentialBlob ActivateCredential "{\"credentialBlob\":\"$big\",\"encryptedSecret\":\"$SEC\"}" "4000-byte blob"
check $IP credentialBlob ActivateCredential "{\"credentialBlob\":\"AAU=\",\"encryptedSecret\":\"$SEC\"}" "truncated TPM2B"
check $IP encryptedSecret ActivateCredential "{\"credentialBlob\":\"$ID\",\"encryptedSecret\":\"$big\"}" "oversized secret"
check $IP encryptedSecret ActivateCredential "{\"credentialBlob\":\"$ID\",\"encryptedSecret\":\"===\"}" "bad base64"
check $IP encryptedSecret ActivateCredential "{\"credentialBlob\":\"$ID\"}" "missing field"
check $IP "" ActivateCredential "{\"credentialBlob\":\"$ID\",\"encryptedSecret\":\"$SEC\",\"extra\":1}" "unknown field"

# An altered encrypted seed: the TPM cannot decrypt it, the credential is rejected.
cp "$T/cred.secret" "$T/cred.secret.bad"
printf '\xff\xff\xff\xff' | dd of="$T/cred.secret.bad" bs=1 seek=20 conv=notrunc status=none
check io.patela.Attest.CredentialRejected "" ActivateCredential \
        "{\"credentialBlob\":\"$ID\",\"encryptedSecret\":\"$(b64file "$T/cred.secret.bad")\"}" "altered seed"
cp "$T/cred.id" "$T/cred.id.bad"
flip_bit "$T/cred.id.bad" $((idlen - 3))
check io.patela.Attest.CredentialRejected "" ActivateCredential \
        "{\"credentialBlob\":\"$(b64file "$T/cred.id.bad")\",\"encryptedSecret\":\"$SEC\"}" "altered blob"

check $IP pcrs Quote "{\"nonce\":\"$nonce64\",\"pcrs\":[24]}" "PCR 24"
check $IP pcrs Quote "{\"nonce\":\"$nonce64\",\"pcrs\":[-1]}" "PCR -1"
check $IP pcrs Quote "{\"nonce\":\"$nonce64\",\"pcrs\":[\"7\"]}" "PCR as string"
check $IP pcrs Quote "{\"nonce\":\"$nonce64\",\"pcrs\":[]}" "no PCR"
check $IP nonce Quote "{\"nonce\":\"\",\"pcrs\":[0]}" "empty nonce"
check $IP nonce Quote "{\"nonce\":\"$nonce65\",\"pcrs\":[0]}" "65-byte nonce"
check $IP nonce Quote "{\"nonce\":\"@@@@\",\"pcrs\":[0]}" "bad base64 nonce"
check $IP bank Quote "{\"nonce\":\"$nonce64\",\"pcrs\":[0],\"bank\":\"md5\"}" "unknown bank"
check $IP "" GetIdentity "{\"x\":1}" "unknown field"

# The genuine credential still works after all of that.
vl ActivateCredential "{\"credentialBlob\":\"$ID\",\"encryptedSecret\":\"$SEC\"}" | jq -r .secret | b64decode_to "$T/got.bin"
cmp -s "$T/secret.bin" "$T/got.bin" || fail "valid activation failed after bad input"
pass "valid activation after all bad inputs"

# No TPM: a declared error, not a crash.
attestd_stop
TCTI="swtpm:path=$T/nonexistent.sock"
attestd_start
vl_error io.patela.Attest.TpmUnavailable GetIdentity '{}' >/dev/null
attestd_alive || fail "attestd died without a TPM"
pass "missing TPM → TpmUnavailable, daemon stays up"

# --tcti wins over $PATELA_TPM2_TCTI (flags over the environment): the environment names no TPM, the flag the
# real one.
attestd_stop
real="swtpm:path=${SWTPM_DIR:-$T}/tpm.sock"
attestd_start --tcti="$real"
vl GetIdentity | jq -e .fingerprint >/dev/null || fail "--tcti did not win over \$PATELA_TPM2_TCTI"
pass "--tcti=$real wins over PATELA_TPM2_TCTI=$TCTI"
attestd_stop
