#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes the seed corpora of fuzz-tcg-eventlog and fuzz-userspace-log (test/fuzz/corpus/tcg-eventlog,
# test/fuzz/corpus/userspace-log) from the specs below, with test/pcrlock/make-event-log of a build:
#
#   tools/dev run test/boot/make-fuzz-seeds.sh BUILD_DIR
#
# Seeds stay under 1 KiB: the unit-suite driver (test/fuzz/fuzz-main.c) mutates the first 1024 bytes.
# The corpus also holds real logs: pcrextend-257 (test/boot/capture-pcrextend.sh) and qemu-ovmf
# (test/boot/capture-vm.sh), larger than 1 KiB: libFuzzer runs (-Dfuzzers=true) see them whole.
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
tcg=$top/test/fuzz/corpus/tcg-eventlog
us=$top/test/fuzz/corpus/userspace-log
mel=$build/test/make-event-log
[[ -x $mel ]] || { echo "$mel not built" >&2; exit 1; }
mkdir -p "$tcg" "$us"

# OVMF-like, SHA-256 only: StartupLocality, firmware, Secure Boot variable, boot variable, the UKI, the
# separators and ExitBootServices.
"$mel" "$tcg/ovmf-sha256" >/dev/null <<'SPEC'
0 EV_NO_ACTION zero hex:537461727475704c6f63616c6974790003
0 EV_S_CRTM_VERSION payload utf16:1.00
0 EV_EFI_PLATFORM_FIRMWARE_BLOB sha256:1f3c6ca3a0d11d7a4fb6f9dc8b8d5d27a6b0cde5d7e0b5e8b8a8d3b5b0c4e1a2 blob:0xffc00000,0x400000
7 EV_EFI_VARIABLE_DRIVER_CONFIG payload hex:61dfe48bca93d211aa0d00e098032b8c0a00000000000000010000000000000053006500630075007200650042006f006f00740001
1 EV_EFI_VARIABLE_BOOT payload hex:61dfe48bca93d211aa0d00e098032b8c0900000000000000020000000000000042006f006f0074004f0072006400650072000000
4 EV_EFI_ACTION payload ascii:Calling EFI Application from Boot Option
0 EV_SEPARATOR payload hex:00000000
4 EV_SEPARATOR payload hex:00000000
4 EV_EFI_BOOT_SERVICES_APPLICATION sha256:9781791ed446999d2c0ba96ad8415af323a8ccd0a1be9ab3ab916e1c407f1184 image:\EFI\BOOT\BOOTX64.EFI
5 EV_EFI_ACTION payload ascii:Exit Boot Services Invocation
SPEC

# Two banks: a vendor EV_NO_ACTION, the stub's sections on PCR 11, the kernel's tagged initrd on PCR 9.
"$mel" --banks=sha1,sha256 "$tcg/two-banks" >/dev/null <<'SPEC'
0 EV_NO_ACTION zero ascii:SP800-155 Event3
0 EV_SEPARATOR payload hex:00000000
11 EV_IPL payload utf16:.linux
11 EV_IPL sha256:d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35 utf16:.linux
9 EV_EVENT_TAG sha256:4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce hex:ec223b8f06000000696e69747264
SPEC

# Four banks, two events.
"$mel" --banks=sha1,sha256,sha384,sha512 "$tcg/four-banks" >/dev/null <<'SPEC'
7 EV_SEPARATOR payload hex:00000000
5 EV_EFI_GPT_EVENT payload hex:4546492050415254
SPEC

# systemd's userspace log in its other shapes: SHA-256 only, no boot ID, a volume key, a file system.
h() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
{
        printf '\036{"pcr":11,"digests":[{"hashAlg":"sha256","digest":"%s"}],"content_type":"systemd","content":{"string":"enter-initrd","eventType":"phase"}}\n' "$(h enter-initrd)"
        printf '\036{"pcr":15,"digests":[{"hashAlg":"sha256","digest":"%s"}],"content_type":"systemd","content":{"string":"file-system:/:ext4:x","eventType":"filesystem"}}\n' "$(h file-system:/:ext4:x)"
        printf '\036{"pcr":15,"digests":[{"hashAlg":"sha256","digest":"%s"}],"content_type":"systemd","content":{"string":"cryptsetup:root:x","eventType":"volume-key"}}\n' "$(h key)"
} >"$us/shapes"
ls -l "$tcg" "$us"
