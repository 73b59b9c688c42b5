#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The node end to end under a real systemd PID 1 (systemd-nspawn), patela as installed from this build,
# patela-server on the host side, swtpm bound into the container, all in a network namespace of this
# test's own (tor runs with DisableNetwork 1 from the server's torrc anyway):
#   systemctl start patela-client.target → pending, patelactl identity = the server's fingerprint →
#   node enable with 8 relays on one IPv4 address (each on its own ORPort; two IPv6 addresses, 4 relays each)
#   → every patela-tor@ instance active, tor's fingerprints = keyd's, jemalloc preloaded, the relays'
#   addresses on the uplink once each by systemd-networkd, all 8 tor listening on their ports with the network
#   enabled for a moment → configd runs as its own user without capabilities;
#   as that user systemd lets it start, stop, reload-or-restart and signal patela-tor@NAME.service and
#   reload networkd, and refuses any other unit, verb or transient unit; keyd refuses to hand it keys or
#   delete them; other users reach neither attestd nor keyd → a fresh root, same TPM → same fingerprints, no
#   new node row, no key on the node's disk, pcrlock.json restored from NV → node disable → instances
#   stopped at the next re-attestation, the reason in patelactl status → server down at boot → clear
#   status, retries, no crash. The node boots (synthetically, with both event logs) into a registered image, so
#   the server judges it Trusted and releases the fleet's family key: every relay's torrc carries its FamilyId,
#   every instance's KeyDirectory its key; `family rotate` and `family retire` restart the instances with both
#   keys, then with the new one alone, through the session check. tor's state: a bandwidth history planted in
#   exitA's DataDirectory, saved (sealed) at the poweroff, ciphertext only at the server, back in its DataDirectory
#   before tor starts on the fresh root, every relay's BWHistory lines with it.
# Reports: start → all instances active, TPM commands per boot (at swtpm), RSS of each daemon.
# Into a network and mount namespace of this test's own, before anything is made.
[[ -n ${PATELA_NS_ENTERED:-} ]] ||
        PATELA_NS_ENTERED=1 exec unshare --net --mount --propagation private -- "$BASH" "$0" "$@"
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
source "$PATELA_SOURCE_DIR/test/lib-keyd.sh"
source "$PATELA_SOURCE_DIR/test/lib-nspawn.sh"
source "$PATELA_SOURCE_DIR/test/integration/lib-uki.sh"
ns_setup

# Eight relays on one IPv4 address, as the directory authorities allow (issue 12, item 2), and on two IPv6
# addresses: 4 relays each.
RELAYS=(exitA exitB exitC exitD exitE exitF exitG exitH)
FLEET_NAMES="${RELAYS[*]}"
FLEET_IPV4=192.0.2.10
FLEET_IPV6="2001:db8::10 2001:db8::11"
CT_REATTEST=4s
SWTPM_LOG_LEVEL=20

ct_cleanup() {
        ct_poweroff
        cleanup
}
trap ct_cleanup EXIT

# --- the server: pools, a fleet torrc that keeps tor offline ---------------------------------------------
# A relay closes gracefully on SIGINT within ShutdownWaitLength (30 s by default): short here.
fleet_setup "DisableNetwork 1" "ShutdownWaitLength 2"
ps_cli node set IPv4Gateway 192.0.2.1 default >/dev/null
ps_cli node set IPv6Gateway 2001:db8::1 default >/dev/null
# The uplink the relays' addresses go on, and the node's own resolution (never the relays' resolver).
ps_cli node set Interface patela0 default >/dev/null
ps_cli node set DNS 198.51.100.53 default >/dev/null
# The image the node boots, registered (measured boot enforced), and the fleet's family key.
make_uki "$T/uki" 1.0
REF=$T/uki/patela.reference.json
ps_cli image add "$REF" >/dev/null 2>&1 || fail "image add"
FAMILY1=$(ps_cli family init 2>/dev/null | awk '$1 == "FamilyId" { print $2 }')
[[ $FAMILY1 =~ ^[A-Za-z0-9+/]{43}$ ]] || fail "family init: '$FAMILY1'"
# The fleet's transparency log: its key pinned on the node (credential patela.log-key).
LOG_KEY=$(ps_cli log init patela.test/fleet "$T/log.key" 2>/dev/null) || fail "log init"
# Session checks every 2 s: a family rotation reaches the node within seconds.
server_start --check-interval=2s --log-key="$T/log.key"

# --- the node: TPM with a synthetic measured boot and its pcrlock policy ---------------------------------
node_tpm "$REF"
node_install
# The node's own address on the uplink (the relays' come from configd): its resolver's queries leave from it.
CT_UPLINK_ADDRESS=198.51.100.2/24
# The uplink's .network file matches two links, as the image's matches every Ethernet link; the server's Interface
# names patela0.
CT_UPLINK_NAMES="patela0 patela1"
node_files
# The patela units' and the relays' messages on the console too ($T/nspawn.log): the journal is volatile and gone
# after a poweroff, and a failure seen after one (the tor state saved at the poweroff) needs them.
printf '[Journal]\nForwardToConsole=yes\nMaxLevelConsole=info\n' >"$T/node/etc/systemd/journald.conf.d/60-console.conf"
# The test's own signed DNS root, served by nsd on the uplink's far side; the node's resolver trusts it.
dns_setup 198.51.100.53 198.51.100.54
# A unit that patela-configd must not manage.
cat >"$T/node/etc/systemd/system/patela-probe.service" <<'EOF'
[Unit]
Description=A unit patela-configd may not manage (test)

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
EOF

ctl_status() {
        ct patelactl --json=short status >"$T/ctl-status.json" 2>"$T/ctl-status.err" || true
        cat "$T/ctl-status.json"
}

# wait_phase PHASE SECONDS: configd's phase, as patelactl shows it.
wait_phase() {
        local want=$1 end=$((SECONDS + $2))
        while ((SECONDS < end)); do
                [[ $(ctl_status | jq -r '.config.phase // empty' 2>/dev/null) == "$want" ]] && return 0
                sleep 0.1
        done
        ct_journal patela-configd.service >&2
        fail "phase $want not reached in $2 s: $(cat "$T/ctl-status.json" "$T/ctl-status.err")"
}

# fingerprints: "NAME FINGERPRINT" per relay: tor --list-fingerprint (test/lib-keyd.sh), as an unprivileged
# user, on a copy of the key files in each running instance's KeyDirectory.
fingerprints() {
        local r dir got
        for r in "${RELAYS[@]}"; do
                dir=$T/fp/$r
                rm -rf "$dir"
                mkdir -p "$dir"
                cp "/proc/$CT_PID/root/run/patela-tor/$r/keys/"{secret_id_key,ed25519_master_id_secret_key} "$dir/" ||
                        fail "$r: no keys in its instance's KeyDirectory"
                chmod 0755 "$T" "$T/fp"
                chown -R nobody:nogroup "$dir"
                chmod 0700 "$dir"
                got=$(tor_fingerprint "$r" "$dir")
                [[ -n $got ]] || fail "$r: tor --list-fingerprint: $(cat "$T/tor-$r.out" "$T/tor-$r.err")"
                echo "$r $got"
        done
}

# family_in_place ID…: every relay's torrc names exactly these FamilyIds, in this order, its instance's
# KeyDirectory (the copy tor reads) holds exactly their keys, and patelactl status shows them. tor refuses to start
# on a FamilyId whose key it lacks, so an active instance has loaded them.
family_in_place() {
        local want="$*" r url files
        url=$(for id in "$@"; do echo "$id.secret_family_key"; done | tr '+/' '-_' | sort | tr '\n' ' ' | sed 's/ $//')
        for r in "${RELAYS[@]}"; do
                [[ $(ct awk '$1 == "FamilyId" { print $2 }' "/run/patela/torrc/$r.torrc" | tr '\n' ' ' | sed 's/ $//') == "$want" ]] ||
                        return 1
                files=$(cd "/proc/$CT_PID/root/run/patela-tor/$r/keys" 2>/dev/null && ls -- *.secret_family_key 2>/dev/null |
                        sort | tr '\n' ' ' | sed 's/ $//' || true)
                [[ $files == "$url" ]] || return 1
        done
        [[ $(ctl_status | jq -r '.config.familyIds | join(" ")') == "$want" ]]
}

main_pids() {
        local r
        for r in "${RELAYS[@]}"; do
                ct systemctl show -P MainPID "patela-tor@$r.service"
        done | tr '\n' ' '
}

# wait_family SECONDS ID…: until the family is in place and every instance is active, each with a MainPID not in
# $PIDS_BEFORE (restarted) if that is set.
wait_family() {
        local end=$((SECONDS + $1)) r pid ok
        shift
        while ((SECONDS < end)); do
                ok=1
                family_in_place "$@" || ok=0
                for r in "${RELAYS[@]}"; do
                        [[ $(ct systemctl is-active "patela-tor@$r.service") == active ]] || ok=0
                        pid=$(ct systemctl show -P MainPID "patela-tor@$r.service")
                        [[ -n ${PIDS_BEFORE:-} && " $PIDS_BEFORE " == *" $pid "* ]] && ok=0
                done
                ((ok)) && return 0
                sleep 0.2
        done
        for r in "${RELAYS[@]}"; do
                echo "# $r: $(ct grep FamilyId "/run/patela/torrc/$r.torrc" | tr '\n' ' ') keys: $(ls "/proc/$CT_PID/root/run/patela-tor/$r/keys" | tr '\n' ' ')" >&2
        done
        ct_journal patela-configd.service 40 >&2
        fail "family '$*' not in place within the time"
}

keyd_fingerprints() {
        local r
        for r in "${RELAYS[@]}"; do
                echo "$r $(ct patelactl --json=short keys list | jq -r --arg n "$r" '.relays[] | select(.name == $n) | .rsaFingerprint')"
        done
}

# --- boot 1: start, pending, enable ------------------------------------------------------------------------
ct_boot var/lib/systemd/pcrlock.json
ct systemctl is-active --quiet patela-configd.service && fail "patela-configd runs before the target is started"
tpm0=$(swtpm_commands)
ct systemctl start patela-client.target || fail "systemctl start patela-client.target: $(ct_journal)"
wait_phase pending 30
# Before any relay: the uplink's file configures both links (no Interface drop-in yet).
end=$((SECONDS + 10))
until [[ $(ct networkctl list --no-legend --no-pager patela1 | awk '{ print $5 }') == configured ]]; do
        ((SECONDS < end)) || fail "patela1 not configured by the uplink's file: $(ct networkctl list --no-pager)"
        sleep 0.1
done
fp=$(ct patelactl --json=short identity | jq -r .fingerprint)
[[ -n $fp && $fp != null ]] || fail "patelactl identity: $(ct patelactl identity 2>&1)"
[[ $(ps_cli --json list nodes | jq -r '.[0].state + " " + .[0].fingerprint') == "pending $fp" ]] ||
        fail "server: $(ps_cli --json list nodes), node says $fp"
ct systemctl status patela-configd.service --no-pager >"$T/configd-status.txt" 2>&1 || true
grep -q "pending, fingerprint $fp" "$T/configd-status.txt" || fail "unit status line: $(cat "$T/configd-status.txt")"
pass "boot 1: patela-client.target started, node pending; patelactl identity = server's fingerprint $fp, also in the unit's status"

ps_cli node relays "$fp" "${#RELAYS[@]}" >/dev/null
ps_cli node enable "$fp" >/dev/null
start=$(date +%s%N)
wait_units active 30
ms=$((($(date +%s%N) - start) / 1000000))
tpm1=$(swtpm_commands)
wait_phase running 10
want=$(printf '%s:active,' "${RELAYS[@]}")
[[ $(jq -r '[.config.relays[] | .name + ":" + .unitState] | join(",")' "$T/ctl-status.json") == "${want%,}" ]] ||
        fail "unit states in status: $(cat "$T/ctl-status.json")"
pass "node enabled: all ${#RELAYS[@]} tor instances active ${ms} ms after the enable (GetStatus shows them active)"
# The server's allocation: every relay on the one IPv4 address, each on its own port from ORPortRange=; the
# IPv6 addresses taken in turn.
want=$(for i in "${!RELAYS[@]}"; do
        printf '%s 192.0.2.10:%d [2001:db8::1%d]:%d\n' "${RELAYS[$i]}" $((9001 + i)) $((i % 2)) $((9001 + i))
done)
[[ $(ps_cli --json list relays | jq -r '.[] | "\(.name) \(.ipv4):\(.orPort) [\(.ipv6)]:\(.orPort)"') == "$want" ]] ||
        fail "allocation: $(ps_cli list relays)"
for i in "${!RELAYS[@]}"; do
        grep -qx "ORPort 192.0.2.10:$((9001 + i))" "/proc/$CT_PID/root/run/patela/torrc/${RELAYS[$i]}.torrc" ||
                fail "${RELAYS[$i]}'s torrc: $(grep ORPort "/proc/$CT_PID/root/run/patela/torrc/${RELAYS[$i]}.torrc")"
done
[[ $(ps_cli --json pool list ipv4 | jq -r '.[0] | "\(.value) \(.relayCount)/\(.capacity)"') == "192.0.2.10 8/8" ]] ||
        fail "pool list: $(ps_cli pool list)"
pass "the server put the ${#RELAYS[@]} relays on 192.0.2.10:9001-9008 ([2001:db8::10] and [2001:db8::11] four each); pool list: 192.0.2.10 8/8"

fingerprints >"$T/fp-1.txt"
keyd_fingerprints >"$T/keyd-fp-1.txt"
diff "$T/fp-1.txt" "$T/keyd-fp-1.txt" >&2 || fail "tor's fingerprints differ from keyd's"
for r in "${RELAYS[@]}"; do
        want=$(awk -v n="$r" '$1 == n { print $2 }' "$T/fp-1.txt")
        # tor itself writes the fingerprint it runs with into its DataDirectory.
        [[ $(awk '{ print $2 }' "/proc/$CT_PID/root/run/patela-tor/$r/data/fingerprint" 2>/dev/null) == "$want" ]] ||
                fail "$r: the running tor's fingerprint file: $(cat "/proc/$CT_PID/root/run/patela-tor/$r/data/fingerprint" 2>&1)"
        pid=$(ct systemctl show -P MainPID "patela-tor@$r.service")
        uid=$(ct ps -o uid= -p "$pid" | tr -d ' ')
        # systemd's dynamic users: 61184–65519, one per instance.
        ((uid >= 61184 && uid <= 65519)) || fail "$r: tor runs as uid '$uid', not a dynamic user"
        [[ " ${uids:-} " != *" $uid "* ]] || fail "$r: shares uid $uid with another relay"
        uids="${uids:-} $uid"
        [[ $(ct stat -c %u "/run/patela-tor/$r/keys/secret_id_key") == "$uid" ]] || fail "$r: key files not its user's"
        ct grep -q libjemalloc "/proc/$pid/maps" || fail "$r: jemalloc not loaded in tor"
        # NoExecPaths=: in tor's mount namespace nothing but tor and what ExecStart= needs to copy the keys may be executed.
        ct nsenter -t "$pid" -m -r /usr/bin/true 2>"$T/exec.err" && fail "$r: /usr/bin/true runs in tor's namespace: $(ct grep -E ' / |/usr' "/proc/$pid/mountinfo" | head -5)"
        ct nsenter -t "$pid" -m -r /usr/bin/tor --version >/dev/null || fail "$r: tor does not run in its own namespace"
done
pass "tor --list-fingerprint on each instance's keys = keyd's = the running tor's: $(tr '\n' ' ' <"$T/fp-1.txt")"
[[ $(jq -r .config.bootVerdict "$T/ctl-status.json") == Trusted ]] || fail "boot verdict: $(cat "$T/ctl-status.json")"
family_in_place "$FAMILY1" || wait_family 10 "$FAMILY1"
ct patelactl status | grep -qF "Family: $FAMILY1" || fail "patelactl status: $(ct patelactl status 2>&1)"
pass "boot judged Trusted: each relay's torrc carries FamilyId $FAMILY1, each instance's KeyDirectory its key, and the instances run"
ct patelactl log verify >"$T/log-verify.txt" 2>&1 || fail "patelactl log verify: $(cat "$T/log-verify.txt")"
grep -q "^ *Verified: yes" "$T/log-verify.txt" && grep -q "^ *Entry: 0$" "$T/log-verify.txt" ||
        fail "patelactl log verify: $(cat "$T/log-verify.txt")"
[[ $(ct stat -c %U /run/patela/log/checkpoint) == patela-configd ]] ||
        fail "the kept checkpoint: $(ct ls -l /run/patela/log 2>&1)"
pass "patelactl log verify: the booted image's registration proved under the checkpoint signed by the pinned key, kept by patela-configd in /run/patela/log"
pass "each tor runs as a dynamic user of its own (uids$uids) owning its key copies, with jemalloc preloaded; in its namespace only tor may be executed, not /usr/bin/true"

# The shared addresses: each in one drop-in (the first relay's that carries it), on the uplink once.
dropins=/proc/$CT_PID/root/run/systemd/network/80-patela-uplink.network.d
for a in 192.0.2.10/32 2001:db8::10/64 2001:db8::11/64; do
        [[ $(cat "$dropins"/patela-relay-*.conf | grep -cxF "Address=$a") == 1 ]] ||
                fail "Address=$a not in exactly one drop-in: $(grep -H Address= "$dropins"/*)"
done
[[ $(cd "$dropins" && echo patela-relay-*.conf) == "patela-relay-exitA.conf patela-relay-exitB.conf" ]] ||
        fail "drop-ins: $(ls "$dropins")"
addrs=$(ip -br addr show patela0 | tr -s ' ' | cut -d' ' -f3- | tr ' ' '\n' | sort | tr '\n' ' ')
for a in 192.0.2.10/32 2001:db8::10/64 2001:db8::11/64; do
        grep -qF "$a" <<<"$addrs" || fail "systemd-networkd did not put $a on patela0: $addrs"
done
pass "systemd-networkd put the relays' three addresses on the uplink, each from one drop-in (exitA's, exitB's): $addrs"

# Source routing: what leaves from a relay address goes through the server's gateway; the node's own
# routing (here: no default route at all) is left as it was.
# routes_ok: prints what is missing, nothing when all is in place (networkd re-applies on each reload).
routes_ok() {
        [[ $(ip rule | grep -c "from 192.0.2.10 lookup 728352") == 1 ]] || echo "not one rule for 192.0.2.10"
        local a
        for a in 2001:db8::10 2001:db8::11; do
                [[ $(ip -6 rule | grep -c "from $a lookup 728352") == 1 ]] || echo "not one rule for $a"
        done
        ip route show table 728352 | grep -q '^default via 192.0.2.1 dev patela0' || echo "no IPv4 default in 728352"
        ip -6 route show table 728352 | grep -q '^default via 2001:db8::1 dev patela0' || echo "no IPv6 default in 728352"
        [[ -z $(ip route show table main default; ip -6 route show table main default) ]] ||
                echo "a default route in the main table"
}
# Twice in a row, half a second apart: networkd takes rules down and up again while it reconfigures.
end=$((SECONDS + 20))
while ((SECONDS < end)); do
        missing=$(routes_ok)
        if [[ -z $missing ]]; then
                sleep 0.5
                missing=$(routes_ok)
                [[ -z $missing ]] && break
        fi
        sleep 0.1
done
[[ -z $missing ]] || fail "$missing: $(ip rule; ip -6 rule; ip route show table all)"
pass "each relay address routes through the server's gateways (one rule each to table 728352), the main table untouched"

# --- the exits' resolver (issue 12, item 1) -------------------------------------------------------------------
# patela-resolver.service runs patela's unbound configuration: loopback only, validating from the trust anchor the
# node's image holds (here the test's root), no forwarder; its queries leave from the node's own address.
end=$((SECONDS + 10))
until [[ $(ct systemctl is-active patela-resolver.service) == active ]]; do
        ((SECONDS < end)) || fail "patela-resolver.service: $(ct systemctl status --no-pager patela-resolver.service | tail -15; ct_journal patela-resolver.service 30)"
        sleep 0.1
done
for u in unbound.service unbound-resolvconf.service; do
        [[ $(ct systemctl is-enabled "$u" 2>&1) == masked && $(ct systemctl is-active "$u" 2>&1) == inactive ]] ||
                fail "$u: $(ct systemctl is-enabled "$u" 2>&1) $(ct systemctl is-active "$u" 2>&1)"
done
conf=$(ct systemctl show -P ExecStart patela-resolver.service | grep -o -- '-c [^ ;]*' | cut -d' ' -f2)
[[ -n $conf ]] && ct unbound-checkconf "$conf" >"$T/checkconf.out" 2>&1 || fail "unbound-checkconf $conf: $(cat "$T/checkconf.out")"
# What unbound listens on: loopback, port 53, nothing else.
listen=$( (ss -Hlnup; ss -Hlntp) | grep '"unbound"' | awk '{ print $4 }' | sort -u | tr '\n' ' ')
[[ $listen == "127.0.0.1:53 [::1]:53 " ]] || fail "patela-resolver listens on: '$listen'"
# configd wrote the node's own address (none of the relays') and systemd reloaded the resolver after it.
out=/proc/$CT_PID/root/run/patela/resolver/outgoing.conf
[[ $(grep outgoing-interface "$out" 2>/dev/null) == "    outgoing-interface: 198.51.100.2" ]] ||
        fail "resolver's outgoing addresses: $(cat "$out" 2>&1)"
written=$(stat -c %.6Y "$out")
end=$((SECONDS + 10))
while :; do
        started=$(ct journalctl -q -o short-unix -u patela-resolver.service --grep 'start of service' | tail -1 | cut -d' ' -f1)
        [[ -n $started ]] && awk -v a="$started" -v b="$written" 'BEGIN { exit !(a >= b) }' && break
        ((SECONDS < end)) || fail "the resolver did not read $out again (written $written, last start ${started:-none})"
        sleep 0.1
done
for r in "${RELAYS[@]}"; do
        [[ $(ct grep '^ServerDNSResolvConfFile ' "/run/patela/torrc/$r.torrc") == "ServerDNSResolvConfFile $PATELA_TOR_RESOLV_CONF" ]] ||
                fail "$r's torrc: $(ct grep ServerDNS "/run/patela/torrc/$r.torrc")"
done
[[ $(ct grep -v '^#' "$PATELA_TOR_RESOLV_CONF" | grep . | tr '\n' ' ') == "nameserver 127.0.0.1 nameserver ::1 " ]] ||
        fail "tor-resolv.conf: $(ct cat "$PATELA_TOR_RESOLV_CONF")"
pass "patela-resolver.service active (unbound.service and unbound-resolvconf.service masked), unbound-checkconf clean, listening on 127.0.0.1:53 and [::1]:53 only; configd gave it 198.51.100.2 as its only outgoing address and it reloaded; every torrc points tor at it"

# Lookups as a relay's tor makes them (from the relay's address, tor binds to its OutboundBindAddress) through the
# resolver, watched on loopback (where packets between this namespace's addresses travel): answered and validated
# (ad), every query to the authoritative servers left from the node's own address, none from a relay's, and each
# server saw only the labels it answers for (QNAME minimisation: the root never sees www.deep.example.).
"$PATELA_BUILD_DIR/test/dns-capture-tool" lo 53 6 >"$T/capture.txt" 2>"$T/capture.err" &
cap=$!
PIDS+=("$cap")
for ((i = 0; i < 50; i++)); do grep -q ready "$T/capture.err" && break; sleep 0.1; done
ct drill -D -I 192.0.2.10 @127.0.0.1 good. A >"$T/drill-good.txt" 2>&1 || true
ct drill -D -I 192.0.2.10 @127.0.0.1 www.deep.example. A >"$T/drill-deep.txt" 2>&1 || true
ct drill -D @127.0.0.1 bad. A >"$T/drill-bad.txt" 2>&1 || true
wait "$cap" || fail "dns-capture-tool: $(cat "$T/capture.err")"
grep -q 'rcode: NOERROR' "$T/drill-deep.txt" && grep -Eq '^;; flags: .* ad ' "$T/drill-deep.txt" &&
        grep -Eq '^www\.deep\.example\.[[:space:]].*[[:space:]]A[[:space:]]+203\.0\.113\.9$' "$T/drill-deep.txt" ||
        fail "www.deep.example. through the resolver: $(cat "$T/drill-deep.txt")"
root_names=$(awk '$2 == "198.51.100.53" { print $3 }' "$T/capture.txt" | sort -u | tr '\n' ' ')
grep -Eq 'deep|www' <<<"$root_names" && fail "the root server saw more than its label: $root_names"
grep -qw 'example\.' <<<"$root_names" || fail "no minimised query for example. at the root: $root_names"
awk '$2 == "198.51.100.54" { print $3 }' "$T/capture.txt" | grep -qx 'www.deep.example.' ||
        fail "example.'s server was not asked for www.deep.example.: $(cat "$T/capture.txt" | tr '\n' ';')"
grep -q 'rcode: NOERROR' "$T/drill-good.txt" && grep -Eq '^;; flags: .* ad ' "$T/drill-good.txt" &&
        grep -Eq '^good\.[[:space:]].*[[:space:]]A[[:space:]]+203\.0\.113\.7$' "$T/drill-good.txt" ||
        fail "good. through the resolver: $(cat "$T/drill-good.txt")"
grep -q 'rcode: SERVFAIL' "$T/drill-bad.txt" && ! grep -q '203\.0\.113\.66' "$T/drill-bad.txt" ||
        fail "bad. (badly signed) was not refused: $(cat "$T/drill-bad.txt")"
grep -qx '192.0.2.10 127.0.0.1 good.' "$T/capture.txt" || fail "the relay-sourced lookup was not seen: $(cat "$T/capture.txt")"
upstream=$(awk '$2 ~ /^198\.51\.100\.5[34]$/ { print $1 }' "$T/capture.txt" | sort | uniq -c | awk '{ print $2 "×" $1 }' | tr '\n' ' ')
[[ $upstream =~ ^198\.51\.100\.2×[0-9]+\ $ ]] || fail "queries to the authoritative servers left from: '$upstream' ($(cat "$T/capture.txt" | tr '\n' ';'))"
pass "good. and www.deep.example. resolved through the resolver from relay address 192.0.2.10, validated (ad); bad. (its A changed after signing) refused with SERVFAIL; queries to the test's authoritative servers from ${upstream% } only, never a relay's address; QNAME minimised (the root saw: ${root_names% })"

# The server's Interface and DNS: the uplink's drop-in names the link (its [Match]) and the node's own resolver
# for networkd (not the relays'); networkd applied it.
uplink=/proc/$CT_PID/root/run/systemd/network/80-patela-uplink.network.d/patela-uplink.conf
grep -qx 'Name=patela0' "$uplink" && grep -qx 'DNS=198.51.100.53' "$uplink" || fail "uplink drop-in: $(cat "$uplink" 2>&1)"
ifindex=$(ip -o link show patela0 | cut -d: -f1)
end=$((SECONDS + 10))
until ct grep -q '^DNS=198.51.100.53' "/run/systemd/netif/links/$ifindex" 2>/dev/null; do
        ((SECONDS < end)) || fail "networkd's state of patela0: $(ct cat "/run/systemd/netif/links/$ifindex" 2>&1)"
        sleep 0.1
done
ct grep -q '198.51.100.53' "/run/patela/resolver/outgoing.conf" && fail "the DNS setting reached the relays' resolver"
# patela1, matched by the uplink's file before, is left alone now: no relay address on it.
[[ $(ct networkctl list --no-legend --no-pager patela1 | awk '{ print $5 }') == unmanaged ]] ||
        fail "patela1 still managed: $(ct networkctl list --no-pager)"
ip -br addr show patela1 | grep -Eq '192\.0\.2\.10|2001:db8::1[01]' && fail "a relay address on patela1: $(ip -br addr show patela1)"
pass "Interface=patela0 and DNS=198.51.100.53 in the uplink's drop-in, applied by networkd to patela0 alone (patela1, configured by the same file before, unmanaged, no relay address); the relays' resolver knows nothing of them"

# The relays listen: for a moment tor has the network (this namespace has no route out: the gateway is on a veth
# whose other end is here), and the 8 instances bind their ORPorts on the one address and their metrics ports.
# listening: "ADDRESS:PORT" of every TCP listener of this namespace (the container's too).
listening() {
        ss -Hltn | awk '{ print $4 }' | sort -u
}
ps_cli torrc set DisableNetwork 0 node --id "$fp" >/dev/null
ct patelactl attest >/dev/null || fail "patelactl attest: $(ct patelactl attest 2>&1)"
end=$((SECONDS + 20))
while (($(listening | grep -c '^192\.0\.2\.10:90') < ${#RELAYS[@]})) && ((SECONDS < end)); do sleep 0.1; done
for i in "${!RELAYS[@]}"; do
        for a in "192.0.2.10:$((9001 + i))" "[2001:db8::1$((i % 2))]:$((9001 + i))" "127.0.0.1:$((9035 + i))"; do
                listening | grep -qxF "$a" ||
                        fail "${RELAYS[$i]}: nothing listens on $a: $(listening | tr '\n' ' '; ct_journal "patela-tor@${RELAYS[$i]}.service" 20; ct systemctl status --no-pager "patela-tor@${RELAYS[$i]}.service" | tail -15)"
        done
done
units=()
for r in "${RELAYS[@]}"; do units+=("patela-tor@$r.service"); done
[[ $(ct systemctl is-active "${units[@]}" | sort -u) == active ]] || fail "an instance stopped"
echo "# listening: $(listening | tr '\n' ' ')"
ps_cli torrc clear DisableNetwork node --id "$fp" >/dev/null
ct patelactl attest >/dev/null || fail "patelactl attest: $(ct patelactl attest 2>&1)"
end=$((SECONDS + 20))
while [[ -n $(listening | grep '^192\.0\.2\.10:') ]] && ((SECONDS < end)); do sleep 0.1; done
[[ -z $(listening | grep '^192\.0\.2\.10:') ]] || fail "the ORPorts still listen with DisableNetwork 1"
pass "with the network on, all ${#RELAYS[@]} tor bind 192.0.2.10:9001-9008, their IPv6 ORPorts and 127.0.0.1:9035-9042; off again"

# --- configd's privileges (issue 11, item 10) ---------------------------------------------------------------
# configd parses what comes from the network: it runs as a user of its own, without capabilities, and may
# manage the relays' units and nothing else (its polkit rule), reach attestd and keyd (their sockets' group)
# but not have keys written to itself or deleted.
cpid=$(ct systemctl show -P MainPID patela-configd.service)
cuid=$(ct id -u patela-configd 2>/dev/null) || fail "no user patela-configd on the node"
[[ $(ct ps -o uid= -p "$cpid" | tr -d ' ') == "$cuid" && $cuid != 0 ]] ||
        fail "patela-configd runs as uid $(ct ps -o uid= -p "$cpid"), not as patela-configd ($cuid)"
caps=$(ct awk '/^Cap(Eff|Prm|Bnd|Amb):/ { printf "%s", $2 }' "/proc/$cpid/status")
[[ $caps =~ ^0+$ ]] || fail "patela-configd has capabilities: $(ct grep ^Cap "/proc/$cpid/status")"
pass "patela-configd runs as its own user (uid $cuid) with no capability, and the relays above came up"

# as_configd CMD…: CMD as configd's user and group, as configd calls systemd: no interactive authorization.
as_configd() {
        ct setpriv --reuid=patela-configd --regid=patela-configd --init-groups -- "$@"
}
# manager METHOD SIGNATURE ARGS…: a call of systemd's Manager interface as configd.
manager() {
        as_configd busctl --allow-interactive-authorization=no call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
                org.freedesktop.systemd1.Manager "$@"
}
# allowed WHAT METHOD ARGS…, refused WHAT METHOD ARGS…: refused means systemd's "Access denied" (polkit's
# answer), not an error of another kind.
allowed() {
        local what=$1
        shift
        manager "$@" >"$T/bus.out" 2>&1 || fail "configd's user may not $what: $(cat "$T/bus.out")"
}
refused() {
        local what=$1
        shift
        manager "$@" >"$T/bus.out" 2>&1 && fail "configd's user may $what"
        grep -q "Access denied" "$T/bus.out" || fail "$what: not refused by polkit but: $(cat "$T/bus.out")"
}
pid_a=$(ct systemctl show -P MainPID patela-tor@exitA.service)
allowed "start a relay's unit" StartUnit ss patela-tor@probe.service replace
allowed "stop a relay's unit" StopUnit ss patela-tor@probe.service replace
allowed "restart a relay's unit" RestartUnit ss patela-tor@probe.service replace
allowed "stop a relay's unit again" StopUnit ss patela-tor@probe.service replace
allowed "signal a relay's tor" KillUnit ssi patela-tor@exitA.service main 18
allowed "reload a relay's tor" ReloadOrRestartUnit ss patela-tor@exitA.service replace
allowed "reload the resolver" ReloadOrRestartUnit ss patela-resolver.service replace
as_configd busctl --allow-interactive-authorization=no call org.freedesktop.network1 /org/freedesktop/network1 \
        org.freedesktop.network1.Manager Reload >"$T/bus.out" 2>&1 ||
        fail "configd's user may not reload systemd-networkd: $(cat "$T/bus.out")"
pass "as patela-configd: StartUnit, RestartUnit and StopUnit of patela-tor@probe.service, KillUnit and ReloadOrRestartUnit of patela-tor@exitA.service, ReloadOrRestartUnit of patela-resolver.service, networkd's Reload: allowed"

refused "start another unit" StartUnit ss patela-probe.service replace
[[ $(ct systemctl is-active patela-probe.service) == inactive ]] || fail "patela-probe.service started"
ct systemctl start patela-probe.service
refused "stop another unit" StopUnit ss patela-probe.service replace
refused "signal another unit" KillUnit ssi patela-probe.service all 15
refused "stop systemd-networkd" StopUnit ss systemd-networkd.service replace
refused "stop the resolver" StopUnit ss patela-resolver.service replace
refused "restart the resolver" RestartUnit ss patela-resolver.service replace
[[ $(ct systemctl is-active patela-resolver.service) == active ]] || fail "a refused call stopped the resolver"
[[ $(ct systemctl is-active patela-probe.service systemd-networkd.service | sort -u) == active ]] ||
        fail "a refused stop stopped something"
refused "restart another unit" RestartUnit ss patela-probe.service replace
refused "set a relay's properties" SetUnitProperties sba\(sv\) patela-tor@exitA.service true 1 CPUWeight t 1
refused "start an instance whose name is no nickname" StartUnit ss patela-tor@ex-it.service replace
[[ $(ct systemctl show -P MainPID patela-tor@exitA.service) == "$pid_a" ]] || fail "exitA's tor was restarted"
# A transient unit named like a relay would run whatever it is given, as root: refused (the template's
# instances exist as soon as they are named).
manager StartTransientUnit 'ssa(sv)a(sa(sv))' patela-tor@evil.service replace \
        1 ExecStart 'a(sasb)' 1 /usr/bin/touch 2 /usr/bin/touch /run/patela-evil false 0 >"$T/bus.out" 2>&1 &&
        fail "configd's user may start a transient patela-tor@ unit"
ct test -e /run/patela-evil && fail "a transient unit ran"
echo "# StartTransientUnit patela-tor@evil.service as patela-configd: $(tr '\n' ' ' <"$T/bus.out")"
# Its user cannot read the relays' keys, nor have keyd write them to itself, nor delete them.
as_configd cat /run/patela/keys/exitA/secret_id_key >/dev/null 2>&1 && fail "configd's user reads exitA's key file"
as_configd varlinkctl call /run/patela/io.patela.Keys io.patela.Keys.EnsureRelays \
        '{"relays":[{"name":"exitA","user":"patela-configd"}]}' >"$T/keys.out" 2>&1 &&
        fail "keyd wrote exitA's keys for configd's user"
grep -q PermissionDenied "$T/keys.out" || fail "EnsureRelays for configd's own user: $(cat "$T/keys.out")"
as_configd varlinkctl call /run/patela/io.patela.Keys io.patela.Keys.RemoveRelay '{"name":"exitA"}' >"$T/keys.out" 2>&1 &&
        fail "configd's user removed exitA's keys"
grep -q PermissionDenied "$T/keys.out" || fail "RemoveRelay as configd's user: $(cat "$T/keys.out")"
as_configd varlinkctl call /run/patela/io.patela.Keys io.patela.Keys.GetStatus '{}' >/dev/null ||
        fail "configd's user cannot call keyd"
for s in Attest Keys; do
        ct setpriv --reuid=nobody --regid=nogroup --clear-groups -- varlinkctl introspect "/run/patela/io.patela.$s" \
                >/dev/null 2>&1 && fail "user nobody reaches io.patela.$s"
done
pass "as patela-configd: another unit (start, stop, kill), systemd-networkd's stop, the resolver's stop or restart, a relay's restart or properties, a non-nickname instance, a transient patela-tor@ unit: refused; keyd refuses its own user as key owner and RemoveRelay; nobody else reaches attestd or keyd"

# A relay taken away and given back: its instance stops and its files go, the addresses it shares stay; back, the
# same identity.
ps_cli node relays "$fp" 7 >/dev/null
ct patelactl attest >/dev/null || fail "patelactl attest: $(ct patelactl attest 2>&1)"
end=$((SECONDS + 20))
while [[ $(ct systemctl is-active patela-tor@exitH.service) != inactive ]] && ((SECONDS < end)); do sleep 0.1; done
[[ $(ct systemctl is-active patela-tor@exitH.service) == inactive ]] || fail "exitH's instance still runs"
ct test -e /run/patela/torrc/exitH.torrc && fail "exitH's torrc left"
others=()
for r in "${RELAYS[@]:0:7}"; do others+=("patela-tor@$r.service"); done
[[ $(ct systemctl is-active "${others[@]}" | sort -u) == active ]] || fail "another relay stopped with exitH"
sleep 1 # networkd's reload
addrs=$(ip -br addr show patela0)
for a in 192.0.2.10/32 2001:db8::11/64; do
        grep -qF "$a" <<<"$addrs" || fail "$a, shared with exitH, went with it: $addrs"
done
[[ -z $(routes_ok) ]] || fail "rules after exitH went: $(routes_ok)"
ps_cli node relays "$fp" 8 >/dev/null
ct patelactl attest >/dev/null || fail "patelactl attest: $(ct patelactl attest 2>&1)"
wait_units active 30
[[ $(fingerprints | grep exitH) == "$(grep exitH "$T/fp-1.txt")" ]] || fail "exitH came back with another identity"
pass "relay count 8 → 7: exitH's instance stopped, its torrc removed, the others and the addresses they share untouched; → 8: exitH back with the same identity"

# The family rotated: the new key next to the old, then the old retired. Each reaches the node at its next session
# check; the instances restart with the new key files (a reload would not copy them).
PIDS_BEFORE=$(main_pids)
FAMILY2=$(ps_cli family rotate 2>/dev/null | awk '$1 == "FamilyId" { print $2 }')
[[ $FAMILY2 =~ ^[A-Za-z0-9+/]{43}$ ]] || fail "family rotate: '$FAMILY2'"
wait_family 30 "$FAMILY1" "$FAMILY2"
PIDS_BEFORE=$(main_pids)
ps_cli family retire >/dev/null 2>&1 || fail "family retire"
wait_family 30 "$FAMILY2"
PIDS_BEFORE=
for r in "${RELAYS[@]}"; do
        ct journalctl --no-pager -q -u "patela-tor@$r.service" | grep -E "unexpected FamilyID|No key was found" &&
                fail "$r: tor complains about its family keys"
done
[[ $(fingerprints) == "$(cat "$T/fp-1.txt")" ]] || fail "a relay's identity changed with the family"
pass "family rotate: every instance restarted with FamilyId $FAMILY1 and $FAMILY2 and both keys; family retire: restarted with $FAMILY2 alone, the old key gone from its KeyDirectory; identities unchanged"

# tor's state (issue 12, item 5): a bandwidth history planted into exitA's DataDirectory as its user's, then tor
# killed: the restart keeps the DataDirectory, and tor loads the history. At the poweroff below tor writes it back,
# its ExecStopPost has keyd seal it, and configd saves every relay's state at the server when it stops, after them.
dd=/run/patela-tor/exitA/data
owner=$(ct stat -c %u:%g "$dd")
ends=$(date -u -d '-1 day' '+%Y-%m-%d %H:%M:%S')
printf '%s\n' "BWHistoryReadEnds $ends" "BWHistoryReadInterval 86400" "BWHistoryReadValues 1234567000,2345678000" \
        "BWHistoryReadMaxima 7654321,8765432" "BWHistoryWriteEnds $ends" "BWHistoryWriteInterval 86400" \
        "BWHistoryWriteValues 3456789000,4567890000" "BWHistoryWriteMaxima 7654321,8765432" >"$T/planted-state"
ct sh -c "cat >$dd/state.new && chown $owner $dd/state.new && chmod 0600 $dd/state.new && mv $dd/state.new $dd/state" \
        <"$T/planted-state" || fail "cannot plant exitA's state"
pid=$(ct systemctl show -P MainPID patela-tor@exitA.service)
ct systemctl kill --signal=SIGKILL patela-tor@exitA.service
end=$((SECONDS + 30))
until [[ $(ct systemctl show -P MainPID patela-tor@exitA.service) != "$pid" &&
         $(ct systemctl is-active patela-tor@exitA.service) == active ]] || ((SECONDS > end)); do
        sleep 0.2
done
[[ $(ct systemctl is-active patela-tor@exitA.service) == active ]] || fail "exitA did not come back: $(ct_journal patela-tor@exitA.service)"
ct grep -q "BWHistoryReadValues 1234567000" "$dd/state" || fail "exitA's DataDirectory lost the planted state on the restart"
ct journalctl --no-pager -q -u patela-tor@exitA.service >"$T/exitA-journal.txt"
grep -i -E "state file.*(corrupt|unparseable|not.*parse)|Unable to parse state" "$T/exitA-journal.txt" &&
        fail "tor refused the planted state"
pass "exitA's tor killed with a bandwidth history planted in its DataDirectory: restarted on it (the DataDirectory kept)"

# RSS of each daemon: attestd and keyd exit when idle, so each is called first.
ct patelactl identity >/dev/null
ct patelactl keys list >/dev/null
for u in patela-configd patela-attestd patela-keyd; do
        pid=$(ct systemctl show -P MainPID "$u.service")
        [[ $pid != 0 ]] || { echo "# $u: not running"; continue; }
        echo "# RSS $u: $(ct awk '/^VmHWM/ { print $2 " " $3 " peak" } /^VmRSS/ { print $2 " " $3 }' "/proc/$pid/status" | tr '\n' ' ') (sanitized build)"
done

# keyd (idle timeout 3 s here) stays while relay instances exist: at the poweroff their stops need it, and systemd
# starts no service for its socket while the system shuts down.
sleep 4
[[ $(ct systemctl is-active patela-keyd.service) == active ]] || fail "keyd exited while relays run"
ct journalctl --no-pager -q -o cat -u patela-keyd.service >"$T/keyd-journal.txt"
grep -q "a relay instance exists" "$T/keyd-journal.txt" || fail "keyd: $(tail -3 "$T/keyd-journal.txt")"
pass "keyd idle for more than its idle timeout (3 s here) stays while relay instances exist"

# --- boot 2: a fresh root, the same TPM ---------------------------------------------------------------------
ct_poweroff
[[ -z $(find "$CT/upper" \( -name 'secret_id_key' -o -name 'ed25519_master_id_secret_key' -o -name '*.secret_family_key' \) -print -quit) ]] ||
        fail "a key file on the node's disk: $(find "$CT/upper" -name '*key*')"
seed=$(tail -c 64 "$T/fp/exitA/ed25519_master_id_secret_key" | xxd -p | tr -d '\n' | head -c 64)
# Compared in hex: grep -F would take a 0x0a among the bytes as a separator of several short patterns.
found=$(find "$CT/upper" -type f -exec sh -c 'xxd -p "$1" | tr -d "\n" | grep -q "$2"' _ {} "$seed" \; -print 2>/dev/null)
[[ -z $found ]] || fail "exitA's secret key bytes on the node's disk: $found"
# Saved at the poweroff: every relay's state, as ciphertext only.
[[ $(db_count relay_states) == 8 ]] ||
        fail "the server holds $(db_count relay_states) relay states after the poweroff, not 8: $(grep -i 'tor state' "$T/server.log" | tail -3)
$(grep -E 'patela-(configd|keyd)|SealStates|tor state|Stopp' "$T/nspawn.log" | tail -60)"
sqlite3 "$DB" "PRAGMA wal_checkpoint(FULL)" >/dev/null
for f in "$DB"*; do
        grep -a -q -e BWHistory -e 1234567000 "$f" && fail "plaintext of a tor state in $f"
done
[[ -z $(find "$CT/upper" -path '*patela-tor*' -name state -print -quit) ]] || fail "a tor state on the node's disk"
pass "poweroff: the 8 relays' tor state sealed on their way out and saved at the server by configd, ciphertext only (no BWHistory line in the database)"
rows=$(ps_cli --json list nodes | jq length)
swtpm_power_cycle
boot_image "$REF"
ct_event_logs
ct_boot
tpm2=$(swtpm_commands)
start=$(date +%s%N)
ct systemctl start patela-client.target || fail "systemctl start patela-client.target: $(ct_journal)"
wait_units active 30
ms=$((($(date +%s%N) - start) / 1000000))
tpm3=$(swtpm_commands)
fingerprints >"$T/fp-2.txt"
diff "$T/fp-1.txt" "$T/fp-2.txt" >&2 || fail "the relays' identities changed across the reboot"
[[ $(ps_cli --json list nodes | jq length) == "$rows" ]] || fail "a new node row: $(ps_cli --json list nodes)"
ct test -f /var/lib/systemd/pcrlock.json || fail "pcrlock.json not restored"
[[ $(ct systemctl show -P ActiveState patela-pcrlock-restore.service) == active ]] ||
        fail "patela-pcrlock-restore.service did not run: $(ct_journal patela-pcrlock-restore.service)"
pass "boot 2 (fresh root, same TPM): all instances active ${ms} ms after systemctl start patela-client.target, same fingerprints, no new node row, pcrlock.json restored from TPM NV"
# The state came back before tor started: exitA's history as tor wrote it at the poweroff (tor keeps its values to
# the KiB), every relay's BWHistory lines.
vals=$(ct awk '$1 == "BWHistoryReadValues" { print $2 }' /run/patela-tor/exitA/data/state)
first=${vals%%,*}
[[ $first =~ ^[0-9]+$ ]] && ((first >= 1234000000 && first <= 1234567000)) ||
        fail "exitA's bandwidth history did not survive the reboot: BWHistoryReadValues '$vals'"
for r in "${RELAYS[@]}"; do
        ct grep -q '^BWHistoryReadEnds ' "/run/patela-tor/$r/data/state" || fail "$r: no BWHistory lines after the reboot"
done
ct journalctl --no-pager -q -o cat -u patela-configd.service >"$T/configd-journal.txt"
fetch_ms=$(grep -o "Fetched the sealed tor state of 8 relays ([0-9.]* ms)" "$T/configd-journal.txt" | grep -o '[0-9.]* ms') ||
        fail "configd: $(grep -i 'tor state' "$T/configd-journal.txt")"
pass "boot 2 (fresh root): every relay's BWHistory lines back in its DataDirectory before tor started, exitA's planted history kept (BWHistoryReadValues $vals); the fetch took ${fetch_ms}"
family_in_place "$FAMILY2" || wait_family 10 "$FAMILY2"
pass "boot 2: the family as before the reboot, FamilyId $FAMILY2 and its key in every instance"
echo "# boot 2 timeline (systemd's timestamps, from the first patela unit's start):"
units=(patela-pcrlock-restore.service patela-configd.service patela-attestd.service patela-keyd.service
       patela-resolver.service)
for r in "${RELAYS[@]}"; do units+=("patela-tor@$r.service"); done
timeline "${units[@]}"
echo "# boot 2: boot-to-relays ${BOOT_MS} ms, from the first patela unit's start to the last relay active (systemd's timestamps)"
# The resolver starts alongside, ordered before nothing: what it costs the boot is CPU time.
# (No CPU accounting in the container: unbound's own user and system time, from its /proc/PID/stat.)
rpid=$(ct systemctl show -P MainPID patela-resolver.service)
ticks=$(ct awk '{ print $14 + $15 }' "/proc/$rpid/stat" 2>/dev/null || echo "")
[[ $ticks =~ ^[0-9]+$ ]] &&
        echo "# boot 2: patela-resolver.service (unbound) used $((ticks * 1000 / $(getconf CLK_TCK))) ms of CPU so far"
pass "nothing of the keys on the node's disk (overlay upper layer): no key file, not exitA's secret key bytes"
echo "# TPM commands at swtpm: boot 1 from start to all active $((tpm1 - tpm0)) (enrolment, pending polls, first seal); boot 2 $((tpm3 - tpm2))"
# Per daemon, as each counts them (debug level): the restore at exit, attestd and keyd per method.
for u in patela-pcrlock-restore patela-attestd patela-keyd; do
        ct journalctl --no-pager -q -o cat -u "$u.service" | grep 'TPM commands' | sed "s/^/#   $u: /" || true
done
# Issue 11: a warm boot of an enabled node costs at most 30 TPM commands (28 when written, with 3 relays; 29 with
# these 8 relays, keyd 14, measured 2026-12-04):
# the restore 6 (the pcrlock copy: 2 indices, the absent other area, GetCapability), attestd 9 (EK NV
# indices listed, EK ReadPublic, AK CreatePrimary; ActivateCredential in one salted policy session: 3;
# PCR_Read × 2 + Quote), keyd 13 (the KEK read with the store's head: 2; unseal: 8; GetCapability; the one
# slot the head names: 2). Checking that keyd's indices are written only through the policy costs none.
(((tpm3 - tpm2) <= 30)) || fail "boot 2 took $((tpm3 - tpm2)) TPM commands, more than 30"
pass "boot 2: $((tpm3 - tpm2)) TPM commands at swtpm (at most 30)"

# --- disable: stopped at the next re-attestation -------------------------------------------------------------
ps_cli node disable "$fp" >/dev/null
wait_units inactive 20
wait_phase refused 10
reason=$(jq -r '.config.lastError // empty' "$T/ctl-status.json")
[[ -n $reason ]] || fail "no reason in patelactl status: $(cat "$T/ctl-status.json")"
ct patelactl status >"$T/ctl-status.txt" 2>&1 || true
grep -qF "$reason" "$T/ctl-status.txt" || fail "patelactl status does not say why: $(cat "$T/ctl-status.txt")"
[[ -z $(ct find /run/patela/torrc -name '*.torrc') ]] || fail "torrc files left: $(ct ls /run/patela/torrc)"
left=$(find "/proc/$CT_PID/root/run/patela-tor/" "/proc/$CT_PID/root/run/private/" -type f 2>/dev/null || true)
[[ -z $left ]] || fail "files of the instances left: $left"
end=$((SECONDS + 10))
while [[ -n $(ip rule | grep 728352; ip -6 rule | grep 728352; ip -br addr show patela0 | grep -o '192.0.2.1[0-2]') ]] &&
        ((SECONDS < end)); do
        sleep 0.1
done
[[ -z $(ip rule | grep 728352; ip -br addr show patela0 | grep -o '192.0.2.1[0-2]') ]] ||
        fail "addresses or rules left: $(ip -br addr show patela0; ip rule)"
pass "node disabled: every instance stopped at the next re-attestation, its files, addresses and rules gone; patelactl status: $reason"

# --- server down at boot --------------------------------------------------------------------------------------
ct_poweroff
server_stop
swtpm_power_cycle
boot_image "$REF"
ct_event_logs
ct_boot
ct systemctl start patela-client.target || fail "systemctl start patela-client.target: $(ct_journal)"
wait_phase unreachable 30
sleep 3
ctl_status >/dev/null
attempts=$(jq -r '.config.failedAttempts' "$T/ctl-status.json")
((attempts >= 2)) || fail "no retries: $(cat "$T/ctl-status.json")"
err=$(jq -r '.config.lastError' "$T/ctl-status.json")
grep -q "Couldn't connect\|connect" <<<"$err" || fail "unclear error: $err"
[[ $(ct systemctl show -P NRestarts patela-configd.service) == 0 &&
   $(ct systemctl show -P ActiveState patela-configd.service) != failed ]] || fail "patela-configd crashed or restarted"
pass "server unreachable at boot: phase unreachable, $attempts attempts, no crash: $err"
