#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Re-captures test/boot/fixtures/pcrextend-257: systemd-pcrextend (systemd 257, the development root's)
# measures "sysinit", "ready" and the machine ID into a fresh swtpm and writes its tpm2-measure.log;
# tpm2_pcrread gives the PCR 11 and 15 values the replay must reach. Needs swtpm and tpm2-tools:
#
#   tools/dev run test/boot/capture-pcrextend.sh
#
# The boot ID, timestamps and machine ID change with every capture; the unit tests read whatever is there.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/test/boot/fixtures/pcrextend-257
pcrextend=${PATELA_SYSTEMD_PCREXTEND:-/usr/lib/systemd/systemd-pcrextend}
T=$(mktemp -d)
pid=
cleanup() {
        [[ -z $pid ]] || kill "$pid" 2>/dev/null || true
        rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/tpm" "$out"
swtpm socket --tpm2 --tpmstate dir="$T/tpm" --server type=unixio,path="$T/tpm.sock" \
        --ctrl type=unixio,path="$T/tpm.sock.ctrl" --flags not-need-init,startup-clear --log file="$T/swtpm.log" &
pid=$!
for _ in $(seq 100); do
        [[ -S $T/tpm.sock ]] && break
        sleep 0.05
done
export TPM2TOOLS_TCTI=swtpm:path=$T/tpm.sock
sleep 0.2

for what in sysinit ready --machine-id; do
        SYSTEMD_TPM2_DEVICE="$TPM2TOOLS_TCTI" SYSTEMD_MEASURE_LOG_USERSPACE="$T/tpm2-measure.log" \
                SYSTEMD_FORCE_MEASURE=1 "$pcrextend" "$what"
done
tpm2_pcrread sha256:11,15 | sed -n 's/^ *\([0-9]*\) *: 0x\([0-9A-F]*\)$/\1:\2/p' | tr 'A-F' 'a-f' >"$T/pcrs.sha256"
[[ $(wc -l <"$T/pcrs.sha256") == 2 ]] || { echo "tpm2_pcrread failed" >&2; exit 1; }
cp "$T/tpm2-measure.log" "$T/pcrs.sha256" "$out/"
cp "$T/tpm2-measure.log" "$top/test/fuzz/corpus/userspace-log/pcrextend-257"
echo "captured into $out with $("$pcrextend" --version | head -1)"
