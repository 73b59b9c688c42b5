# SPDX-License-Identifier: LGPL-2.1-or-later
# systemd-pcrlock against swtpm, for the tests of src/shared/tpm/tpm2-pcrlock.c. Source after test/lib.sh and
# call swtpm_start first.
#
# A "boot" is a synthetic TCG PC Client firmware event log (crypto agile, SHA-256 bank only) written by
# test/pcrlock/make-event-log from a spec (pcrlock_firmware_spec), whose digests are then extended into
# swtpm in log order, so that log and PCRs agree as after a real firmware boot:
#
#   PCR 0  EV_S_CRTM_VERSION ("1.00", digest = SHA-256 of the event data, as pcrlock checks),
#          EV_EFI_PLATFORM_FIRMWARE_BLOB
#   PCR 1  EV_PLATFORM_CONFIG_FLAGS
#   PCR 2  EV_EFI_PLATFORM_FIRMWARE_BLOB (an option ROM)
#   PCR 4  EV_EFI_ACTION "Calling EFI Application from Boot Option"
#   PCR 0–7 EV_SEPARATOR 0x00000000 (payload-hashed: lock-firmware-* treat it as the end of firmware)
#   PCR 4  EV_EFI_BOOT_SERVICES_APPLICATION, the "UKI" (digest = SHA-256 of the file, standing in for the
#          Authenticode hash)
#   PCR 5  EV_EFI_ACTION "Exit Boot Services Invocation" / "... Returned with Success" (optional)
#
# pcrlock only matches events against components, whatever their type; a PCR is kept in the policy only if
# its log matches the TPM, every event on it belongs to a component, and no component touching it is
# missing from the log. The components (pcrlock_components) are made by systemd-pcrlock itself:
#   250-firmware-code-early, 550-firmware-code-late      lock-firmware-code (PCR 0, 2; 4 until separator)
#   250-firmware-config-early, 550-firmware-config-late  lock-firmware-config (PCR 1, 3; 5 until separator)
#   350-action-efi-application                           lock-raw --pcr=4 of the action string
#   500-separator                                        lock-raw --pcr=0+…+7 of 00000000
#   650-uki.pcrlock.d/300-running                        lock-raw --pcr=4 of the UKI
#   700-exit-boot-services.pcrlock.d/300-present, 600-absent  (PCR 5 gets two allowed values)
# lock-firmware-* write two files; with an empty --pcrlock= they go to stdout as a JSON-SEQ pair, which is
# split here (--pcrlock=FILE writes both to FILE, the second overwriting the first).
#
# Nothing outside $T is read or written by pcrlock:
#   SYSTEMD_MEASURE_LOG_FIRMWARE=$T/firmware.evlog    the synthetic log
#   SYSTEMD_MEASURE_LOG_USERSPACE=$T/tpm2-measure.log  absent: no userspace (PCR 11/15) events
#   SYSTEMD_TPM2_DEVICE=$TCTI                       swtpm
#   --components=$T/pcrlock.d                       instead of /etc, /run, /var/lib, /usr/local/lib, /usr/lib
#   --policy=FILE                                   instead of /var/lib/systemd/pcrlock.json ("Did not find
#                                                   XBOOTLDR/ESP partition, not writing boot policy file")
#   --pcrlock=                                      lock-* output to stdout instead of /var/lib/pcrlock.d

PCRLOCK=${PATELA_SYSTEMD_PCRLOCK:-/usr/lib/systemd/systemd-pcrlock}
[[ -x $PCRLOCK ]] || fail "$PCRLOCK not found"
MAKE_EVENT_LOG=$PATELA_BUILD_DIR/test/make-event-log
PCRLOCK_TOOL=$PATELA_BUILD_DIR/test/pcrlock-tool
[[ -x $MAKE_EVENT_LOG && -x $PCRLOCK_TOOL ]] || fail "make-event-log or pcrlock-tool not built"

# The policy's PCRs: firmware code/config, boot loader code/config, Secure Boot policy. Never 15 (the
# machine ID, random on every boot of a stateless image).
PCRLOCK_PCRS=0+1+2+3+4+5+7
PCRLOCK_MASK=0,1,2,3,4,5,7
PCRLOCK_COMPONENTS=$T/pcrlock.d

pcrlock() {
        SYSTEMD_MEASURE_LOG_FIRMWARE="$T/firmware.evlog" \
                SYSTEMD_MEASURE_LOG_USERSPACE="$T/tpm2-measure.log" \
                SYSTEMD_TPM2_DEVICE="$TCTI" \
                SYSTEMD_LOG_COLOR=0 \
                "$PCRLOCK" --no-pager --components="$PCRLOCK_COMPONENTS" "$@"
}

# pcrlock_firmware_spec UKI [exit-boot-services=yes]: the make-event-log spec of one boot.
pcrlock_firmware_spec() {
        local uki=$1 ebs=${2:-yes} pcr
        echo '0 EV_S_CRTM_VERSION payload utf16:1.00'
        echo "0 EV_EFI_PLATFORM_FIRMWARE_BLOB sha256:$(printf 'firmware volume' | sha256sum | cut -d' ' -f1) blob:0xffc00000,0x400000"
        echo '1 EV_PLATFORM_CONFIG_FLAGS payload hex:01000000'
        echo "2 EV_EFI_PLATFORM_FIRMWARE_BLOB sha256:$(printf 'option rom' | sha256sum | cut -d' ' -f1) blob:0xfe000000,0x10000"
        echo '4 EV_EFI_ACTION payload ascii:Calling EFI Application from Boot Option'
        for pcr in 0 1 2 3 4 5 6 7; do
                echo "$pcr EV_SEPARATOR payload hex:00000000"
        done
        echo "4 EV_EFI_BOOT_SERVICES_APPLICATION file:$uki image:\\EFI\\BOOT\\BOOTX64.EFI"
        if [[ $ebs == yes ]]; then
                echo '5 EV_EFI_ACTION payload ascii:Exit Boot Services Invocation'
                echo '5 EV_EFI_ACTION payload ascii:Exit Boot Services Returned with Success'
        fi
}

# pcrlock_boot UKI [exit-boot-services]: writes $T/firmware.evlog and extends its digests into a TPM that
# has just been started (PCRs at their reset values).
pcrlock_boot() {
        pcrlock_firmware_spec "$@" >"$T/firmware.spec"
        "$MAKE_EVENT_LOG" "$T/firmware.evlog" <"$T/firmware.spec" >"$T/firmware.extends" ||
                fail "make-event-log failed"
        # shellcheck disable=SC2046
        tpm2_pcrextend $(cat "$T/firmware.extends") || fail "tpm2_pcrextend failed"
}

# pcrlock_raw PCRS FILE: a .pcrlock with one record per PCR in PCRS ("4", "0+1+2") of FILE's digests.
pcrlock_raw() {
        pcrlock lock-raw --pcr="$1" --pcrlock= "$2" || fail "lock-raw --pcr=$1 $2 failed"
}

# pcrlock_components UKI: the components of a boot of UKI, from the current log and TPM (see above).
pcrlock_components() {
        local c=$PCRLOCK_COMPONENTS uki=$1 kind
        rm -rf "$c"
        mkdir -p "$c/650-uki.pcrlock.d" "$c/700-exit-boot-services.pcrlock.d"
        for kind in code config; do
                pcrlock "lock-firmware-$kind" --pcrlock= >"$T/firmware-$kind.seq" ||
                        fail "lock-firmware-$kind failed"
                sed -n 's/^data: //p' "$T/firmware-$kind.seq" >"$T/firmware-$kind.json"
                [[ $(wc -l <"$T/firmware-$kind.json") -eq 2 ]] || fail "lock-firmware-$kind: expected two records"
                sed -n 1p "$T/firmware-$kind.json" >"$c/250-firmware-$kind-early.pcrlock"
                sed -n 2p "$T/firmware-$kind.json" >"$c/550-firmware-$kind-late.pcrlock"
        done
        printf 'Calling EFI Application from Boot Option' >"$T/action"
        pcrlock_raw 4 "$T/action" >"$c/350-action-efi-application.pcrlock"
        printf '\0\0\0\0' >"$T/separator"
        pcrlock_raw 0+1+2+3+4+5+6+7 "$T/separator" >"$c/500-separator.pcrlock"
        pcrlock_raw 4 "$uki" >"$c/650-uki.pcrlock.d/300-running.pcrlock"
        printf 'Exit Boot Services Invocation' >"$T/ebs1"
        printf 'Exit Boot Services Returned with Success' >"$T/ebs2"
        { pcrlock_raw 5 "$T/ebs1"; pcrlock_raw 5 "$T/ebs2"; } | jq -sc '{records: map(.records[])}' \
                >"$c/700-exit-boot-services.pcrlock.d/300-present.pcrlock"
        echo '{"records":[]}' >"$c/700-exit-boot-services.pcrlock.d/600-absent.pcrlock"
}

# pcrlock_make_policy POLICY [ARGS]: make-policy for $PCRLOCK_PCRS into POLICY; output in $T/make-policy.log.
pcrlock_make_policy() {
        local policy=$1
        shift
        pcrlock make-policy --pcr="$PCRLOCK_PCRS" --policy="$policy" "$@" >"$T/make-policy.log" 2>&1
}

# pcrlock_nv_digest POLICY: the PCR policy digest in the policy's NV index (a TPMT_HA: 000b || digest).
pcrlock_nv_digest() {
        local ha
        ha=$(tpm2_nvread -C o "$(jq -r .nvIndex "$1")" 2>/dev/null | od -An -tx1 -v | tr -d ' \n')
        [[ $ha == 000b* ]] || fail "NV index of $1 does not hold a SHA-256 TPMT_HA: $ha"
        echo "${ha#000b}"
}
