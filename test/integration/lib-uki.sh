# SPDX-License-Identifier: LGPL-2.1-or-later
# UKIs for the server's image tests, and synthetic boots of them on swtpm. Source after lib-server.sh.

PATELA_PCRLOCK=$PATELA_BUILD_DIR/src/pcrlock/patela-pcrlock
MAKE_EVENT_LOG=$PATELA_BUILD_DIR/test/make-event-log

# make_uki DIR IMAGE_VERSION: DIR/uki.efi around DIR/kernel.efi, with IMAGE_VERSION in its os-release ("" for
# none) and a random initrd (each call a different UKI).
make_uki() {
        local d=$1 version=$2
        mkdir -p "$d"
        printf 'void efi_main(void) { for (;;); }\n' >"$d/k.c"
        gcc -O2 -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables -fno-ident -c "$d/k.c" -o "$d/k.o"
        ld -m i386pep --subsystem 10 -e efi_main -s -o "$d/kernel.efi" "$d/k.o"
        {
                printf 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\nIMAGE_ID=patela\n'
                [[ -n $version ]] && printf 'IMAGE_VERSION=%s\n' "$version"
        } >"$d/osrel"
        printf 'console=ttyS0 systemd.firstboot=off' >"$d/cmdline"
        head -c 4096 /dev/urandom >"$d/initrd"
        # Above ld's image base for PE32+ (0x140000000), after the stub's own sections.
        objcopy --add-section .osrel="$d/osrel" --change-section-vma .osrel=0x140020000 \
                --add-section .cmdline="$d/cmdline" --change-section-vma .cmdline=0x140030000 \
                --add-section .linux="$d/kernel.efi" --change-section-vma .linux=0x142000000 \
                --add-section .initrd="$d/initrd" --change-section-vma .initrd=0x143000000 \
                "$d/kernel.efi" "$d/uki.efi"
        "$PATELA_PCRLOCK" reference "$d/uki.efi" >"$d/patela.reference.json" 2>"$d/reference.log" ||
                fail "patela-pcrlock reference: $(cat "$d/reference.log")"
}

# boot_firmware_spec REFERENCE [OPTION_ROM_TEXT]: the make-event-log spec of a firmware booting the UKI of
# REFERENCE, as OVMF logs it (the events test/lib-pcrlock.sh describes), and the UKI's own records as the
# stub and the kernel measure them: PCR 4 the UKI's and the kernel's Authenticode digests
# (EV_EFI_BOOT_SERVICES_APPLICATION), PCR 11 the UKI's sections (EV_IPL), PCR 9 the initrd and command line
# (EV_EVENT_TAG). OPTION_ROM_TEXT changes PCR 2: another firmware.
boot_firmware_spec() {
        local ref=$1 rom=${2:-option rom} pcr
        echo '0 EV_S_CRTM_VERSION payload utf16:1.00'
        echo "0 EV_EFI_PLATFORM_FIRMWARE_BLOB sha256:$(printf 'firmware volume' | sha256sum | cut -d' ' -f1) blob:0xffc00000,0x400000"
        echo '1 EV_PLATFORM_CONFIG_FLAGS payload hex:01000000'
        echo "2 EV_EFI_PLATFORM_FIRMWARE_BLOB sha256:$(printf '%s' "$rom" | sha256sum | cut -d' ' -f1) blob:0xfe000000,0x10000"
        echo '4 EV_EFI_ACTION payload ascii:Calling EFI Application from Boot Option'
        for pcr in 0 1 2 3 4 5 6 7; do
                echo "$pcr EV_SEPARATOR payload hex:00000000"
        done
        jq -r '.records[] | "\(.pcr) \(if .pcr == 4 then "EV_EFI_BOOT_SERVICES_APPLICATION"
                                       elif .pcr == 11 then "EV_IPL" else "EV_EVENT_TAG" end) sha256:\(.sha256) none"' "$ref"
        echo '5 EV_EFI_ACTION payload ascii:Exit Boot Services Invocation'
        echo '5 EV_EFI_ACTION payload ascii:Exit Boot Services Returned with Success'
}

# boot_image REFERENCE [OPTION_ROM_TEXT]: a boot of the UKI of REFERENCE on the swtpm that has just been
# started: $T/firmware.evlog, $T/tpm2-measure.log (systemd-pcrextend's "sysinit" and "ready" on PCR 11, in
# systemd 257's JSON-SEQ form) and every digest of both extended into the TPM in log order.
boot_image() {
        local word digest boot_id
        boot_firmware_spec "$@" >"$T/firmware.spec"
        "$MAKE_EVENT_LOG" "$T/firmware.evlog" <"$T/firmware.spec" >"$T/firmware.extends" ||
                fail "make-event-log failed"
        # shellcheck disable=SC2046
        tpm2_pcrextend $(cat "$T/firmware.extends") || fail "tpm2_pcrextend of the firmware log failed"
        boot_id=$(head -c 16 /dev/urandom | xxd -p)
        : >"$T/tpm2-measure.log"
        for word in sysinit ready; do
                digest=$(printf '%s' "$word" | sha256sum | cut -d' ' -f1)
                tpm2_pcrextend "11:sha256=$digest" || fail "tpm2_pcrextend of phase $word failed"
                printf '\x1e{"pcr":11,"digests":[{"hashAlg":"sha256","digest":"%s"}],"content_type":"systemd","content":{"string":"%s","bootId":"%s","timestamp":1,"eventType":"phase"}}\n' \
                        "$digest" "$word" "$boot_id" >>"$T/tpm2-measure.log"
        done
}

# policy_for_image REFERENCE: keyd's systemd-pcrlock policy (test/lib-keyd.sh, source it first) for a boot of
# REFERENCE's UKI as boot_image makes it: the firmware components from the log, PCR 4's UKI component the two
# Authenticode digests the stub's boot measures (the UKI's, then its kernel's) instead of a file's SHA-256. A node
# booted so is judged Trusted once the image is registered, and keyd unseals on it.
policy_for_image() {
        pcrlock_components "$1" # its 650-uki component is replaced below
        jq -c '{records: [.records[] | select(.pcr == 4) | {pcr: 4, digests: [{hashAlg: "sha256", digest: .sha256}]}]}' \
                "$1" >"$PCRLOCK_COMPONENTS/650-uki.pcrlock.d/300-running.pcrlock"
        pcrlock_make_policy "$POLICY" || fail "make-policy failed: $(cat "$T/make-policy.log")"
        [[ $(jq -c '[.pcrValues[].pcr]' "$POLICY") == "[${PCRLOCK_MASK}]" ]] ||
                fail "make-policy dropped PCRs: $(jq -c '[.pcrValues[].pcr]' "$POLICY")"
}
