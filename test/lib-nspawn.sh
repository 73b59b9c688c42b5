# SPDX-License-Identifier: LGPL-2.1-or-later
# A patela node as a systemd-nspawn container with systemd as PID 1. Source after test/lib.sh,
# test/lib-keyd.sh, test/integration/lib-server.sh and (for node_tpm) lib-uki.sh, in a network namespace of
# the caller's own (ns_setup) so that the container's systemd-networkd and tor see nothing but it.
#
# The container's root is an overlay: the node's own files ($T/node: configuration, the units' drop-ins
# pointing attestd and keyd at swtpm) over patela as installed from the build ($T/dest) over this system's
# root (the Debian 13 development root, or the host's). The upper layer plays the node's disk: a fresh one
# at every boot, so a boot is stateless except for the TPM (swtpm, whose sockets are bound in).

CT=$T/ct
CT_PID=
NSPAWN_PID=
SWTPM_DIR=$T/swtpm-sockets
CT_TCTI=swtpm:path=/run/swtpm/tpm.sock

# ns_setup: in the network namespace of the test's own (the test re-executes itself under
# `unshare --net --mount` first, see test-node-nspawn.sh): lo up and a veth pair patela0/patela0p, patela0
# being the node's uplink, and another pair patela1/patela1p. Mounts made later (the overlay) vanish with the mount namespace.
ns_setup() {
        [[ -n ${PATELA_NS_ENTERED:-} ]] || fail "not in the test's own namespaces"
        ip link set lo up
        ip link add patela0 type veth peer name patela0p
        ip link set patela0p up
        ip link set patela0 up
        # A second Ethernet link the uplink's .network file may match too ($CT_UPLINK_NAMES): the server's Interface
        # setting narrows it to patela0.
        ip link add patela1 type veth peer name patela1p
        ip link set patela1p up
        ip link set patela1 up
}

# node_files: the node's own layer: patela.conf (TPMDevice= is swtpm's socket; the server URL and CA come
# as credentials), the uplink's .network file (matching $CT_UPLINK_NAMES, default patela0, with the node's own
# address $CT_UPLINK_ADDRESS, if set), a drop-in giving keyd the PCRs the synthetic boot measures and one
# giving attestd the boot's event logs (ct_event_logs), sanitizer options for the sanitized build, and the
# development root's own services that a relay node does not run masked.
node_files() {
        local n=$T/node u
        mkdir -p "$n/etc/patela" "$n/etc/systemd/network" "$n/etc/systemd/system.conf.d" \
                "$n/etc/systemd/system/multi-user.target.wants" "$n/etc/systemd/journald.conf.d"
        # A stateless node keeps its journal in RAM.
        printf '[Journal]\nStorage=volatile\n' >"$n/etc/systemd/journald.conf.d/50-volatile.conf"
        cat >"$n/etc/patela/patela.conf" <<EOF
[Config]
# Read by patela-attestd and patela-keyd (and checked by patela-configd).
TPMDevice=$CT_TCTI
RetryInterval=500ms
RetryIntervalMax=2s
ReattestInterval=${CT_REATTEST:-1h}
ConnectTimeout=2s
Timeout=10s
EOF
        cat >"$n/etc/systemd/network/80-patela-uplink.network" <<EOF
[Match]
Name=${CT_UPLINK_NAMES:-patela0}

[Network]
LinkLocalAddressing=no
IPv6AcceptRA=no
${CT_UPLINK_ADDRESS:+Address=$CT_UPLINK_ADDRESS}
EOF
        cat >"$n/etc/systemd/system.conf.d/50-sanitizers.conf" <<'EOF'
[Manager]
# A sanitized build: leaks are checked by the unit tests; under SystemCallFilter= LeakSanitizer cannot
# ptrace and setrlimit(RLIMIT_CORE) is refused.
DefaultEnvironment=ASAN_OPTIONS=detect_leaks=0:disable_coredump=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
EOF
        for u in patela-attestd.service patela-keyd.service patela-pcrlock-restore.service; do
                mkdir -p "$n/etc/systemd/system/$u.d"
                printf '[Service]\nEnvironment=PATELA_LOG_LEVEL=debug\n' >"$n/etc/systemd/system/$u.d/50-swtpm.conf"
        done
        # A short idle timeout: keyd must stay while relay instances exist (it seals their tor state when they stop).
        printf '[Service]\nExecStart=\nExecStart=%s/patela-keyd --required-pcrs=%s --idle-timeout=3s\n' "$CT_LIBEXECDIR" \
                "$PCRLOCK_MASK" >>"$n/etc/systemd/system/patela-keyd.service.d/50-swtpm.conf"
        # The boot's event logs, where the test puts them (ct_event_logs), for the server's verifier.
        printf '[Service]\nExecStart=\nExecStart=%s/patela-attestd --firmware-log=/run/swtpm/firmware.evlog --measure-log=/run/swtpm/tpm2-measure.log\n' \
                "$CT_LIBEXECDIR" >>"$n/etc/systemd/system/patela-attestd.service.d/50-swtpm.conf"
        mkdir -p "$n/etc/systemd/system/patela-configd.service.d"
        printf '[Service]\nEnvironment=PATELA_LOG_LEVEL=debug\n' \
                >"$n/etc/systemd/system/patela-configd.service.d/50-debug.conf"
        # Debian's unbound.service and its resolvconf hook are masked as in the image: the node's resolver is
        # patela-resolver.service, patela's own configuration (patela-resolver(8)).
        for u in tor.service tor@default.service pesign.service e2scrub_reap.service nsd.service prometheus.service \
                unbound.service unbound-resolvconf.service; do
                ln -sf /dev/null "$n/etc/systemd/system/$u"
        done
        ln -sf /usr/lib/systemd/system/systemd-networkd.service \
                "$n/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
}

# ct_event_logs: the last boot's firmware log and systemd's measurement log ($T/firmware.evlog and
# $T/tpm2-measure.log, as boot_image of test/integration/lib-uki.sh writes them) where the container's attestd
# reads them: the swtpm socket directory, bound in at /run/swtpm.
ct_event_logs() {
        cp "$T/firmware.evlog" "$T/tpm2-measure.log" "$SWTPM_DIR/"
        chmod 0644 "$SWTPM_DIR/firmware.evlog" "$SWTPM_DIR/tpm2-measure.log"
}

# node_tpm REFERENCE: the node's TPM (swtpm) booted synthetically into the image of REFERENCE (its
# patela.reference.json), both event logs where the container's attestd reads them, and the pcrlock policy of that
# boot in the node's first root ($T/extra: ct_boot var/lib/systemd/pcrlock.json puts it in place).
node_tpm() {
        swtpm_start
        boot_image "$1"
        ct_event_logs
        policy_for_image "$1"
        # swtpm has no resource manager and three object slots; attestd keeps EK and AK loaded.
        tpm2_createek -c 0x81010001 -G rsa -u "$T/ek.pub" >/dev/null || fail "tpm2_createek failed"
        mkdir -p "$T/extra/var/lib/systemd"
        cp "$POLICY" "$T/extra/var/lib/systemd/pcrlock.json"
}

# node_install: patela from the build directory, as meson installs it.
node_install() {
        meson install -C "$PATELA_BUILD_DIR" --no-rebuild --quiet --destdir "$T/dest" >"$T/install.log" 2>&1 ||
                fail "meson install failed: $(tail -5 "$T/install.log")"
        CT_LIBEXECDIR=$(meson introspect "$PATELA_BUILD_DIR" --buildoptions |
                jq -r '(map({(.name): .value}) | add) as $o |
                       if ($o.libexecdir | startswith("/")) then $o.libexecdir else $o.prefix + "/" + $o.libexecdir end')
        [[ -x $T/dest$CT_LIBEXECDIR/patela-keyd ]] || fail "patela-keyd not installed in $CT_LIBEXECDIR"
}

# ct_boot [FILE…]: boots the container on a fresh upper layer holding FILE… (paths relative to $T/extra);
# returns when systemd says the boot is done.
ct_boot() {
        local f
        ct_poweroff
        rm -rf "$CT"
        mkdir -p "$CT/upper" "$CT/work" "$CT/root"
        mount -t overlay overlay -o "lowerdir=$T/node:$T/dest:/,upperdir=$CT/upper,workdir=$CT/work" "$CT/root" ||
                fail "cannot mount the container's root"
        for f in "$@"; do
                install -D -m 0644 "$T/extra/$f" "$CT/root/$f"
        done
        : >"$T/nspawn.log"
        # The fleet's transparency log key, pinned as patela.log-key when the test made one (LOG_KEY).
        local creds=()
        [[ -n ${LOG_KEY:-} ]] && creds+=(--set-credential="patela.log-key:$LOG_KEY")
        systemd-nspawn --quiet --register=no --keep-unit --link-journal=no --directory="$CT/root" \
                --machine=patela-node --capability=CAP_NET_ADMIN --bind="$SWTPM_DIR:/run/swtpm" \
                --set-credential="patela.server-url:$URL" --load-credential="patela.ca:$T/ca/ca.crt" "${creds[@]}" \
                --boot systemd.log_target=console >>"$T/nspawn.log" 2>&1 &
        NSPAWN_PID=$!
        PIDS+=("$NSPAWN_PID")
        ct_wait_booted
}

# ct_wait_booted: after systemd-nspawn --boot was started in the background (NSPAWN_PID, its output in
# $T/nspawn.log): the container's systemd in CT_PID, and the boot done (running or degraded).
ct_wait_booted() {
        local i state
        for ((i = 0; i < 200; i++)); do
                CT_PID=$(ps -o pid= --ppid "$NSPAWN_PID" 2>/dev/null | head -1 | tr -d ' ' || true)
                [[ -n $CT_PID && $(ps -o comm= -p "$CT_PID" 2>/dev/null) == systemd ]] && break
                kill -0 "$NSPAWN_PID" 2>/dev/null || fail "systemd-nspawn exited: $(tail -20 "$T/nspawn.log")"
                CT_PID=
                sleep 0.05
        done
        [[ -n $CT_PID ]] || fail "no systemd in the container"
        for ((i = 0; i < 200; i++)); do
                [[ -S /proc/$CT_PID/root/run/systemd/private ]] && break
                sleep 0.05
        done
        state=$(timeout 60 nsenter -t "$CT_PID" -m -u -i -p -C -r -w -- systemctl is-system-running --wait 2>&1) || true
        [[ $state == running || $state == degraded ]] || fail "container boot: $state: $(tail -20 "$T/nspawn.log")"
        if [[ $state == degraded ]]; then
                echo "# degraded: $(ct systemctl list-units --failed --no-legend --plain | tr '\n' ' ')" >&2
        fi
}

# ct CMD…: runs CMD in the container (its namespaces and root), with a clean environment.
ct() {
        nsenter -t "$CT_PID" -m -u -i -p -C -r -w -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$@"
}

# ct_poweroff: a clean shutdown of the container, if one runs.
ct_poweroff() {
        [[ -n $NSPAWN_PID ]] || return 0
        if kill -0 "$NSPAWN_PID" 2>/dev/null; then
                # SIGRTMIN+4 to systemd: start poweroff.target (no bus, no logind involved).
                kill -s RTMIN+4 "$CT_PID" 2>/dev/null || kill -TERM "$NSPAWN_PID" 2>/dev/null || true
                timeout 60 tail --pid="$NSPAWN_PID" -f /dev/null || kill -KILL "$NSPAWN_PID" 2>/dev/null || true
        fi
        wait "$NSPAWN_PID" 2>/dev/null || true
        NSPAWN_PID=
        CT_PID=
        umount "$CT/root" 2>/dev/null || true
}

# ct_journal [UNIT]: the container's journal (of UNIT), for failure messages.
ct_journal() {
        ct journalctl --no-pager -q ${1:+-u "$1"} | tail -n "${2:-30}"
}

# swtpm_commands: TPM commands swtpm has executed so far (needs SWTPM_LOG_LEVEL=20).
swtpm_commands() {
        grep -c ' SWTPM_IO_Read: length' "$T/swtpm-tpm.log" || true
}

# timeline UNIT...: each unit's start and active moments in ms after the first of them started, by systemd's
# own monotonic timestamps (no polling in them), printed unless TIMELINE_QUIET=1; the last relay's active
# moment in BOOT_MS, the first relay's start in TOR_START_MS (what came before it is patela's).
timeline() {
        local t0=0 u k v start active last=0 first=0
        declare -A s a
        for u in "$@"; do
                # By name: systemctl prints properties in its own order, and a read that meets the end of its
                # input without a newline fails (which ended the test under set -e).
                start=0 active=0
                while IFS='=' read -r k v; do
                        case $k in
                        InactiveExitTimestampMonotonic) start=$v ;;
                        ActiveEnterTimestampMonotonic) active=$v ;;
                        esac
                done < <(ct systemctl show -p InactiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic "$u")
                s[$u]=${start:-0} a[$u]=${active:-0}
                ((s[$u] > 0 && (t0 == 0 || s[$u] < t0))) && t0=${s[$u]}
        done
        for u in "$@"; do
                if ((s[$u] == 0)); then
                        echo "#   $u: not started"
                        continue
                fi
                [[ ${TIMELINE_QUIET:-0} == 1 ]] ||
                        echo "#   $u: start $(((s[$u] - t0) / 1000)) ms, active $(((a[$u] - t0) / 1000)) ms"
                if [[ $u == patela-tor@* ]]; then
                        ((a[$u] > last)) && last=${a[$u]}
                        ((first == 0 || s[$u] < first)) && first=${s[$u]}
                fi
        done
        BOOT_MS=$(((last - t0) / 1000))
        TOR_START_MS=$(((first - t0) / 1000))
}

# wait_units STATE SECONDS: every relay's instance (RELAYS) in STATE.
wait_units() {
        local want=$1 end=$((SECONDS + $2)) r ok
        while ((SECONDS < end)); do
                ok=1
                for r in "${RELAYS[@]}"; do
                        [[ $(ct systemctl is-active "patela-tor@$r.service" 2>/dev/null) == "$want" ]] || ok=0
                done
                ((ok)) && return 0
                sleep 0.1
        done
        for r in "${RELAYS[@]}"; do
                echo "# patela-tor@$r: $(ct systemctl is-active "patela-tor@$r.service" 2>&1)" >&2
        done
        ct_journal "" 60 >&2
        fail "not every relay's instance is $want after $2 s"
}

# dns_setup ADDRESS CHILD: the test's own DNS, for the node's resolver (patela-resolver.service): a root zone and
# the zone example. it delegates, each signed with keys made here (ldns-keygen, ldns-signzone; the root holds
# example.'s DS), served by two nsd on ADDRESS (the root) and CHILD (example.), both added to patela0p, the
# uplink's far side, in this test's network namespace. The root holds good. (203.0.113.7, correctly signed) and
# bad. (signed as 203.0.113.8, served as 203.0.113.66: bogus); example. holds www.deep.example. (203.0.113.9). The
# node's layer gets this root's trust anchor and hints in place of dns-root-data's (/usr/share/dns/root.key,
# root.hints), so the resolver runs patela's configuration unchanged. Call after node_files.
dns_setup() {
        local addr=$1 child=$2 d=$T/dns ksk zsk cksk czsk i
        mkdir -p "$d" "$T/node/usr/share/dns"
        ip addr add "$addr/24" dev patela0p
        ip addr add "$child/24" dev patela0p
        ksk=$(cd "$d" && ldns-keygen -a ECDSAP256SHA256 -k .) || fail "ldns-keygen (KSK)"
        zsk=$(cd "$d" && ldns-keygen -a ECDSAP256SHA256 .) || fail "ldns-keygen (ZSK)"
        cksk=$(cd "$d" && ldns-keygen -a ECDSAP256SHA256 -k example.) || fail "ldns-keygen (example. KSK)"
        czsk=$(cd "$d" && ldns-keygen -a ECDSAP256SHA256 example.) || fail "ldns-keygen (example. ZSK)"
        {
                printf 'example.\t3600\tIN\tSOA\tns.example. hostmaster.example. 1 3600 600 86400 300\n'
                printf 'example.\t3600\tIN\tNS\tns.example.\n'
                printf 'ns.example.\t3600\tIN\tA\t%s\n' "$child"
                printf 'www.deep.example.\t3600\tIN\tA\t203.0.113.9\n'
                cat "$d/$cksk.key" "$d/$czsk.key"
        } >"$d/example.zone"
        {
                printf '.\t3600\tIN\tSOA\tns.rootserver. hostmaster.rootserver. 1 3600 600 86400 300\n'
                printf '.\t3600\tIN\tNS\tns.rootserver.\n'
                printf 'ns.rootserver.\t3600\tIN\tA\t%s\n' "$addr"
                printf 'good.\t3600\tIN\tA\t203.0.113.7\n'
                printf 'bad.\t3600\tIN\tA\t203.0.113.8\n'
                printf 'example.\t3600\tIN\tNS\tns.example.\n'
                printf 'ns.example.\t3600\tIN\tA\t%s\n' "$child"
                cat "$d/$cksk.ds" "$d/$ksk.key" "$d/$zsk.key"
        } >"$d/root.zone"
        (cd "$d" && ldns-signzone root.zone "$zsk" "$ksk" && ldns-signzone example.zone "$czsk" "$cksk") \
                >"$T/ldns-signzone.log" 2>&1 || fail "ldns-signzone: $(cat "$T/ldns-signzone.log")"
        # bad.'s address changed after signing: its RRSIG no longer matches.
        sed -i -E 's/^(bad\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+)203\.0\.113\.8$/\1203.0.113.66/' \
                "$d/root.zone.signed"
        grep -Eq '^bad\..*A[[:space:]]+203\.0\.113\.66$' "$d/root.zone.signed" ||
                fail "bad. not altered: $(grep ^bad "$d/root.zone.signed")"
        for z in root:"$addr":. example:"$child":example.; do
                IFS=: read -r name ip origin <<<"$z"
                printf '%s\n' 'server:' "        ip-address: $ip" '        port: 53' '        server-count: 1' \
                        '        username: ""' '        chroot: ""' '        pidfile: ""' '        database: ""' \
                        "        zonesdir: \"$d\"" "        xfrdfile: \"$d/$name.xfrd.state\"" \
                        "        zonelistfile: \"$d/$name.zone.list\"" "        logfile: \"$T/nsd-$name.log\"" \
                        'remote-control:' '        control-enable: no' 'zone:' "        name: \"$origin\"" \
                        "        zonefile: \"$name.zone.signed\"" >"$d/nsd-$name.conf"
                nsd -d -c "$d/nsd-$name.conf" >>"$T/nsd-$name.log" 2>&1 &
                PIDS+=("$!")
        done
        # The resolver's root: this one.
        cp "$d/$ksk.key" "$T/node/usr/share/dns/root.key"
        printf '.\t3600000\tNS\tns.rootserver.\nns.rootserver.\t3600000\tA\t%s\n' "$addr" >"$T/node/usr/share/dns/root.hints"
        for ((i = 0; i < 100; i++)); do
                drill @"$addr" good. A 2>/dev/null | grep -Eq "^good\.[[:space:]].*203\.0\.113\.7$" &&
                        drill @"$child" www.deep.example. A 2>/dev/null | grep -Eq "203\.0\.113\.9$" && return 0
                sleep 0.1
        done
        fail "nsd does not answer on $addr and $child: $(tail -5 "$T"/nsd-*.log)"
}
