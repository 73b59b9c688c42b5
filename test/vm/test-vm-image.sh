#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The relay image: mkosi/build makes it (into the build directory's image/, which test-vm-node boots), a
# second build from the same inputs gives the same UKI, it is under 60 MB, and patela-pcrlock's reference
# agrees with systemd-pcrlock lock-uki on PCR 4 and 11.
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/vm/lib-vm.sh"

SIZE_MAX=$((60 * 1000 * 1000))

t=$SECONDS
rm -f "$IMAGE_DIR/patela.efi" "$IMAGE_DIR/patela.reference.json"
vm_image
first=$((SECONDS - t))
sha1=$(cat "$IMAGE_DIR/patela.sha256")
size=$(stat -c %s "$IMAGE_DIR/patela.efi")
echo "# build 1: $first s, $size bytes, sha256 $sha1"
((size < SIZE_MAX)) || fail "the UKI is $size bytes, more than $SIZE_MAX"
pass "image built in $first s: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f MiB", s / 1048576 }')), under 60 MB"

# The same inputs again, in another directory (patela's packages and the host's patela-pcrlock are the same
# build: reproducible C builds are meson's, gcc's and dpkg's business; this checks the image around them).
t=$SECONDS
PATELA_IMAGE_MESON_DIR=$IMAGE_DIR/meson PATELA_IMAGE_DEBS_DIR=$IMAGE_DIR/debs \
        "$PATELA_SOURCE_DIR/mkosi/build" "$T/image-2" >"$T/build-2.log" 2>&1 ||
        fail "second build failed: $(tail -20 "$T/build-2.log")"
sha2=$(cat "$T/image-2/patela.sha256")
echo "# build 2: $((SECONDS - t)) s, sha256 $sha2"
[[ $sha1 == "$sha2" ]] || fail "two builds differ: $sha1 vs $sha2"
pass "a second build from the same inputs gives the same UKI (sha256 $sha1)"

# patela-pcrlock's prediction of PCR 4 and 11 against systemd-pcrlock's own (PCR 9 is checked by booting).
PCRLOCK=$IMAGE_DIR/meson/src/pcrlock/patela-pcrlock
/usr/lib/systemd/systemd-pcrlock lock-uki --pcrlock="$T/uki.pcrlock" "$IMAGE_DIR/patela.efi" >/dev/null 2>&1 ||
        fail "systemd-pcrlock lock-uki failed"
jq -r '.records[] | "\(.pcr) \(.digests[] | select(.hashAlg == "sha256") | .digest)"' "$T/uki.pcrlock" >"$T/systemd.records"
jq -r '.records[] | select(.event != "authenticode .linux") | select(.pcr == 4 or .pcr == 11) | "\(.pcr) \(.sha256)"' \
        "$IMAGE_DIR/patela.reference.json" >"$T/patela.records"
diff -u "$T/systemd.records" "$T/patela.records" || fail "patela-pcrlock and systemd-pcrlock lock-uki disagree"
pass "patela-pcrlock reference = systemd-pcrlock lock-uki for PCR 4 and 11 ($(wc -l <"$T/patela.records") records)"
