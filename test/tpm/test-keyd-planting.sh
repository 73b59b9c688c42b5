#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 11, item 7: keyd's NV cannot be planted. The attacker is root on a boot that the policy does not allow
# (uki-X). The owner hierarchy (empty auth, as systemd-pcrlock needs it) lets it read, undefine and define
# every owner NV index, and the SRK seals objects to any policy; it cannot satisfy the pcrlock policy. Every
# attack starts from the same provisioned node (a saved swtpm state, two relays stored in two generations) and
# ends with a good boot of the stateless node (uki-A, files wiped, pcrlock.json restored from NV), on which
# keyd must refuse, mint nothing, and say why (the error, GetStatus's nvProblem, patelactl status):
#   planted-kek   a KEK the attacker knows, sealed under the SRK to the node's own policy, at keyd's KEK index
#                 (defined as keyd defines it: unwritable; so owner-writable), and the stored keys wiped
#   kek-removed   the KEK index removed, the stored keys left (and once more without the pcrlock copy either,
#                 so that make-policy allocates a new index at boot)
#   rollback      the newer store slot removed: only the older set of relays (without the second) decrypts;
#                 and the whole store removed
#   pcrlock-copy  keyd's copy of pcrlock.json in NV rewritten with a valid SHA-256 (owner-written)
#   wiped         everything of keyd's removed, the KEK index defined as keyd defines it but never written (what
#                 a first use interrupted between the two leaves): that is a new node, keys are minted anew.
#                 The one planting keyd cannot tell from a new TPM (docs/threats.md); it exposes no key.
# First, the legitimate boots: the first boot seals and stores, a warm boot with every file wiped unseals the
# same keys, and keyd's indices refuse an owner write (layout). PATELA_PLANTING_ATTACKS="a b" runs only those parts.
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/lib-keyd.sh"

KEK_INDEX=0x01300001
SLOT_FIRST=(0x01300010 0x01300020)
COPY_FIRST=(0x01300030 0x01300040)
ATTACKS=${PATELA_PLANTING_ATTACKS:-layout planted-kek kek-removed rollback pcrlock-copy wiped}

keyd_restore() {
        PATELA_TPM2_TCTI=$TCTI "$PATELA_BUILD_DIR/src/keyd/patela-keyd" --pcrlock-policy="$POLICY" \
                --restore-pcrlock-policy >>"$T/restore.log" 2>&1
}

# What a reboot of the RAM-only node loses.
wipe() {
        rm -rf "$KEYD_KEYS" "$POLICY" "$POLICY.patela-nv-copy" "$T"/tor-*
}

# good_boot: the predicted image boots; pcrlock.json comes back from keyd's copy in NV, as
# patela-pcrlock-restore.service does it; keyd starts with a fresh log.
good_boot() {
        wipe
        reboot_into "$T/uki-A"
        keyd_restore || true
        : >"$T/keyd.log"
        keyd_start
}

# attacker_boot [SAVED]: other software boots (from the saved TPM state SAVED); keyd does not run.
attacker_boot() {
        keyd_stop
        wipe
        swtpm_ioctl --unix "$T/tpm.sock.ctrl" -s
        wait "$SWTPM_PID_tpm" 2>/dev/null || true
        if [[ -n ${1:-} ]]; then
                rm -rf "$T/tpm"
                cp -a "$T/saved-$1" "$T/tpm"
        fi
        swtpm_start
        boot "$T/uki-X"
}

# save_tpm NAME: the TPM's state as it is now (swtpm shut down and started again: a power cycle).
save_tpm() {
        keyd_stop
        swtpm_ioctl --unix "$T/tpm.sock.ctrl" -s
        wait "$SWTPM_PID_tpm" 2>/dev/null || true
        rm -rf "$T/saved-$1"
        cp -a "$T/tpm" "$T/saved-$1"
        swtpm_start
}

# keyd_indices: keyd's NV indices (0x01300000–0x013000ff) present now, one per line, as 0x0130XXXX.
keyd_indices() {
        tpm2_getcap handles-nv-index | awk '{ print $2 }' | while read -r h; do
                if ((h >= 0x01300000 && h <= 0x013000ff)); then printf '0x%08x\n' "$h"; fi
        done
}

# undefine_chain FIRST: every index of the chain FIRST, FIRST + 1, … that exists.
undefine_chain() {
        local i
        for ((i = $1; i < $1 + 16; i++)); do
                tpm2_nvundefine -C o "$(printf '0x%08x' "$i")" >/dev/null 2>&1 || true
        done
}

# attributes INDEX: tpm2_nvreadpublic's friendly attributes.
attributes() {
        tpm2_nvreadpublic "$1" | awk '/friendly:/ && /\|/ { print $2 }'
}

# expect_refused ERROR NAMES…: EnsureRelays and ListRelays refused with ERROR, no key file, nvProblem set,
# patelactl status names it. The EnsureRelays error goes to $T/refused.out. (Not to be called in $(…): errexit
# does not reach into command substitutions.)
expect_refused() {
        local error=$1
        shift
        kv_error "io.patela.Keys.$error" EnsureRelays "$(relays_json "$@")" >"$T/refused.out"
        kv_error "io.patela.Keys.$error" ListRelays '{}' >/dev/null
        [[ ! -e $KEYD_KEYS ]] || [[ -z $(ls -A "$KEYD_KEYS") ]] || fail "key files written: $(ls "$KEYD_KEYS")"
        grep -q "Refusing" "$T/keyd.log" || fail "keyd did not log its refusal: $(tail -5 "$T/keyd.log")"
        kv GetStatus >"$T/status.json"
        [[ $(jq -r '.nvProblem // empty' "$T/status.json") != "" ]] || fail "GetStatus has no nvProblem: $(cat "$T/status.json")"
        "$PATELA_BUILD_DIR/src/patelactl/patelactl" --keys-socket="$KEYD_SOCK" --attest-socket="$T/none" \
                --config-socket="$T/none" status >"$T/ctl.out" 2>&1 || true
        grep -q "NV problem: " "$T/ctl.out" || fail "patelactl status does not show the problem: $(cat "$T/ctl.out")"
}

# refused_index: the index NvTampered named.
refused_index() {
        sed -n '/^{/p' "$T/refused.out" | jq -r .index
}

swtpm_start
head -c 4096 /dev/urandom >"$T/uki-A"
head -c 4096 /dev/urandom >"$T/uki-X"
boot "$T/uki-A"

# --- the legitimate boots ---------------------------------------------------------------------------------
keyd_restore || fail "restore on a fresh TPM failed: $(tail -3 "$T/restore.log")"
policy_for "$T/uki-A"
cp "$POLICY" "$T/policy-A.json"
keyd_start
kv EnsureRelays "$(relays_json exitone)" >"$T/one.json"
kv EnsureRelays "$(relays_json exitone exittwo)" >"$T/two.json"
[[ $(jq -r '.relays[] | select(.name == "exittwo") | .created' "$T/two.json") == true ]] || fail "exittwo not created"
[[ $(kv GetStatus | jq -r '.nvProblem') == null ]] || fail "nvProblem on a good node: $(kv GetStatus)"
good_boot
cmp -s "$POLICY" "$T/policy-A.json" || fail "pcrlock.json not restored from NV: $(tail -3 "$T/restore.log")"
kv EnsureRelays "$(relays_json exitone exittwo)" >"$T/warm.json"
[[ $(jq -c '[.relays[] | [.name, .rsaFingerprint, .created]]' "$T/warm.json") == \
        "$(jq -c '[.relays[] | [.name, .rsaFingerprint, false]]' "$T/two.json")" ]] ||
        fail "the warm boot did not unseal the same keys: $(cat "$T/warm.json")"
pass "first boot seals and stores two relays; a warm boot with every file wiped unseals the same keys"
jq -c '.relays[] | [.name, .rsaFingerprint]' "$T/two.json" >"$T/fingerprints"

save_tpm provisioned
if [[ " $ATTACKS " == *" layout "* ]]; then
        attacker_boot
        for idx in $KEK_INDEX ${COPY_FIRST[0]}; do
                [[ $(attributes "$idx") == *policywrite* && $(attributes "$idx") != *ownerwrite* ]] ||
                        fail "$idx: $(attributes "$idx"): not written through the policy only"
                size=$(tpm2_nvreadpublic "$idx" | awk '/^  size:/ { print $2 }')
                head -c "$size" /dev/zero >"$T/zeros"
                ! tpm2_nvwrite -C o -i "$T/zeros" "$idx" 2>/dev/null || fail "the owner overwrote $idx"
                ! tpm2_nvwrite -C "$idx" -i "$T/zeros" "$idx" 2>/dev/null || fail "$idx's own auth overwrote it"
        done
        pass "keyd's KEK index and pcrlock copy: policywrite only; neither the owner nor the index's auth may write them"
fi

# --- planted-kek ----------------------------------------------------------------------------------------------
if [[ " $ATTACKS " == *" planted-kek "* ]]; then
        attacker_boot provisioned
        # The sealed KEK's public area is owner-readable; its authPolicy is PolicyAuthorizeNV(pcrlock's index).
        tpm2_nvread -C o -o "$T/kek-index.bin" "$KEK_INDEX" >/dev/null 2>&1 || fail "the KEK index is not owner-readable"
        [[ $(od -An -tx1 -j10 -N2 "$T/kek-index.bin" | tr -d ' ') == 0020 ]] || fail "no SHA-256 authPolicy at offset 12"
        dd if="$T/kek-index.bin" of="$T/authpolicy.bin" bs=1 skip=12 count=32 status=none
        head -c 32 /dev/urandom >"$T/attacker-kek"
        tpm2_create -C 0x81000001 -a 'fixedtpm|fixedparent|noda' -L "$T/authpolicy.bin" \
                -i "$T/attacker-kek" -u "$T/planted.pub" -r "$T/planted.priv" >"$T/create.log" 2>&1 ||
                fail "tpm2_create: $(cat "$T/create.log")"
        cat "$T/planted.pub" "$T/planted.priv" >"$T/planted.bin"
        size=$(stat -c %s "$T/planted.bin")
        tpm2_nvundefine -C o "$KEK_INDEX" >/dev/null || fail "the owner cannot undefine the KEK index"
        # Defined as keyd defines it, the index takes no write without the policy.
        tpm2_nvdefine -C o -s "$size" -a 'policywrite|ownerread|no_da' -L "$T/authpolicy.bin" "$KEK_INDEX" >/dev/null ||
                fail "tpm2_nvdefine policywrite"
        ! tpm2_nvwrite -C o -i "$T/planted.bin" "$KEK_INDEX" 2>/dev/null || fail "the owner wrote a policywrite index"
        tpm2_nvundefine -C o "$KEK_INDEX" >/dev/null
        tpm2_nvdefine -C o -s "$size" -a 'ownerread|ownerwrite|no_da' "$KEK_INDEX" >/dev/null || fail "tpm2_nvdefine"
        tpm2_nvwrite -C o -i "$T/planted.bin" "$KEK_INDEX" || fail "tpm2_nvwrite of the planted KEK"
        undefine_chain "${SLOT_FIRST[0]}"
        undefine_chain "${SLOT_FIRST[1]}"
        keyd_indices >"$T/indices-before"

        good_boot
        expect_refused NvTampered exitone exittwo
        [[ $(refused_index) == 0x01300001 ]] || fail "the error does not name the KEK index: $(cat "$T/refused.out")"
        keyd_indices | cmp -s - "$T/indices-before" || fail "keyd changed its NV: $(keyd_indices | tr '\n' ' ')"
        [[ $(attributes "$KEK_INDEX") == *ownerwrite* ]] || fail "the planted KEK index was replaced"
        # The attack is real: on this good boot the policy unseals the planted object to the attacker's key.
        PATELA_TPM2_TCTI=$TCTI "$PCRLOCK_TOOL" unseal "$POLICY" "$T/planted.pub" "$T/planted.priv" \
                >"$T/unsealed.bin" 2>"$T/unseal.log" || fail "the planted KEK does not unseal: $(cat "$T/unseal.log")"
        cmp -s "$T/unsealed.bin" "$T/attacker-kek" || fail "the planted KEK unsealed to something else"
        pass "planted KEK (sealed to the node's policy; it unseals on the good boot), owner-writable index, store wiped: NvTampered $(refused_index), nothing minted"

        # With keyd's own format (a zero store head after the sealed object), still refused.
        attacker_boot provisioned
        head -c 32 /dev/zero >>"$T/planted.bin"
        tpm2_nvundefine -C o "$KEK_INDEX" >/dev/null
        tpm2_nvdefine -C o -s "$(stat -c %s "$T/planted.bin")" -a 'ownerread|ownerwrite|no_da' "$KEK_INDEX" >/dev/null
        tpm2_nvwrite -C o -i "$T/planted.bin" "$KEK_INDEX" || fail "tpm2_nvwrite of the planted KEK"
        undefine_chain "${SLOT_FIRST[0]}"
        undefine_chain "${SLOT_FIRST[1]}"
        good_boot
        expect_refused NvTampered exitone
        pass "the same with keyd's record layout: NvTampered"

        # The index defined as keyd defines it but, unwritable, left empty: the stored keys (here: the pcrlock
        # copy) say a KEK existed.
        attacker_boot provisioned
        tpm2_nvundefine -C o "$KEK_INDEX" >/dev/null
        tpm2_nvdefine -C o -s "$size" -a 'policywrite|ownerread|no_da' -L "$T/authpolicy.bin" "$KEK_INDEX" >/dev/null
        undefine_chain "${SLOT_FIRST[0]}"
        undefine_chain "${SLOT_FIRST[1]}"
        good_boot
        expect_refused NvTampered exitone
        [[ $(attributes "$KEK_INDEX") != *written* ]] || fail "keyd wrote the planted index"
        pass "keyd's own index definition left unwritten, store wiped: NvTampered, nothing sealed"
fi

# --- kek-removed ----------------------------------------------------------------------------------------------
if [[ " $ATTACKS " == *" kek-removed "* ]]; then
        attacker_boot provisioned
        tpm2_nvundefine -C o "$KEK_INDEX" >/dev/null || fail "tpm2_nvundefine"
        keyd_indices >"$T/indices-before"
        good_boot
        expect_refused NvTampered exitone exittwo
        keyd_indices | cmp -s - "$T/indices-before" || fail "keyd changed its NV: $(keyd_indices | tr '\n' ' ')"
        pass "KEK index removed, stored keys left: NvTampered $(refused_index), no new KEK sealed"

        # And the pcrlock copy removed too: nothing to restore, make-policy allocates a new index at boot.
        attacker_boot provisioned
        tpm2_nvundefine -C o "$KEK_INDEX" >/dev/null
        undefine_chain "${COPY_FIRST[0]}"
        undefine_chain "${COPY_FIRST[1]}"
        keyd_stop
        wipe
        reboot_into "$T/uki-A"
        keyd_restore || true
        [[ ! -e $POLICY ]] || fail "a policy was restored from nothing"
        policy_for "$T/uki-A"
        keyd_indices >"$T/indices-before"
        : >"$T/keyd.log"
        keyd_start
        expect_refused NvTampered exitone
        keyd_indices | cmp -s - "$T/indices-before" || fail "keyd changed its NV: $(keyd_indices | tr '\n' ' ')"
        pass "KEK and pcrlock copy removed, a new pcrlock index made at boot, stored keys left: NvTampered"
fi

# --- rollback -------------------------------------------------------------------------------------------------
if [[ " $ATTACKS " == *" rollback "* ]]; then
        attacker_boot provisioned
        # Each record's header (magic, version, flags, generation) is in the clear: remove the newer slot.
        for s in 0 1; do
                gen[s]=$(tpm2_nvread -C o -s 16 "${SLOT_FIRST[s]}" 2>/dev/null | od -An -tx1 -j8 -N8 | tr -d ' \n')
        done
        [[ -n ${gen[0]} && -n ${gen[1]} ]] || fail "not two store slots: ${gen[*]}"
        if [[ ${gen[0]} > ${gen[1]} ]]; then newer=0; else newer=1; fi
        undefine_chain "${SLOT_FIRST[newer]}"
        good_boot
        expect_refused StoreCorrupted exitone exittwo
        pass "the newer store slot removed (generation $((16#${gen[newer]}))): StoreCorrupted, exittwo not minted again"

        # The whole store removed while the sealed key says keys were stored.
        attacker_boot provisioned
        undefine_chain "${SLOT_FIRST[0]}"
        undefine_chain "${SLOT_FIRST[1]}"
        good_boot
        expect_refused StoreMissing exitone exittwo
        pass "the whole store removed: StoreMissing, nothing minted"
fi

# --- pcrlock-copy ---------------------------------------------------------------------------------------------
if [[ " $ATTACKS " == *" pcrlock-copy "* ]]; then
        attacker_boot provisioned
        # A copy with a valid SHA-256 and a higher generation: the allowed values of PCR 5 in another order.
        jq -c '.pcrValues |= map(if (.values | length) > 1 then .values |= reverse else . end)' "$T/policy-A.json" \
                >"$T/tampered.json"
        cmp -s "$T/tampered.json" "$T/policy-A.json" && fail "jq changed nothing"
        len=$(stat -c %s "$T/tampered.json")
        { printf 'PTLP'; printf '%016x%08x' 1000 "$len" | xxd -r -p; sha256sum "$T/tampered.json" | cut -c1-64 | xxd -r -p
          cat "$T/tampered.json"; } >"$T/tampered.rec"
        undefine_chain "${COPY_FIRST[0]}"
        undefine_chain "${COPY_FIRST[1]}"
        split -b 1024 -d -a 1 "$T/tampered.rec" "$T/tampered.part"
        i=0
        for part in "$T"/tampered.part*; do
                idx=$(printf '0x%08x' $((COPY_FIRST[0] + i)))
                tpm2_nvdefine -C o -s "$(stat -c %s "$part")" -a 'ownerread|ownerwrite|no_da' "$idx" >/dev/null
                tpm2_nvwrite -C o -i "$part" "$idx" || fail "tpm2_nvwrite $idx"
                i=$((i + 1))
        done
        keyd_stop
        wipe
        reboot_into "$T/uki-A"
        ! keyd_restore || fail "the tampered copy was restored: $(diff <(jq -S . "$POLICY") <(jq -S . "$T/policy-A.json"))"
        [[ ! -e $POLICY ]] || fail "a policy file was written"
        grep -q "0x01300030" "$T/restore.log" || fail "restore does not name the index: $(tail -3 "$T/restore.log")"
        : >"$T/keyd.log"
        keyd_start
        expect_refused NvTampered exitone
        [[ $(refused_index) == 0x01300030 ]] || fail "the error does not name the copy's index: $(cat "$T/refused.out")"
        pass "a pcrlock copy not written through the policy: restore refuses it, keyd answers NvTampered $(refused_index)"

        # make-policy at boot, without the file, allocates a new index: the KEK is bound to the old one.
        policy_for "$T/uki-A"
        expect_refused NvTampered exitone
        [[ $(refused_index) == 0x01300001 ]] || fail "the error does not name the KEK index: $(cat "$T/refused.out")"
        pass "then a new pcrlock index from make-policy: NvTampered, the KEK is bound to another policy"
fi

# --- wiped ----------------------------------------------------------------------------------------------------
if [[ " $ATTACKS " == *" wiped "* ]]; then
        attacker_boot provisioned
        for idx in $(keyd_indices); do
                tpm2_nvundefine -C o "$idx" >/dev/null || fail "tpm2_nvundefine $idx"
        done
        keyd_stop
        wipe
        reboot_into "$T/uki-A"
        keyd_restore || fail "restore with nothing in NV failed: $(tail -3 "$T/restore.log")"
        [[ ! -e $POLICY ]] || fail "a policy was restored from nothing"
        policy_for "$T/uki-A"
        PATELA_TPM2_TCTI=$TCTI "$PCRLOCK_TOOL" authpolicy "$POLICY" | xxd -r -p >"$T/authpolicy-new.bin"
        tpm2_nvdefine -C o -s 273 -a 'policywrite|ownerread|no_da' -L "$T/authpolicy-new.bin" "$KEK_INDEX" >/dev/null ||
                fail "tpm2_nvdefine"
        : >"$T/keyd.log"
        keyd_start
        kv EnsureRelays "$(relays_json exitone)" >"$T/new.json"
        [[ $(jq -r '.relays[0].created' "$T/new.json") == true ]] || fail "not minted anew: $(cat "$T/new.json")"
        [[ $(jq -r '.relays[0].rsaFingerprint' "$T/new.json") != "$(jq -r '.relays[0].rsaFingerprint' "$T/one.json")" ]] ||
                fail "the same identity from an empty TPM"
        grep -q "interrupted first use" "$T/keyd.log" || fail "keyd did not say it started over: $(tail -5 "$T/keyd.log")"
        [[ $(attributes "$KEK_INDEX") == *policywrite*written* ]] || fail "the new KEK index: $(attributes "$KEK_INDEX")"
        [[ $(kv GetStatus | jq -r '.nvProblem') == null ]] || fail "nvProblem on the new node: $(kv GetStatus)"
        pass "all of keyd's NV removed, the KEK index left defined and unwritten: a new node, sealed afresh through the new policy"
fi
