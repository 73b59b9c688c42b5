#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The AK (and so the identity) survives a daemon restart and a TPM power cycle with nothing on disk;
# another TPM has another identity.
source "$PATELA_SOURCE_DIR/test/lib.sh"

swtpm_start
attestd_start
vl GetIdentity >"$T/id1.json"

attestd_stop
swtpm_power_cycle
attestd_start
vl GetIdentity >"$T/id2.json"

for f in akName ekName akPublic ekPublic fingerprint; do
        a=$(jq -r ".$f" "$T/id1.json")
        b=$(jq -r ".$f" "$T/id2.json")
        [[ $a == "$b" ]] || fail "$f changed across restart + power cycle: $a → $b"
done
pass "AK name, EK and fingerprint unchanged after attestd restart and swtpm power cycle"

# Nothing was persisted in the TPM either: no persistent handles, no NV indices.
tpm2_getcap handles-persistent >"$T/persistent.txt"
tpm2_getcap handles-nv-index >"$T/nv.txt"
[[ ! -s $T/persistent.txt && ! -s $T/nv.txt ]] || fail "attestd left objects in the TPM: $(cat "$T/persistent.txt" "$T/nv.txt")"
pass "no persistent handle or NV index created"

# A second TPM: different identity.
attestd_stop
swtpm_start other
attestd_start
vl GetIdentity >"$T/id3.json"
[[ $(jq -r .fingerprint "$T/id3.json") != "$(jq -r .fingerprint "$T/id1.json")" ]] || fail "two TPMs share a fingerprint"
[[ $(jq -r .akName "$T/id3.json") != "$(jq -r .akName "$T/id1.json")" ]] || fail "two TPMs share an AK name"
pass "another TPM, another fingerprint"

# A persistent EK at 0x81010001 is used as it is.
attestd_stop
tpm2_createek -c 0x81010001 -G rsa -u "$T/ek-persist.pub" >/dev/null
attestd_start --ek-type=rsa2048
vl GetIdentity >"$T/id4.json"
[[ $(jq -r .ekHandle "$T/id4.json") == "$((0x81010001))" ]] || fail "persistent EK not used: $(jq -c . "$T/id4.json")"
[[ $(jq -r .ekPublic "$T/id4.json") == "$(b64file "$T/ek-persist.pub")" ]] || fail "EK public differs from tpm2_createek's"
[[ $(jq -r .ekPublic "$T/id4.json") == "$(jq -r .ekPublic "$T/id3.json")" ]] || fail "persistent EK differs from the derived one"
pass "persistent EK at 0x81010001 used, and it equals the template-derived EK"
