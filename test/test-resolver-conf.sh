#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela's unbound configuration as installed (patela-resolver(8)): unbound-checkconf accepts it with an include
# file shaped as patela-configd writes it, and reads back what an exit operator expects of it: loopback only,
# validating with dns-root-data's anchor, no forwarder, QNAME minimisation, nothing of the queries logged, no
# control socket. A wrong line in configd's file is refused (the check can fail).
source "$PATELA_SOURCE_DIR/test/lib.sh"

D=$T/root
meson install -C "$PATELA_BUILD_DIR" --no-rebuild --quiet --destdir "$D" >"$T/install.log" 2>&1 ||
        fail "meson install failed: $(tail -5 "$T/install.log")"
conf=$D$PATELA_UNBOUND_CONF
[[ -f $conf && -f $D$PATELA_TOR_RESOLV_CONF ]] || fail "unbound.conf or tor-resolv.conf not installed: $(find "$D" -path '*patela*' -name '*.conf')"

# The include directory is /run/patela/resolver on a node; here the test's own, with configd's kind of file.
inc=$(sed -n 's/^[[:space:]]*include: "\(.*\)\/\*\.conf"$/\1/p' "$conf")
[[ $inc == /run/patela/resolver ]] || fail "unbound.conf includes '$inc', not configd's directory"
mkdir -p "$T/resolver"
sed "s|$inc/|$T/resolver/|" "$conf" >"$T/unbound.conf"
printf '# Written by patela-configd: test\nserver:\n    outgoing-interface: 198.51.100.2\n    outgoing-interface: 2001:db8:1::2\n' \
        >"$T/resolver/outgoing.conf"
unbound-checkconf "$T/unbound.conf" >"$T/checkconf.out" 2>&1 || fail "unbound-checkconf: $(cat "$T/checkconf.out")"
pass "unbound-checkconf accepts patela's unbound.conf with configd's outgoing-interface include"

opt() {
        unbound-checkconf -o "$1" "$T/unbound.conf" 2>&1 | tr '\n' ' ' | sed 's/ $//'
}
declare -A want=(
        [interface]="127.0.0.1 ::1"
        [port]=53
        [outgoing-interface]="198.51.100.2 2001:db8:1::2"
        [module-config]="validator iterator"
        [trust-anchor-file]=/usr/share/dns/root.key
        [auto-trust-anchor-file]=""
        [root-hints]=/usr/share/dns/root.hints
        [qname-minimisation]=yes
        [harden-dnssec-stripped]=yes
        [log-queries]=no
        [log-replies]=no
        [log-servfail]=no
        [val-log-level]=0
        [hide-identity]=yes
        [hide-version]=yes
        [prefetch]=yes
        [control-enable]=no
        [do-not-query-localhost]=yes
)
for k in "${!want[@]}"; do
        got=$(opt "$k")
        [[ $got == "${want[$k]}" ]] || fail "$k: '$got', want '${want[$k]}'"
done
# No forwarder, stub or other source of answers than the root; no file of a previous boot.
grep -Eq '^[[:space:]]*(forward-zone|stub-zone|auth-zone|forward-addr|forward-host|python-script|dynlib-file):' "$conf" &&
        fail "unbound.conf forwards or loads a module: $(grep -E 'forward|stub|auth-zone|python|dynlib' "$conf")"
grep -v '^[[:space:]]*#' "$conf" | grep -q '/var/lib' && fail "unbound.conf reads /var/lib: $(grep /var/lib "$conf")"
[[ $(grep -v '^#' "$D$PATELA_TOR_RESOLV_CONF" | grep -v '^$') == $'nameserver 127.0.0.1\nnameserver ::1' ]] ||
        fail "tor-resolv.conf: $(cat "$D$PATELA_TOR_RESOLV_CONF")"
pass "loopback only, validating with dns-root-data's static anchor, no forwarder or module, QNAME minimisation, no query logged, no control socket; tor-resolv.conf names loopback only"

# A line configd could never write, but a broken include must not pass: the check is real.
printf 'server:\n    outgoing-interface: 198.51.100.2.7\n' >"$T/resolver/outgoing.conf"
unbound-checkconf "$T/unbound.conf" >"$T/checkconf.out" 2>&1 && fail "unbound-checkconf accepted a bad address"
printf 'server:\n    forward-zone: x\n' >"$T/resolver/outgoing.conf"
unbound-checkconf "$T/unbound.conf" >"$T/checkconf.out" 2>&1 && fail "unbound-checkconf accepted a misplaced forward-zone"
pass "unbound-checkconf refuses a bad outgoing-interface and a misplaced clause in the include"
