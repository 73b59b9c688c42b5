#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# EK certificates at enrolment (EkCertificate=verify|require|ignore, EkCaDirectory=): a TPM manufactured by
# swtpm_setup with swtpm_localca's chain (root → intermediate → the RSA EK's certificate in NV 0x01C00002, as
# attestd reads it) against the server's EK roots. A valid chain is verified, and so are the forms real TPMs
# store (a TCG NV header in front, 0xFF padding after, an OCTET STRING around); another CA, another EK's
# certificate and garbage are refused with EkRejected and leave no row. swtpm's other certificate, for a
# P-384 ECC EK, is not used: attestd's ECC EK is P-256 (the TCG default template), whose index stays empty.
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

# manufacture NAME CA_DIR: a TPM state with EK certificates signed by the local CA in CA_DIR (made if new).
manufacture() {
        local name=$1 ca=$2
        mkdir -p "$T/$name" "$ca"
        printf 'statedir = %s\nsigningkey = %s/signkey.pem\nissuercert = %s/issuercert.pem\ncertserial = %s/certserial\n' \
                "$ca" "$ca" "$ca" "$ca" >"$ca/localca.conf"
        printf 'create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = /etc/swtpm-localca.options\nactive_pcr_banks = sha256\n' \
                "$ca/localca.conf" >"$ca/setup.conf"
        swtpm_setup --tpm2 --tpmstate "$T/$name" --create-ek-cert --config "$ca/setup.conf" --overwrite \
                >"$T/setup-$name.log" 2>&1 || fail "swtpm_setup: $(tail -5 "$T/setup-$name.log")"
}

manufacture tpm "$T/ca-good"
manufacture other "$T/ca-other"
mkdir -p "$T/ek-ca.d"
# The root and the intermediate, as a manufacturer publishes them.
cp "$T/ca-good/swtpm-localca-rootca-cert.pem" "$T/ek-ca.d/root.pem"
cp "$T/ca-good/issuercert.pem" "$T/ek-ca.d/intermediate.crt"

ca_setup
server_start --ek-ca-directory="$T/ek-ca.d"
grep -q "EK certificates: verified when present, 2 roots and intermediates" "$T/server.log" ||
        fail "roots not loaded: $(grep 'EK cert' "$T/server.log")"

swtpm_start tpm
attestd_start
node_identity
[[ $(jq -r .ekType "$T/id.json") == rsa2048 && $(jq -r .ekCertificate "$T/id.json") != null ]] ||
        fail "attestd has no certified RSA EK: $(jq -c '{ekType, c: (.ekCertificate != null)}' "$T/id.json")"
cert=$(jq -r .ekCertificate "$T/enroll.json")
certhex=$(base64 -d <<<"$cert" | xxd -p | tr -d '\n')
# The same openssl verifies it independently, through the same chain.
base64 -d <<<"$cert" >"$T/ek.der"
openssl verify -partial_chain -CAfile "$T/ek-ca.d/root.pem" -untrusted "$T/ek-ca.d/intermediate.crt" \
        <(openssl x509 -inform DER -in "$T/ek.der") >/dev/null || fail "openssl does not verify swtpm's EK certificate"

# enroll_with CERT_B64_OR_NULL EXPECTED_STATUS [ERROR]: a new identity each time (the node row is removed).
enroll_with() {
        local body
        if [[ $1 == null ]]; then
                body=$(jq -c 'del(.ekCertificate)' "$T/enroll.json")
        else
                body=$(jq -c --arg c "$1" '.ekCertificate = $c' "$T/enroll.json")
        fi
        printf '%s' "$body" >"$T/try.json"
        if [[ $2 == 202 ]]; then
                node_prove "$T/try.json"
        else
                http POST /v1/enroll "$T/try.json" >/dev/null
        fi
        if [[ -n ${3:-} ]]; then
                expect_error "$2" "$3"
        else
                [[ $HTTP_STATUS == "$2" ]] || fail "enrolment: HTTP $HTTP_STATUS $(cat "$T/http.body")"
        fi
}
status() {
        db_query "SELECT coalesce(ek_certificate_status, 'NULL') || ' ' || coalesce(ek_certificate_issuer, '') FROM nodes"
}
reset_nodes() {
        db_query "DELETE FROM nodes"
}

enroll_with "$cert" 202
[[ $(status) == "verified /CN=swtpm-localca" ]] || fail "status: $(status)"
ps_cli list nodes | grep -Eq "^1 +pending .* rsa2048 +verified " || fail "list nodes: $(ps_cli list nodes)"
pass "swtpm's EK certificate verified through root and intermediate (and by openssl verify); list nodes says so"

for form in header padded wrapped; do
        reset_nodes
        size=$(( ${#certhex} / 2 ))
        case $form in
        header) hex=$(printf '1001%04x%s' "$size" "$certhex") ;;
        padded) hex=$certhex$(printf 'ff%.0s' $(seq 1 96)) ;;
        wrapped) hex=$(printf '0482%04x%s' "$size" "$certhex") ;;
        esac
        enroll_with "$(xxd -r -p <<<"$hex" | base64 -w0)" 202
        [[ $(status) == "verified /CN=swtpm-localca" ]] || fail "$form: $(status)"
done
pass "the forms TPMs store: a TCG NV header in front, 0xFF padding after, an OCTET STRING around: verified"

# Refusals: nothing written.
reset_nodes
rm "$T/ek-ca.d/root.pem" "$T/ek-ca.d/intermediate.crt"
cp "$T/ca-other/swtpm-localca-rootca-cert.pem" "$T/ek-ca.d/other.pem"
server_stop
server_start --ek-ca-directory="$T/ek-ca.d"
enroll_with "$cert" 400 EkRejected
grep -q "no chain to the EK roots" "$T/http.body" || fail "reason: $(cat "$T/http.body")"
[[ $(db_count nodes) == 0 ]] || fail "a refused identity left a row"
pass "a certificate from another CA: EkRejected ($(jq -r .message "$T/http.body")), no row"

# Another TPM's certificate with this EK: the key is not this EK's.
swtpm_start other
attestd_stop
attestd_start
other_cert=$(vl GetIdentity | jq -r .ekCertificate)
enroll_with "$other_cert" 400 EkRejected
grep -q "key is not this EK" "$T/http.body" || fail "reason: $(cat "$T/http.body")"
enroll_with "$(head -c 600 /dev/urandom | base64 -w0)" 400 EkRejected
enroll_with "$(printf '30820100' | xxd -r -p | base64 -w0)" 400 EkRejected
enroll_with "$(xxd -r -p <<<"${certhex}00ab" | base64 -w0)" 400 EkRejected
[[ $(db_count nodes) == 0 ]] || fail "a refused identity left a row"
pass "another EK's certificate, random bytes, a truncated DER and trailing bytes that are no padding: EkRejected, no row"

# This identity's proof challenge cannot be answered by the other TPM (it holds neither the EK nor the AK).
jq -c 'del(.ekCertificate)' "$T/enroll.json" >"$T/nocert.json"
http POST /v1/enroll "$T/nocert.json" >"$T/prove.json"
[[ $HTTP_STATUS == 200 ]] || fail "proof challenge: HTTP $HTTP_STATUS $(cat "$T/prove.json")"
vl_error CredentialRejected ActivateCredential "$(jq -c '{credentialBlob, encryptedSecret}' "$T/prove.json")" >/dev/null
[[ $(db_count nodes) == 0 ]] || fail "a proof challenge made a row"
pass "another TPM cannot answer this identity's proof challenge (CredentialRejected): no pending row"
# Back to the node's own TPM.
attestd_stop
TCTI="swtpm:path=${SWTPM_DIR:-$T}/tpm.sock"
export TPM2TOOLS_TCTI=$TCTI
attestd_start

# verify: absence is recorded; require: absence refused; ignore: nothing looked at.
enroll_with null 202
[[ $(status) == "absent " ]] || fail "absent: $(status)"
reset_nodes
server_stop
server_start --ek-ca-directory="$T/ek-ca.d" --ek-certificate=require
enroll_with null 400 EkRejected
grep -q "EkCertificate=require" "$T/http.body" || fail "reason: $(cat "$T/http.body")"
server_stop
server_start --ek-certificate=ignore
enroll_with "$(head -c 600 /dev/urandom | base64 -w0)" 202
[[ $(status) == "ignored " ]] || fail "ignored: $(status)"
pass "EkCertificate=verify records an absent certificate, require refuses it, ignore looks at nothing"

attestd_stop
server_stop
