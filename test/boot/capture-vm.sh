#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Re-captures test/boot/fixtures/qemu-ovmf: boots patela's image (mkosi/build) the way the vm suite does
# (qemu -kernel, OVMF, swtpm: test/vm/lib-vm.sh) and takes from the running node what a verifier gets —
# the firmware's event log, systemd's tpm2-measure.log and the SHA-256 PCRs 0–23 read under the log's lock
# (what a quote taken then would carry) — and the image's patela.reference.json. Needs the vm role:
#
#   PATELA_DEV_ROLES=build,test,vm tools/dev run nice -n 19 test/boot/capture-vm.sh [IMAGE_DIR]
#
# IMAGE_DIR (default build-img) holds a built image or receives one. The node gets two credentials over
# SMBIOS (as the vm tests pass theirs): a unit that writes the three files, base64, to a second serial port
# (ttyS1, so that nothing else on the console can interleave), and the script it runs. The node has no
# network and no server: only the boot is of interest.
set -euo pipefail

PATELA_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
PATELA_BUILD_DIR=${PATELA_BUILD_DIR:-$PATELA_SOURCE_DIR/build-img}
export PATELA_SOURCE_DIR PATELA_BUILD_DIR
PATELA_VM_IMAGE_DIR=$(readlink -f -- "${1:-${PATELA_VM_IMAGE_DIR:-$PATELA_SOURCE_DIR/build-img}}")
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/vm/lib-vm.sh"
IMAGE_DIR=$PATELA_VM_IMAGE_DIR
OUT=$PATELA_SOURCE_DIR/test/boot/fixtures/qemu-ovmf

cat >"$T/capture.sh" <<'EOF'
#!/bin/sh
# Every file as "TAG base64-line" lines, then its SHA-256, so that the host can check what arrived.
set -e
dump() {
        base64 -w 76 "$2" | sed "s/^/$1 /"
        echo "$1-sha256 $(sha256sum "$2" | cut -d' ' -f1)"
}
echo PATELA-CAPTURE-BEGIN
dump FIRMWARE /sys/kernel/security/tpm0/binary_bios_measurements
# Under the log's lock, as systemd-pcrextend takes it: no extend between the log and the PCRs.
flock -s /run/log/systemd/tpm2-measure.log sh -c '
        base64 -w 76 /run/log/systemd/tpm2-measure.log | sed "s/^/USERSPACE /"
        echo "USERSPACE-sha256 $(sha256sum /run/log/systemd/tpm2-measure.log | cut -d" " -f1)"
        for i in $(seq 0 23); do
                echo "PCR $i:$(cat /sys/class/tpm/tpm0/pcr-sha256/$i | tr A-F a-f)"
        done'
echo PATELA-CAPTURE-END
EOF
cat >"$T/capture.service" <<'EOF'
[Unit]
Description=Write the event logs and PCRs to ttyS1 for patela's test fixtures
After=systemd-pcrphase.service patela-pcrlock-lock-boot.service

[Service]
Type=oneshot
ImportCredential=patela.capture-script
StandardOutput=tty
TTYPath=/dev/ttyS1
ExecStart=/bin/sh %d/patela.capture-script
EOF

vm_image
VM_SMBIOS=(-smbios "type=11,value=io.systemd.credential.binary:patela.capture-script=$(base64 -w0 "$T/capture.sh")"
           -smbios "type=11,value=io.systemd.credential.binary:systemd.extra-unit.patela-capture.service=$(base64 -w0 "$T/capture.service")"
           -smbios "type=11,value=io.systemd.credential.binary:systemd.unit-dropin.multi-user.target=$(printf '[Unit]\nWants=patela-capture.service\n' | base64 -w0)"
           -serial "file:$T/capture.out")
vm_boot capture "$IMAGE_DIR/patela.efi"
deadline=$((SECONDS + 900))
until grep -q PATELA-CAPTURE-END "$T/capture.out" 2>/dev/null; do
        ((SECONDS < deadline)) || fail "no capture within 900 s (console: $T/capture.serial)"
        kill -0 "$VM_PID" 2>/dev/null || fail "qemu exited (console: $T/capture.serial)"
        sleep 5
done
echo "# captured after $(vm_elapsed) s"
vm_stop

mkdir -p "$OUT"
tr -d '\r' <"$T/capture.out" >"$T/capture.txt"
sed -n 's/^FIRMWARE //p' "$T/capture.txt" | base64 -d >"$T/binary_bios_measurements"
sed -n 's/^USERSPACE //p' "$T/capture.txt" | base64 -d >"$T/tpm2-measure.log"
sed -n 's/^PCR //p' "$T/capture.txt" >"$T/pcrs.sha256"
for f in FIRMWARE:binary_bios_measurements USERSPACE:tpm2-measure.log; do
        want=$(sed -n "s/^${f%%:*}-sha256 //p" "$T/capture.txt")
        [[ $(sha256sum "$T/${f#*:}" | cut -d' ' -f1) == "$want" ]] || fail "${f#*:} arrived damaged"
done
[[ $(wc -l <"$T/pcrs.sha256") == 24 ]] || fail "not 24 PCRs: $(cat "$T/pcrs.sha256")"
cp "$T/binary_bios_measurements" "$T/tpm2-measure.log" "$T/pcrs.sha256" "$OUT/"
# What the image's build predicted, to compare with what the boot measured.
cp "$IMAGE_DIR/patela.reference.json" "$OUT/"
cp "$T/binary_bios_measurements" "$PATELA_SOURCE_DIR/test/fuzz/corpus/tcg-eventlog/qemu-ovmf"
cp "$T/tpm2-measure.log" "$PATELA_SOURCE_DIR/test/fuzz/corpus/userspace-log/qemu-ovmf"
sha256sum "$IMAGE_DIR/patela.efi" | cut -d' ' -f1 >"$OUT/uki.sha256"
pass "captured into $OUT: $(stat -c %s "$OUT/binary_bios_measurements") + $(stat -c %s "$OUT/tpm2-measure.log") bytes of logs, 24 PCRs"
