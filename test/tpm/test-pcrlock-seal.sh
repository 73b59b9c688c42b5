#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A KEK sealed to systemd-pcrlock's policy (src/shared/tpm/tpm2-pcrlock.c), against systemd-pcrlock itself,
# swtpm and tpm2-tools. One scenario per run, each with its own swtpm:
#   roundtrip     make-policy → seal → unseal; authPolicy, PCR policy and NV name agree with tpm2-tools and
#                 with what systemd itself computed; TPM command counts; nothing left loaded
#   unpredicted   a PCR extended with an unpredicted value → EPERM; the other declared errors
#   update        a predicted update: the next UKI as a second variant, make-policy rewrites the same NV
#                 index, the same sealed object unseals in the old boot and in the new one
#   dropped-pcr   make-policy silently drops a PCR it cannot match; the mask shows it
#   stateless     power cycle with nothing but the TPM and the fields of pcrlock.json that must persist
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/lib-pcrlock.sh"

scenario=${1:?scenario}

hex() { od -An -tx1 -v | tr -d ' \n'; }

tool() { "$PCRLOCK_TOOL" "$@"; }

# seal POLICY SECRET NAME: $T/NAME.pub, $T/NAME.priv; stderr in $T/seal.log.
seal() {
        tool seal "$1" "$T/$3.pub" "$T/$3.priv" <"$2" 2>"$T/seal.log" || fail "seal: $(cat "$T/seal.log")"
}

# unseal POLICY NAME: the secret into $T/unsealed.bin; stderr in $T/unseal.log.
unseal() {
        tool unseal "$1" "$T/$2.pub" "$T/$2.priv" >"$T/unsealed.bin" 2>"$T/unseal.log" ||
                fail "unseal with $1: $(cat "$T/unseal.log")"
}

# unseal_error ERRNO POLICY NAME: the unseal must fail with that errno; its output in $T/unseal.log.
unseal_error() {
        local rc=0
        tool unseal "$2" "$T/$3.pub" "$T/$3.priv" >"$T/unsealed.bin" 2>"$T/unseal.log" || rc=$?
        [[ $rc -ne 0 ]] || fail "unseal with $2 succeeded, expected $1"
        [[ ! -s $T/unsealed.bin ]] || fail "a failed unseal printed something"
        grep -qF -- ": $1 (" "$T/unseal.log" || fail "unseal with $2: expected $1, got: $(cat "$T/unseal.log")"
}

expect_unsealed() {
        cmp -s "$1" "$T/unsealed.bin" || fail "unsealed secret differs from the sealed one"
}

# commands VERB: "N TPM commands, T ms" from the last seal or unseal.
commands() { sed -n "s/^$1: \([0-9]* TPM commands, [0-9.]* ms\)$/\1/p" "$T/$1.log"; }

nv_index_of() { jq -r .nvIndex "$1"; }

# A boot of UKI A, its components, a policy in $T/pcrlock.json and a random 32-byte KEK sealed to it as
# $T/kek.{pub,priv}.
setup() {
        swtpm_start
        head -c 4096 /dev/urandom >"$T/uki-a.efi"
        head -c 4096 /dev/urandom >"$T/uki-b.efi"
        pcrlock_boot "$T/uki-a.efi"
        pcrlock_components "$T/uki-a.efi"
        pcrlock_make_policy "$T/pcrlock.json" || fail "make-policy: $(cat "$T/make-policy.log")"
        [[ $(tool mask "$T/pcrlock.json") == "$PCRLOCK_MASK" ]] ||
                fail "make-policy dropped PCRs: $(cat "$T/make-policy.log")"
        head -c 32 /dev/urandom >"$T/kek.bin"
        seal "$T/pcrlock.json" "$T/kek.bin" kek
}

scenario_roundtrip() {
        local idx ours trial systemd nv attrs start end

        setup
        grep -q "Written new policy to '$T/pcrlock.json'" "$T/make-policy.log" || fail "make-policy wrote elsewhere"
        [[ $(jq '.pcrValues[] | select(.pcr == 5) | .values | length' "$T/pcrlock.json") -eq 2 ]] ||
                fail "PCR 5 should have two allowed values (exit boot services present/absent)"
        pass "make-policy over the synthetic log kept PCRs $PCRLOCK_MASK (PCR 5 with two values)"

        # The sealed object's authPolicy three ways: ours, a tpm2-tools trial session running
        # PolicyAuthorizeNV on the real index, and systemd's own (it sealed its recovery PIN with it).
        idx=$(nv_index_of "$T/pcrlock.json")
        ours=$(tool authpolicy "$T/pcrlock.json")
        tpm2_startauthsession -S "$T/trial.ctx"
        tpm2_policyauthorizenv -S "$T/trial.ctx" -C o -L "$T/trial.bin" "$idx" >/dev/null
        tpm2_flushcontext "$T/trial.ctx"
        trial=$(hex <"$T/trial.bin")
        jq -r .pinPublic "$T/pcrlock.json" | base64 -d >"$T/pin.pub"
        systemd=$(tpm2_print -t TPM2B_PUBLIC "$T/pin.pub" | sed -n 's/^authorization policy: //p')
        [[ $ours == "$trial" ]] || fail "authPolicy: ours $ours, tpm2-tools trial session $trial"
        [[ $ours == "$systemd" ]] || fail "authPolicy: ours $ours, systemd's $systemd"
        tpm2_print -t TPM2B_PUBLIC "$T/kek.pub" >"$T/kek.pub.txt"
        grep -qx "authorization policy: $ours" "$T/kek.pub.txt" || fail "sealed object has another authPolicy"
        attrs=$(sed -n '/^attributes:/,/raw:/s/^ *value: //p' "$T/kek.pub.txt")
        [[ $attrs == "fixedtpm|fixedparent|noda" ]] || fail "sealed object attributes: $attrs"
        pass "authPolicy $ours = tpm2-tools' PolicyAuthorizeNV = systemd's; sealed fixedtpm|fixedparent"

        # The PCR policy we replay is the one make-policy wrote to the index.
        nv=$(pcrlock_nv_digest "$T/pcrlock.json")
        [[ $(tool pcr-policy "$T/pcrlock.json") == "$nv" ]] || fail "PCR policy differs from the NV index: $nv"
        pass "our PCR policy digest equals the one in NV index $(printf 0x%x "$idx")"

        start=$(date +%s%N)
        unseal "$T/pcrlock.json" kek
        end=$(date +%s%N)
        expect_unsealed "$T/kek.bin"
        # seal: ReadPublic(SRK), NV_ReadPublic, StartAuthSession, Create. unseal (SRK from srkHandle, NV
        # index from nvPublic, PCR 5 with two values): Load, StartAuthSession, PolicyPCR, PolicyPCR +
        # PolicyOR, PolicyAuthorizeNV, Unseal, FlushContext(object); the TPM flushes the sessions itself.
        [[ $(commands seal) == "4 TPM commands,"* && $(commands unseal) == "8 TPM commands,"* ]] ||
                fail "TPM commands: seal $(commands seal), unseal $(commands unseal)"
        pass "a 32-byte KEK unseals: seal $(commands seal), unseal $(commands unseal)" \
             "($(((end - start) / 1000000)) ms for the whole unseal process)"

        for f in handles-transient handles-loaded-session handles-saved-session; do
                [[ -z $(tpm2_getcap "$f") ]] || fail "left in the TPM: $f: $(tpm2_getcap "$f")"
        done
        pass "no object or session left in the TPM"

        # Any size from 1 to 128 bytes; nothing else.
        for n in 1 128; do
                head -c "$n" /dev/urandom >"$T/s$n.bin"
                seal "$T/pcrlock.json" "$T/s$n.bin" "s$n"
                unseal "$T/pcrlock.json" "s$n"
                expect_unsealed "$T/s$n.bin"
        done
        head -c 129 /dev/urandom >"$T/s129.bin"
        ! tool seal "$T/pcrlock.json" "$T/x.pub" "$T/x.priv" <"$T/s129.bin" 2>"$T/seal.log" || fail "129 bytes sealed"
        grep -qF ': E2BIG (' "$T/seal.log" || fail "129 bytes: $(cat "$T/seal.log")"
        ! tool seal "$T/pcrlock.json" "$T/x.pub" "$T/x.priv" </dev/null 2>"$T/seal.log" || fail "0 bytes sealed"
        grep -qF ': EINVAL (' "$T/seal.log" || fail "0 bytes: $(cat "$T/seal.log")"
        pass "1 and 128 bytes round-trip; 129 → E2BIG, 0 → EINVAL"

        # The blobs are plain TPM2B_PUBLIC/TPM2B_PRIVATE under the SRK: tpm2-tools loads them.
        tpm2_load -C 0x81000001 -u "$T/kek.pub" -r "$T/kek.priv" -c "$T/kek.ctx" >/dev/null ||
                fail "tpm2_load refused the sealed object"
        [[ -z $(tpm2_getcap handles-transient) ]] || tpm2_flushcontext -t
        pass "tpm2_load loads the sealed object under 0x81000001"
}

scenario_unpredicted() {
        local idx

        setup
        unseal "$T/pcrlock.json" kek
        expect_unsealed "$T/kek.bin"

        # PCR 4 (one allowed value) gets a value nobody predicted.
        tpm2_pcrextend "4:sha256=$(head -c 32 /dev/urandom | hex)"
        unseal_error EPERM "$T/pcrlock.json" kek
        grep -qF 'PCRs do not satisfy the pcrlock policy' "$T/unseal.log" || fail "no PCR message: $(cat "$T/unseal.log")"
        grep -qx 'unseal: PCRs whose value the policy does not allow: 4 ' "$T/unseal.log" ||
                fail "PCR 4 not named: $(cat "$T/unseal.log")"
        grep -qF 'Esys_PolicyOR' "$T/unseal.log" || fail "expected PolicyOR to refuse: $(cat "$T/unseal.log")"
        pass "PCR 4 extended: EPERM at PolicyOR, PCR 4 named ($(grep -o '(0x[0-9a-f]*)' "$T/unseal.log" | head -1))"

        # The multi-valued PCR 5, after a fresh boot.
        swtpm_power_cycle
        pcrlock_boot "$T/uki-a.efi"
        unseal "$T/pcrlock.json" kek
        tpm2_pcrextend "5:sha256=$(head -c 32 /dev/urandom | hex)"
        unseal_error EPERM "$T/pcrlock.json" kek
        grep -qx 'unseal: PCRs whose value the policy does not allow: 5 ' "$T/unseal.log" ||
                fail "PCR 5 not named: $(cat "$T/unseal.log")"
        pass "PCR 5 extended: EPERM, PCR 5 named"

        # A policy with single-valued PCRs only (no PolicyOR): PolicyAuthorizeNV refuses.
        swtpm_power_cycle
        pcrlock_boot "$T/uki-a.efi"
        pcrlock make-policy --pcr=0+4 --policy="$T/single.json" >"$T/make-policy.log" 2>&1 ||
                fail "make-policy: $(cat "$T/make-policy.log")"
        [[ $(tool mask "$T/single.json") == 0,4 ]] || fail "single.json covers $(tool mask "$T/single.json")"
        seal "$T/single.json" "$T/kek.bin" single
        unseal "$T/single.json" single
        expect_unsealed "$T/kek.bin"
        tpm2_pcrextend "0:sha256=$(head -c 32 /dev/urandom | hex)"
        unseal_error EPERM "$T/single.json" single
        grep -qF 'Esys_PolicyAuthorizeNV' "$T/unseal.log" || fail "expected PolicyAuthorizeNV: $(cat "$T/unseal.log")"
        pass "single-valued policy, PCR 0 extended: EPERM at PolicyAuthorizeNV ($(grep -o '(0x[0-9a-f]*)' "$T/unseal.log" | head -1))"

        # Blobs of one policy with another: refused before the TPM sees them.
        unseal_error EKEYREJECTED "$T/single.json" kek
        pass "an object sealed to another policy: EKEYREJECTED"

        # The index gone (remove-policy undefines it and deletes the file): ENOENT.
        cp "$T/single.json" "$T/single.kept.json"
        idx=$(nv_index_of "$T/single.json")
        pcrlock remove-policy --policy="$T/single.json" >"$T/remove-policy.log" 2>&1 ||
                fail "remove-policy: $(cat "$T/remove-policy.log")"
        unseal_error ENOENT "$T/single.kept.json" single
        pass "NV index removed: ENOENT"

        # Another index at the same number: ENXIO.
        tpm2_nvdefine "$idx" -C o -s 34 -a "ownerread|ownerwrite" >/dev/null
        unseal_error ENXIO "$T/single.kept.json" single
        ! tool seal "$T/single.kept.json" "$T/x.pub" "$T/x.priv" <"$T/kek.bin" 2>"$T/seal.log" ||
                fail "sealed to a redefined index"
        grep -qF ': ENXIO (' "$T/seal.log" || fail "seal to a redefined index: $(cat "$T/seal.log")"
        pass "NV index redefined at the same number: ENXIO for unseal and seal"
}

scenario_update() {
        local idx v4

        setup
        idx=$(nv_index_of "$T/pcrlock.json")
        cp "$T/pcrlock.json" "$T/old.json"

        # The next image's UKI as a second variant, sorting after the running one.
        pcrlock_raw 4 "$T/uki-b.efi" >"$PCRLOCK_COMPONENTS/650-uki.pcrlock.d/600-next.pcrlock"
        pcrlock_make_policy "$T/pcrlock.json" || fail "make-policy: $(cat "$T/make-policy.log")"
        [[ $(nv_index_of "$T/pcrlock.json") == "$idx" ]] || fail "make-policy allocated another NV index"
        [[ $(tool mask "$T/pcrlock.json") == "$PCRLOCK_MASK" ]] || fail "PCRs dropped: $(cat "$T/make-policy.log")"
        v4=$(jq -r '.pcrValues[] | select(.pcr == 4) | .values | join(" ")' "$T/pcrlock.json")
        [[ $v4 == "$(jq -r '.pcrValues[] | select(.pcr == 4) | .values[0]' "$T/old.json") "* ]] ||
                fail "PCR 4 values $v4: the running value should come first"
        [[ $(tool pcr-policy "$T/pcrlock.json") == "$(pcrlock_nv_digest "$T/pcrlock.json")" ]] ||
                fail "NV index does not hold the new policy"
        pass "make-policy with the next UKI rewrote NV index $(printf 0x%x "$idx"); PCR 4 has two values, running first"

        unseal "$T/pcrlock.json" kek
        expect_unsealed "$T/kek.bin"
        unseal_error EPERM "$T/old.json" kek
        pass "same boot: the new policy unseals, the old pcrlock.json no longer does"

        swtpm_power_cycle
        pcrlock_boot "$T/uki-b.efi"
        unseal "$T/pcrlock.json" kek
        expect_unsealed "$T/kek.bin"
        # PCR 4 and 5 with two values each: Load, StartAuthSession, PolicyPCR, 2 × (PolicyPCR + PolicyOR),
        # PolicyAuthorizeNV, Unseal, FlushContext.
        [[ $(commands unseal) == "10 TPM commands,"* ]] || fail "TPM commands: $(commands unseal)"
        pass "after the power cycle into the new UKI the same sealed object unseals ($(commands unseal))"

        # Neither A nor B: an unpredicted image.
        swtpm_power_cycle
        pcrlock_boot "$T/uki-a.efi"
        tpm2_pcrextend "4:sha256=$(head -c 32 /dev/urandom | hex)"
        unseal_error EPERM "$T/pcrlock.json" kek
        pass "a third, unpredicted UKI: EPERM"
}

scenario_dropped_pcr() {
        local mask

        swtpm_start
        head -c 4096 /dev/urandom >"$T/uki-a.efi"
        head -c 4096 /dev/urandom >"$T/uki-other.efi"
        pcrlock_boot "$T/uki-a.efi"
        # The UKI component describes another UKI than the one that booted.
        pcrlock_components "$T/uki-other.efi"
        pcrlock_make_policy "$T/pcrlock.json" || fail "make-policy: $(cat "$T/make-policy.log")"
        grep -q 'PCR 4 (boot-loader-code).*Removing from set of PCRs' "$T/make-policy.log" ||
                fail "make-policy did not say it removed PCR 4: $(cat "$T/make-policy.log")"
        mask=$(tool mask "$T/pcrlock.json")
        [[ $mask == 0,1,2,3,5,7 ]] || fail "mask $mask"
        [[ ",$mask," != *,4,* ]] || fail "PCR 4 still in the mask"
        pass "make-policy dropped PCR 4 ($(grep -o 'PCR 4 (boot-loader-code)[^.]*' "$T/make-policy.log" | head -1)); mask $mask"

        # The other silent drop: an empty variant sorting before the matching one owns the component, so
        # the matching variant's events count as unrecognized.
        pcrlock_components "$T/uki-a.efi"
        mv "$PCRLOCK_COMPONENTS/700-exit-boot-services.pcrlock.d/600-absent.pcrlock" \
                "$PCRLOCK_COMPONENTS/700-exit-boot-services.pcrlock.d/100-absent.pcrlock"
        pcrlock_make_policy "$T/order.json" || fail "make-policy: $(cat "$T/make-policy.log")"
        grep -q 'PCR 5 (boot-loader-config).*Removing from set of PCRs' "$T/make-policy.log" ||
                fail "make-policy did not say it removed PCR 5: $(cat "$T/make-policy.log")"
        mask=$(tool mask "$T/order.json")
        [[ $mask == 0,1,2,3,4,7 ]] || fail "mask $mask"
        pass "an empty variant sorting first: PCR 5 dropped; mask $mask"

        # Why keyd must refuse such a policy: it does not care about the UKI at all.
        head -c 32 /dev/urandom >"$T/kek.bin"
        seal "$T/pcrlock.json" "$T/kek.bin" kek
        tpm2_pcrextend "4:sha256=$(head -c 32 /dev/urandom | hex)"
        unseal "$T/pcrlock.json" kek
        expect_unsealed "$T/kek.bin"
        pass "with PCR 4 dropped, any UKI unseals: the mask check is what catches it"
}

# Power cycle keeping only swtpm's state and $T/kept.
reboot_stateless() {
        swtpm_ioctl --unix "$T/tpm.sock.ctrl" -s
        wait "$SWTPM_PID_tpm" 2>/dev/null || true
        find "$T" -mindepth 1 -maxdepth 1 ! -name tpm ! -name kept ! -name 'swtpm-*.log' -exec rm -rf {} +
        swtpm_start
}

# predicted_policy STATE: STATE (kept pcrlock.json fields) + pcrValues from `predict` + srkHandle read back
# from the TPM, as pcrlock.json.
predicted_policy() {
        pcrlock predict --pcr="$PCRLOCK_PCRS" --json=short >"$T/predict.json" 2>"$T/predict.log" ||
                fail "predict: $(cat "$T/predict.log")"
        tpm2_readpublic -c 0x81000001 -t "$T/srk.tr" >/dev/null
        jq -c --slurpfile p "$T/predict.json" --arg srk "$(base64 -w0 <"$T/srk.tr")" \
                '. + {pcrValues: $p[0].sha256, srkHandle: $srk}' "$1"
}

scenario_stateless() {
        local idx fresh

        setup
        idx=$(nv_index_of "$T/pcrlock.json")
        # What survives: these pcrlock.json fields, the sealed object (keyd keeps it in TPM NV), the image
        # (the UKIs). The original srkHandle and the KEK are kept only to compare.
        mkdir "$T/kept"
        jq '{pcrBank, nvIndex, nvPublic, nvHandle, pinPublic, pinPrivate}' "$T/pcrlock.json" >"$T/kept/state.json"
        jq -r .srkHandle "$T/pcrlock.json" >"$T/kept/srkHandle.orig"
        cp "$T/kek.pub" "$T/kek.priv" "$T/kek.bin" "$T/uki-a.efi" "$T/uki-b.efi" "$T/kept/"
        reboot_stateless
        [[ ! -e $T/pcrlock.json && ! -e $T/pcrlock.d ]] || fail "state survived"
        pcrlock_boot "$T/kept/uki-a.efi"
        pcrlock_components "$T/kept/uki-a.efi"

        # Without the old pcrlock.json make-policy allocates a new index (and a new PIN) ...
        pcrlock_make_policy "$T/fresh.json" || fail "make-policy: $(cat "$T/make-policy.log")"
        fresh=$(nv_index_of "$T/fresh.json")
        [[ $fresh != "$idx" ]] || fail "make-policy reused the index without the old state"
        # ... and cannot take the old one over (--nv-index= is hexadecimal).
        ! pcrlock_make_policy "$T/fresh2.json" --nv-index="$(printf %x "$idx")" || fail "make-policy took the old index"
        grep -q 'already allocated' "$T/make-policy.log" || fail "--nv-index: $(cat "$T/make-policy.log")"
        pcrlock remove-policy --policy="$T/fresh.json" >"$T/remove-policy.log" 2>&1
        pass "without pcrlock.json make-policy allocates a new index ($(printf 0x%x "$fresh")), --nv-index=old fails"

        # Restored: the kept fields, srkHandle read back from the TPM, pcrValues predicted from the same
        # components.
        predicted_policy "$T/kept/state.json" >"$T/pcrlock.json"
        [[ $(jq -r .srkHandle "$T/pcrlock.json") == "$(cat "$T/kept/srkHandle.orig")" ]] ||
                fail "tpm2_readpublic -t does not give make-policy's srkHandle"
        [[ $(tool pcr-policy "$T/pcrlock.json") == "$(pcrlock_nv_digest "$T/pcrlock.json")" ]] ||
                fail "predicted pcrValues do not give the policy in the NV index"
        unseal "$T/pcrlock.json" kept/kek
        expect_unsealed "$T/kept/kek.bin"
        pass "kept fields + srkHandle from tpm2_readpublic -t (same bytes) + pcrValues from predict: the KEK unseals"

        # An unseal needs only pcrBank, pcrValues, nvIndex, nvPublic.
        jq -c '{pcrBank, pcrValues, nvIndex, nvPublic}' "$T/pcrlock.json" >"$T/minimal.json"
        unseal "$T/minimal.json" kept/kek
        expect_unsealed "$T/kept/kek.bin"
        [[ $(commands unseal) == "9 TPM commands,"* ]] || fail "TPM commands: $(commands unseal)"
        pass "unseal with pcrBank, pcrValues, nvIndex, nvPublic only ($(commands unseal), SRK read from 0x81000001)"

        # make-policy needs all eight: without any of them it fails (and allocates nothing).
        for f in pcrValues nvHandle nvPublic srkHandle pinPublic pinPrivate; do
                jq -c "del(.$f)" "$T/pcrlock.json" >"$T/without-$f.json"
                ! pcrlock_make_policy "$T/without-$f.json" --force || fail "make-policy worked without $f"
                grep -q "Missing object field '$f'" "$T/make-policy.log" || fail "without $f: $(cat "$T/make-policy.log")"
        done
        [[ $(tpm2_getcap handles-nv-index | wc -l) -eq 1 ]] || fail "indexes: $(tpm2_getcap handles-nv-index)"
        pass "make-policy refuses a pcrlock.json missing any of pcrValues nvHandle nvPublic srkHandle pinPublic pinPrivate"

        # Resealing into the same index from the restored state: the next UKI as a variant.
        pcrlock_raw 4 "$T/kept/uki-b.efi" >"$PCRLOCK_COMPONENTS/650-uki.pcrlock.d/600-next.pcrlock"
        pcrlock_make_policy "$T/pcrlock.json" || fail "make-policy: $(cat "$T/make-policy.log")"
        grep -q 'Retrieved PIN from TPM2' "$T/make-policy.log" || fail "make-policy did not use the old PIN"
        [[ $(nv_index_of "$T/pcrlock.json") == "$idx" ]] || fail "make-policy moved to another index"
        [[ $(tool pcr-policy "$T/pcrlock.json") == "$(pcrlock_nv_digest "$T/pcrlock.json")" ]] ||
                fail "NV index does not hold the new policy"
        unseal "$T/pcrlock.json" kept/kek
        expect_unsealed "$T/kept/kek.bin"
        pass "make-policy from the restored state unsealed its PIN and updated the same index"

        # Reboot into the new UKI keeping the updated pcrlock.json (pcrValues included): it unseals.
        jq -c 'del(.srkHandle)' "$T/pcrlock.json" >"$T/kept/state.json"
        reboot_stateless
        pcrlock_boot "$T/kept/uki-b.efi"
        jq -c --arg srk "$(cat "$T/kept/srkHandle.orig")" '. + {srkHandle: $srk}' "$T/kept/state.json" \
                >"$T/pcrlock.json"
        unseal "$T/pcrlock.json" kept/kek
        expect_unsealed "$T/kept/kek.bin"
        # pcrValues predicted from the new boot's own components (UKI B only) are not the index's policy:
        # while an update is in flight, pcrValues must survive too.
        pcrlock_components "$T/kept/uki-b.efi"
        predicted_policy "$T/kept/state.json" >"$T/repredicted.json"
        [[ $(tool pcr-policy "$T/repredicted.json") != "$(pcrlock_nv_digest "$T/pcrlock.json")" ]] ||
                fail "re-predicted pcrValues unexpectedly equal the index's policy"
        unseal_error EPERM "$T/repredicted.json" kept/kek
        pass "after the reboot into the next UKI the kept pcrValues unseal; re-predicted ones do not (EPERM)"
}

case $scenario in
roundtrip) scenario_roundtrip ;;
unpredicted) scenario_unpredicted ;;
update) scenario_update ;;
dropped-pcr) scenario_dropped_pcr ;;
stateless) scenario_stateless ;;
*) fail "unknown scenario $scenario" ;;
esac
