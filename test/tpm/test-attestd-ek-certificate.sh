#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An EK certificate in the TCG NV index is returned as stored, and decides the EK type under "auto".
source "$PATELA_SOURCE_DIR/test/lib.sh"

swtpm_start
attestd_start
[[ $(vl GetIdentity | jq -r .ekCertificate) == null ]] || fail "certificate without NV index"
[[ $(vl GetIdentity | jq -r .ekType) == rsa2048 ]] || fail "auto without certificates is not rsa2048"
attestd_stop

# A self-signed certificate standing in for the manufacturer's, written where an ECC EK certificate goes.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" -subj /CN=test-ek \
        -days 1 -outform DER -out "$T/ek.der" 2>/dev/null
size=$(stat -c %s "$T/ek.der")
tpm2_nvdefine 0x01C0000A -C o -s "$size" -a "ownerread|ownerwrite|authread|no_da" >/dev/null
tpm2_nvwrite 0x01C0000A -C o -i "$T/ek.der"

attestd_start
vl GetIdentity >"$T/id.json"
[[ $(jq -r .ekType "$T/id.json") == ecc-p256 ]] || fail "auto did not pick the certified ECC EK: $(jq -r .ekType "$T/id.json")"
jq -r .ekCertificate "$T/id.json" | b64decode_to "$T/ek.got"
cmp -s "$T/ek.der" "$T/ek.got" || fail "certificate differs from what was stored"
openssl x509 -inform DER -in "$T/ek.got" -noout -subject | grep -q test-ek || fail "certificate does not parse"
pass "EK certificate ($size bytes, more than one NV read) returned as stored; auto picked ecc-p256"
