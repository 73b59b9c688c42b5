#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# src/shared/boot's replay against a TPM: a synthetic firmware log with two banks (make-event-log) whose
# digests tpm2_pcrextend puts into swtpm as firmware would, then systemd-pcrextend 257 itself measuring boot
# phases and the machine ID and writing its tpm2-measure.log. The replay of both logs must equal every
# SHA-256 PCR the TPM reads (0–23, PCR 11 holding firmware then userspace events), and a changed digest,
# a dropped userspace record or a retyped event must not.
source "$PATELA_SOURCE_DIR/test/lib.sh"

MAKE_EVENT_LOG=$PATELA_BUILD_DIR/test/make-event-log
TOOL=$PATELA_BUILD_DIR/test/boot-replay-tool
PCREXTEND=${PATELA_SYSTEMD_PCREXTEND:-/usr/lib/systemd/systemd-pcrextend}
[[ -x $MAKE_EVENT_LOG && -x $TOOL ]] || fail "make-event-log or boot-replay-tool not built"
[[ -x $PCREXTEND ]] || fail "$PCREXTEND not found"

# tpm2_pcrread's SHA-256 bank as "PCR:hex" lines.
pcrread() {
        tpm2_pcrread sha256:all | sed -n 's/^ *\([0-9]*\) *: 0x\([0-9A-F]*\)$/\1:\2/p' | tr 'A-F' 'a-f'
}

pcrextend() {
        SYSTEMD_TPM2_DEVICE="$TCTI" SYSTEMD_MEASURE_LOG_USERSPACE="$T/tpm2-measure.log" SYSTEMD_FORCE_MEASURE=1 \
                SYSTEMD_LOG_LEVEL=warning "$PCREXTEND" "$@" 2>>"$T/pcrextend.log" || fail "systemd-pcrextend $*"
}

swtpm_start

cat >"$T/firmware.spec" <<'EOF'
0 EV_NO_ACTION zero hex:537461727475704c6f63616c6974790000
0 EV_S_CRTM_VERSION payload utf16:1.00
0 EV_EFI_PLATFORM_FIRMWARE_BLOB sha256:1f3c6ca3a0d11d7a4fb6f9dc8b8d5d27a6b0cde5d7e0b5e8b8a8d3b5b0c4e1a2 blob:0xffc00000,0x400000
1 EV_PLATFORM_CONFIG_FLAGS payload hex:01000000
4 EV_EFI_BOOT_SERVICES_APPLICATION sha256:9781791ed446999d2c0ba96ad8415af323a8ccd0a1be9ab3ab916e1c407f1184 image:\EFI\BOOT\BOOTX64.EFI
4 EV_NO_ACTION zero ascii:vendor
4 EV_EFI_ACTION payload ascii:Calling EFI Application from Boot Option
0 EV_SEPARATOR payload hex:00000000
1 EV_SEPARATOR payload hex:00000000
4 EV_SEPARATOR payload hex:00000000
7 EV_SEPARATOR payload hex:00000000
11 EV_IPL payload utf16:.linux
11 EV_IPL sha256:d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35 utf16:.linux
9 EV_EVENT_TAG sha256:4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce hex:ec223b8f06000000696e69747264
5 EV_EFI_ACTION payload ascii:Exit Boot Services Invocation
EOF
"$MAKE_EVENT_LOG" --banks=sha1,sha256 "$T/firmware.evlog" <"$T/firmware.spec" >"$T/firmware.extends" ||
        fail "make-event-log failed"
# shellcheck disable=SC2046
tpm2_pcrextend $(cat "$T/firmware.extends") || fail "tpm2_pcrextend failed"
pcrextend sysinit
pcrextend ready
pcrextend --machine-id
pcrread >"$T/tpm.pcrs"
[[ $(wc -l <"$T/tpm.pcrs") == 24 ]] || fail "tpm2_pcrread: $(cat "$T/tpm.pcrs")"

"$TOOL" --firmware="$T/firmware.evlog" --userspace="$T/tpm2-measure.log" --check-digests \
        --quoted="$T/tpm.pcrs" >"$T/replay.pcrs" 2>"$T/replay.log" ||
        fail "the replay does not match the TPM: $(cat "$T/replay.log")"
diff -u "$T/tpm.pcrs" "$T/replay.pcrs" >"$T/diff.log" || fail "replay differs: $(cat "$T/diff.log")"
[[ $(grep -c '"pcr":11' "$T/tpm2-measure.log") == 2 && $(grep -c '"pcr":15' "$T/tpm2-measure.log") == 1 ]] ||
        fail "systemd-pcrextend wrote: $(cat "$T/tpm2-measure.log")"
pass "the replay of both logs equals all 24 SHA-256 PCRs of the TPM (PCR 11: stub, then sysinit and ready)"

# The firmware log alone cannot explain PCR 11 or 15 any more.
"$TOOL" --firmware="$T/firmware.evlog" --quoted="$T/tpm.pcrs" >/dev/null 2>"$T/fw-only.log" && fail "firmware log alone matched"
grep -q "PCR 11" "$T/fw-only.log" || fail "no PCR 11 named: $(cat "$T/fw-only.log")"

# A changed SHA-256 digest (the UKI's): PCR 4 is named.
cp "$T/firmware.evlog" "$T/changed.evlog"
offset=$(LC_ALL=C grep -obaF "$(printf '\x97\x81\x79\x1e')" "$T/changed.evlog" | head -1 | cut -d: -f1)
[[ -n $offset ]] || fail "the UKI's digest is not in the log"
printf '\x00' | dd of="$T/changed.evlog" bs=1 seek="$offset" conv=notrunc status=none
rc=0
"$TOOL" --firmware="$T/changed.evlog" --userspace="$T/tpm2-measure.log" --quoted="$T/tpm.pcrs" >/dev/null \
        2>"$T/changed.log" || rc=$?
[[ $rc == 2 ]] && grep -q "PCR 4" "$T/changed.log" || fail "changed digest: rc $rc, $(cat "$T/changed.log")"

# The userspace log without its last record (the machine ID): PCR 15 is named.
head -c "$(LC_ALL=C grep -obaF $'\x1e' "$T/tpm2-measure.log" | tail -1 | cut -d: -f1)" "$T/tpm2-measure.log" >"$T/cut.log"
rc=0
"$TOOL" --firmware="$T/firmware.evlog" --userspace="$T/cut.log" --quoted="$T/tpm.pcrs" >/dev/null 2>"$T/cut.out" ||
        rc=$?
[[ $rc == 2 ]] && grep -q "PCR 15" "$T/cut.out" || fail "dropped record: rc $rc, $(cat "$T/cut.out")"

# "Calling EFI Application" retyped to EV_NO_ACTION: no longer replayed, PCR 4 is named.
sed 's/^4 EV_EFI_ACTION /4 EV_NO_ACTION /' "$T/firmware.spec" >"$T/retyped.spec"
"$MAKE_EVENT_LOG" --banks=sha1,sha256 "$T/retyped.evlog" <"$T/retyped.spec" >/dev/null || fail "make-event-log"
rc=0
"$TOOL" --firmware="$T/retyped.evlog" --userspace="$T/tpm2-measure.log" --quoted="$T/tpm.pcrs" >/dev/null \
        2>"$T/retyped.log" || rc=$?
[[ $rc == 2 ]] && grep -q "PCR 4" "$T/retyped.log" || fail "retyped: rc $rc, $(cat "$T/retyped.log")"
pass "a changed digest, a dropped userspace record and a retyped event each name the PCR that no longer matches"
