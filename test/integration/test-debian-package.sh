#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages (debian/, docs/packaging.md): tools/build-debs builds them offline (dpkg-buildpackage
# under unshare --net; nocheck here: the unit suite runs in this same test run anyway) and lintian finds no
# error or warning; then they are installed with apt into a Debian 13 system booted with systemd as PID 1
# (systemd-nspawn): patela-server's postinst neither enables nor starts anything;
# `systemctl enable --now patela-server.socket` after `ca init`/`ca issue`, and a node of swtpm + attestd
# (this build's, on the host side, as test-server-enrolment.sh drives it with curl) enrols through the socket
# and is pending. patela-node and patela-pcrlock then install next to it: its user made by sysusers, its
# /run directories by tmpfiles, patela-client.target enabled, nothing started.
#
# The container's system: an overlay whose lower layer is the development root (Debian 13), with systemd's
# policy-rc.d refusal removed and the root's own daemons masked. It is not a debootstrapped system (tests
# have no network), but it is the honest part of one: patela is never installed in the development root
# (the tests run it from build trees; checked below), so everything of patela's in the container comes from
# the packages, their maintainer scripts run under a real systemd, and apt resolves the packages'
# dependencies against what the root has installed, as it would against a local mirror.
# 62–97 s on the 2 shared cores: the package build (45–75 s) and lintian (~15 s) are most of it.
# PATELA_TEST_DEBS=DIR takes the packages from a tools/build-debs output directory instead of building them.
[[ -n ${PATELA_NS_ENTERED:-} ]] ||
        PATELA_NS_ENTERED=1 exec unshare --net --mount --propagation private -- "$BASH" "$0" "$@"
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
source "$PATELA_SOURCE_DIR/test/lib-nspawn.sh"

ct_cleanup() {
        # On a failure, the server's journal joins the logs that cleanup prints.
        if [[ $FAILED != 0 && -n $CT_PID ]]; then
                ct journalctl --no-pager -q -u patela-server.service -u patela-server.socket >"$T/server-journal.log" 2>&1 || true
        fi
        ct_poweroff
        cleanup
}
trap ct_cleanup EXIT
ip link set lo up

for f in /usr/bin/patela-server /usr/libexec/patela-attestd /usr/bin/patela-pcrlock /usr/lib/systemd/system/patela-server.socket; do
        [[ ! -e $f ]] || fail "$f exists in this root: the container would not show what the packages install"
done

# --- build and lintian ---------------------------------------------------------------------------------
t=$SECONDS
VERSION=$(dpkg-parsechangelog -l "$PATELA_SOURCE_DIR/debian/changelog" -S Version)
if [[ -n ${PATELA_TEST_DEBS:-} ]]; then
        # Packages (and lintian.log) that tools/build-debs made before, when working on the install half.
        cp -r "$PATELA_TEST_DEBS" "$T/debs"
else
        PATELA_DEB_BUILD_OPTIONS="nocheck parallel=2" "$PATELA_SOURCE_DIR/tools/build-debs" "$T/debs" 2>"$T/build-debs.log" ||
                fail "tools/build-debs: $(tail -30 "$T/build-debs.log")"
fi
for p in patela-server patela-node patela-pcrlock; do
        [[ -f $T/debs/${p}_${VERSION}_amd64.deb ]] || fail "no $p package: $(ls "$T/debs")"
done
grep -q '^[EW]:' "$T/debs/lintian.log" && fail "lintian: $(grep '^[EW]:' "$T/debs/lintian.log")"
pass "packages built offline and lintian-clean in $((SECONDS - t)) s: $(cd "$T/debs" && echo patela*.deb)"

# What each package holds (the split of docs/packaging.md).
contents() { dpkg-deb -c "$T/debs/$1_${VERSION}_amd64.deb" | awk '{ print $6 }' | sed 's|^\.||'; }
contents patela-server >"$T/server.list"
contents patela-node >"$T/node.list"
contents patela-pcrlock >"$T/pcrlock.list"
for f in /usr/bin/patela-server /usr/bin/patela-monitor /usr/lib/systemd/system/patela-server.socket \
        /usr/lib/systemd/system/patela-monitor.timer /usr/share/man/man8/patela-server.8.gz; do
        grep -qx "$f" "$T/server.list" || fail "patela-server lacks $f"
done
for f in /usr/libexec/patela-attestd /usr/libexec/patela-keyd /usr/libexec/patela-configd /usr/bin/patelactl \
        /usr/lib/systemd/system/patela-client.target /usr/lib/systemd/system/patela-tor@.service \
        /usr/lib/sysusers.d/patela.conf /usr/lib/tmpfiles.d/patela.conf /usr/share/polkit-1/rules.d/10-patela-configd.rules \
        /usr/share/bash-completion/completions/patelactl /etc/pcrlock.d/750-enter-initrd.pcrlock; do
        grep -qx "$f" "$T/node.list" || fail "patela-node lacks $f"
done
grep -qx /usr/bin/patela-pcrlock "$T/pcrlock.list" || fail "patela-pcrlock lacks its binary"
grep -q patela-server "$T/node.list" "$T/pcrlock.list" && fail "the server's files in a node package"
pass "patela-server, patela-node and patela-pcrlock hold what docs/packaging.md says"

# --- a Debian 13 system under systemd ------------------------------------------------------------------
mkdir -p "$CT/upper" "$CT/work" "$CT/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$CT/upper,workdir=$CT/work" "$CT/root" || fail "cannot mount the container's root"
# The development root refuses every daemon start in policy-rc.d (tools/dev): a Debian system has no such file.
rm -f "$CT/root/usr/sbin/policy-rc.d" "$CT/root/etc/debian_chroot"
mkdir -p "$CT/root/etc/systemd/system" "$CT/root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$CT/root/etc/systemd/journald.conf.d/50-volatile.conf"
for u in tor.service tor@default.service pesign.service e2scrub_reap.service nsd.service prometheus.service \
        unbound.service unbound-resolvconf.service; do
        ln -sf /dev/null "$CT/root/etc/systemd/system/$u"
done
# Where this machine forbids user namespaces (unshare -U: EPERM; so do some CI sandboxes), the unit's
# PrivateUsers=yes cannot start anywhere on it: a drop-in turns just that off, and says so. Not a Debian matter.
if ! unshare -U true 2>/dev/null; then
        mkdir -p "$CT/root/etc/systemd/system/patela-server.service.d"
        printf '[Service]\nPrivateUsers=no\n' >"$CT/root/etc/systemd/system/patela-server.service.d/50-no-userns.conf"
        echo "# user namespaces are forbidden on this machine: patela-server.service runs with PrivateUsers=no here"
fi
: >"$T/nspawn.log"
systemd-nspawn --quiet --register=no --keep-unit --link-journal=no --directory="$CT/root" --machine=patela-server \
        --bind-ro="$T/debs:/srv/debs" --boot >>"$T/nspawn.log" 2>&1 &
NSPAWN_PID=$!
PIDS+=("$NSPAWN_PID")
ct_wait_booted

# --- patela-server: apt install, nothing started -------------------------------------------------------
# apt_install DEB…: apt installs exactly these packages: every dependency is already there (the container has no
# network; apt would fail rather than download).
apt_install() {
        local n=0 a
        for a in "$@"; do [[ $a == -* ]] || n=$((n + 1)); done
        ct env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
                >"$T/apt.log" 2>&1 || fail "apt-get install $*: $(tail -20 "$T/apt.log")"
        # "0 upgraded, N newly installed, [R reinstalled, ]0 to remove": N + R are the packages given.
        awk -v n="$n" '/^0 upgraded, [0-9]+ newly installed, / { got = $3 + ($7 == "reinstalled," ? $6 : 0); ok = ($0 ~ / 0 to remove/) }
                END { exit !(ok && got == n) }' "$T/apt.log" || fail "apt did more than install $*: $(cat "$T/apt.log")"
}
apt_install "/srv/debs/patela-server_${VERSION}_amd64.deb"
[[ $(ct dpkg-query -W -f '${db:Status-Status}' patela-server) == installed ]] || fail "patela-server not installed"
for u in patela-server.socket patela-monitor.timer; do
        [[ $(ct systemctl is-enabled "$u" 2>&1) == disabled ]] || fail "$u: $(ct systemctl is-enabled "$u" 2>&1) after install"
        [[ $(ct systemctl is-active "$u" 2>&1) == inactive ]] || fail "$u: $(ct systemctl is-active "$u" 2>&1) after install"
done
[[ $(ct systemctl is-active patela-server.service 2>&1) == inactive ]] || fail "patela-server.service started by the install"
pass "apt installed patela-server under systemd: its socket and the monitor's timer neither enabled nor started"

# --- the operator's set-up (README), then a node enrols ------------------------------------------------
ct patela-server ca init >"$T/ca.log" 2>&1 || fail "ca init: $(cat "$T/ca.log")"
ct patela-server ca issue server --san IP:127.0.0.1 --san DNS:localhost >>"$T/ca.log" 2>&1 || fail "ca issue: $(cat "$T/ca.log")"
ct patela-server pool add names exitA exitB >/dev/null || fail "pool add names"
ct patela-server pool add ipv4 192.0.2.10 >/dev/null || fail "pool add ipv4"
ct systemctl enable --now patela-server.socket >"$T/enable.log" 2>&1 || fail "enable --now: $(cat "$T/enable.log")"
[[ $(ct systemctl is-enabled patela-server.socket) == enabled && $(ct systemctl is-active patela-server.socket) == active ]] ||
        fail "patela-server.socket not enabled and listening"
mkdir -p "$T/ca"
cp "/proc/$CT_PID/root/etc/patela/tls/ca.crt" "$T/ca/ca.crt"
URL=https://127.0.0.1:8443

swtpm_start
attestd_start --ek-type=ecc-p256
node_identity
node_prove
[[ $HTTP_STATUS == 202 && $(jq -r .state "$T/http.body") == pending ]] ||
        fail "enrolment through the packaged server: HTTP $HTTP_STATUS $(cat "$T/http.body"); $(ct journalctl --no-pager -q -u patela-server.service | tail -20)"
fp=$(jq -r .fingerprint "$T/id.json")
[[ $(ct systemctl is-active patela-server.service) == active ]] || fail "the socket did not start patela-server.service"
ct patela-server --json list nodes >"$T/nodes.json" || fail "list nodes"
[[ $(jq -r '.[0].state + " " + .[0].fingerprint' "$T/nodes.json") == "pending $fp" ]] ||
        fail "list nodes: $(cat "$T/nodes.json")"
# The database the admin CLI made as root before the first start: systemd moved its directory under
# /var/lib/private and gave it to the dynamic user (StateDirectory=), which wrote the node's row into it.
uid=$(ct ps -o uid= -C patela-server | head -1 | tr -d ' ')
[[ -n $uid && $uid != 0 ]] || fail "patela-server runs as '$uid'"
[[ $(ct readlink /var/lib/patela) == private/patela && $(ct stat -c %u /var/lib/private/patela/server.db) == "$uid" ]] ||
        fail "state directory: $(ct ls -la /var/lib/patela /var/lib/private/patela 2>&1)"
pass "enable --now patela-server.socket; a swtpm node enrolled through it and is pending ($fp); the server runs as its dynamic user ($uid), which owns the database the CLI made before the first start"

# An upgrade (here the same version again: the postinst runs as on an upgrade) restarts what runs and keeps it
# enabled; a removal stops it.
pid=$(ct systemctl show -P MainPID patela-server.service)
apt_install --reinstall "/srv/debs/patela-server_${VERSION}_amd64.deb"
[[ $(ct systemctl is-enabled patela-server.socket) == enabled && $(ct systemctl is-active patela-server.socket) == active ]] ||
        fail "after a reinstall: patela-server.socket $(ct systemctl is-enabled patela-server.socket), $(ct systemctl is-active patela-server.socket)"
newpid=$(ct systemctl show -P MainPID patela-server.service)
[[ $(ct systemctl is-active patela-server.service) == active && $newpid != "$pid" && $newpid != 0 ]] ||
        fail "after a reinstall: patela-server.service $(ct systemctl is-active patela-server.service), pid $pid → $newpid"
http POST /v1/enroll "$T/enroll.json" >/dev/null
[[ $HTTP_STATUS == 202 ]] || fail "after a reinstall: enrolment HTTP $HTTP_STATUS"
pass "a reinstall restarted the running server (pid $pid → $newpid), the socket still enabled, the node still pending"

# --- patela-node and patela-pcrlock: users, directories, enabled, not started --------------------------
apt_install "/srv/debs/patela-node_${VERSION}_amd64.deb" "/srv/debs/patela-pcrlock_${VERSION}_amd64.deb"
ct getent passwd patela-configd >/dev/null || fail "no patela-configd user (sysusers.d)"
[[ $(ct stat -c %U /run/patela/torrc) == patela-configd ]] || fail "/run/patela/torrc: $(ct stat -c %U /run/patela/torrc 2>&1)"
[[ $(ct systemctl is-enabled patela-client.target) == enabled ]] || fail "patela-client.target not enabled"
for u in patela-client.target patela-configd.service patela-attestd.socket patela-keyd.socket; do
        [[ $(ct systemctl is-active "$u" 2>&1) == inactive ]] || fail "$u started by the install: $(ct systemctl is-active "$u" 2>&1)"
done
ct patelactl --help >/dev/null || fail "patelactl --help"
pass "patela-node: patela-configd made by sysusers, /run/patela/torrc by tmpfiles, patela-client.target enabled, nothing started"

apt_remove() {
        ct env DEBIAN_FRONTEND=noninteractive apt-get remove -y "$@" >"$T/apt.log" 2>&1 || fail "apt-get remove $*: $(tail -20 "$T/apt.log")"
}
apt_remove patela-server
for u in patela-server.socket patela-server.service; do
        [[ $(ct systemctl is-active "$u" 2>&1) != active ]] || fail "$u still active after the package's removal"
done
pass "apt-get remove patela-server stopped its socket and service"
