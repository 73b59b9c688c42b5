#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the build into a scratch root and checks the units there: installed where systemd's pkg-config
# file says, `systemd-analyze verify` clean, `systemd-analyze security` exposure at most 2.0, man pages
# present for every unit.
source "$PATELA_SOURCE_DIR/test/lib.sh"

D=$T/root
meson install -C "$PATELA_BUILD_DIR" --no-rebuild --quiet --destdir "$D" >"$T/install.log" 2>&1 ||
        fail "meson install failed: $(tail -5 "$T/install.log")"

prefix=$(meson introspect "$PATELA_BUILD_DIR" --buildoptions | jq -r '.[] | select(.name=="prefix") | .value')
unitdir=$(pkg-config --define-variable=prefix="$prefix" --define-variable=root_prefix="$prefix" \
        --variable=systemdsystemunitdir systemd)
tmpfilesdir=$(pkg-config --define-variable=prefix="$prefix" --variable=tmpfilesdir systemd)
sysusersdir=$(pkg-config --define-variable=prefix="$prefix" --variable=sysusersdir systemd)
for u in patela-attestd.service patela-attestd.socket patela-keyd.service patela-keyd.socket \
        patela-configd.service patela-configd.socket patela-client.target patela-tor@.service \
        patela-resolver.service; do
        [[ -f $D$unitdir/$u ]] || fail "$u not in $unitdir: $(find "$D" -name 'patela*')"
done
[[ -f $D$tmpfilesdir/patela.conf ]] || fail "tmpfiles.d not in $tmpfilesdir"
[[ -f $D$sysusersdir/patela.conf ]] || fail "sysusers.d not in $sysusersdir"
rulesdir=$(meson introspect "$PATELA_BUILD_DIR" --buildoptions |
        jq -r '(map({(.name): .value}) | add) as $o | if $o["polkit-rules-dir"] != "" then $o["polkit-rules-dir"]
               else $o.prefix + "/" + $o.datadir + "/polkit-1/rules.d" end')
rule=$D$rulesdir/10-patela-configd.rules
[[ -f $rule ]] || fail "configd's polkit rule not in $rulesdir: $(find "$D" -name '*.rules')"
pass "units, tmpfiles.d and sysusers.d installed into systemd's directories under $prefix, the polkit rule into polkit's"

# The network-facing daemon is not root, and the TPM daemons' sockets admit root and its group only.
grep -qx 'User=patela-configd' "$D$unitdir/patela-configd.service" || fail "patela-configd.service: $(grep ^User= "$D$unitdir/patela-configd.service")"
grep -qx 'u patela-configd - "patela node configuration" - -' "$D$sysusersdir/patela.conf" || fail "no patela-configd in sysusers.d"
for s in patela-attestd.socket patela-keyd.socket; do
        [[ $(grep -E '^Socket(Mode|Group)=' "$D$unitdir/$s" | sort | tr '\n' ' ') == "SocketGroup=patela-configd SocketMode=0660 " ]] ||
                fail "$s: $(grep -E '^Socket' "$D$unitdir/$s")"
done
grep -q '"patela-configd"' "$rule" || fail "the polkit rule names another user"
pass "patela-configd runs as its own user (sysusers.d), named in the polkit rule and as the group of attestd's and keyd's sockets (0660)"

# The units' dependencies (sysinit.target, sockets.target, …) come from systemd's own units, and the
# programs they run outside patela from this system.
mkdir -p "$D/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$D/usr/lib/systemd/"
for exe in /bin/sh /bin/kill /usr/bin/tor /usr/sbin/unbound; do
        install -D "$(readlink -f "$exe")" "$D$exe"
done
units=("$D$unitdir"/patela-*.service "$D$unitdir"/patela-*.socket "$D$unitdir"/patela-*.target)
systemd-analyze verify --root="$D" --man=no "${units[@]}" >"$T/verify.log" 2>&1 ||
        fail "systemd-analyze verify: $(cat "$T/verify.log")"
[[ ! -s $T/verify.log ]] || fail "systemd-analyze verify printed warnings: $(cat "$T/verify.log")"
pass "systemd-analyze verify clean for ${#units[@]} units"

for u in "$D$unitdir"/patela-*.service; do
        # A template is judged as one of its instances.
        [[ $u == *@.service ]] && u=${u%@.service}@exitA.service
        systemd-analyze security --offline=yes --root="$D" "$u" >"$T/security.log" 2>&1 || true
        score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/security.log")
        [[ -n $score ]] || fail "no exposure level for $u: $(tail -3 "$T/security.log")"
        awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "$(basename "$u"): exposure $score > 2.0"
        pass "$(basename "$u"): systemd-analyze security exposure $score"
done

for u in "${units[@]}"; do
        page=$(sed -n 's/^Documentation=man:\([^(]*\)(\([0-9]\)).*/\1.\2/p' "$u")
        [[ -n $page ]] || fail "$(basename "$u") has no Documentation=man:"
        [[ -e $D$prefix/share/man/man${page##*.}/$page ]] || fail "man page $page for $(basename "$u") not installed"
done
pass "every unit documents itself with an installed man page"
