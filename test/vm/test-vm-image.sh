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

# The exits' resolver in the image (docs/resolver.md), read from the UKI's initrd: patela's unit and configuration,
# dns-root-data's anchor and hints, Debian's unbound units masked (the resolvconf hook would make it a forwarder),
# Python's standard library and Debian's unbound set-up gone; unbound from that root starts with patela's
# configuration.
objcopy --dump-section .initrd="$T/initrd.zst" "$IMAGE_DIR/patela.efi" "$T/uki.copy" || fail "no .initrd section"
R=$T/initrd
mkdir -p "$R"
(cd "$R" && zstd -dc ../initrd.zst | cpio -idm --quiet) || fail "cannot unpack the initrd"
for f in usr/sbin/unbound usr/share/dns/root.key usr/share/dns/root.hints usr/share/patela/unbound.conf \
        usr/share/patela/tor-resolv.conf usr/lib/systemd/system/patela-resolver.service; do
        [[ -f $R/$f ]] || fail "$f not in the image"
done
for u in unbound.service unbound-resolvconf.service; do
        [[ $(readlink "$R/etc/systemd/system/$u") == /dev/null ]] || fail "$u not masked in the image"
done
for f in usr/lib/python3.13 etc/unbound etc/resolvconf usr/lib/resolvconf usr/libexec/unbound-helper; do
        [[ ! -e $R/$f ]] || fail "$f is in the image"
done
grep -q '^Wants=patela-resolver.service' "$R/usr/lib/systemd/system/patela-client.target" ||
        fail "patela-client.target does not want the resolver"
mkdir -p "$R/run/patela/resolver"
chroot "$R" /usr/sbin/unbound-checkconf /usr/share/patela/unbound.conf >"$T/checkconf.out" 2>&1 ||
        fail "unbound-checkconf in the image: $(cat "$T/checkconf.out")"
pass "the image has patela-resolver.service, its configuration (unbound-checkconf clean in the image's root), dns-root-data's anchor and hints; unbound.service and unbound-resolvconf.service masked; no Python standard library, /etc/unbound or resolvconf hook"
