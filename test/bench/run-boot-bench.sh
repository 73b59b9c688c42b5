#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The node's boot-to-relays benchmark (meson test --benchmark node-boot), on the build it runs from (the bench
# build: release, no sanitizers — what the image ships). The node of test/integration/test-node-nspawn.sh:
# systemd-nspawn with systemd as PID 1, patela as installed from this build, swtpm, patela-server on the host
# side, in a network namespace of the benchmark's own; an enabled node with PATELA_BENCH_BOOT_RELAYS relays
# (8: all on one IPv4 address, the exit fleet's layout) and the fleet's family key.
#   1. Boot 1 enrols the node and creates its relay keys (not measured).
#   2. PATELA_BENCH_BOOT_ROUNDS warm boots (5): the container powered off, a fresh root (the upper layer: the
#      node's disk), the TPM power-cycled and the boot's measurements replayed, then `systemctl start
#      patela-client.target`: boot-to-relays is the first patela unit's start to the last relay's active
#      moment, by systemd's own monotonic timestamps; patela's share is the first patela unit's start to the
#      first relay's start (restore, attestd, keyd, configd: attestation, configuration, unsealing).
#   3. The baseline, in the same run and the same container: the same tor instances with the same torrc and
#      keys, started by root with one `systemctl start` of all of them, patela stopped: what starting the relays
#      costs without patela (systemd's sandbox, the key copy, tor's own start), PATELA_BENCH_BOOT_ROUNDS times.
#   4. The floor under that baseline: the same tor instances bare (bench-tor-start: no unit, no sandbox, no key
#      copy, started at once by root, a fresh DataDirectory each), from the first fork to the last READY=1.
# Reports the medians, the ratio boot-to-relays ÷ tor alone, and the goal: boot-to-relays ≤ 500 ms (issues 11
# and 12). PATELA_BENCH_STRICT=1 fails when the goal is missed; errors always fail. PATELA_BENCH_BOOT_JOURNAL=1
# prints the last warm boot's journal of the patela units (and exitA's) with systemd's monotonic timestamps.
# Prints one JSON line.
[[ -n ${PATELA_NS_ENTERED:-} ]] ||
        PATELA_NS_ENTERED=1 exec unshare --net --mount --propagation private -- "$BASH" "$0" "$@"
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
source "$PATELA_SOURCE_DIR/test/lib-keyd.sh"
source "$PATELA_SOURCE_DIR/test/lib-nspawn.sh"
source "$PATELA_SOURCE_DIR/test/integration/lib-uki.sh"
ns_setup

N_RELAYS=${PATELA_BENCH_BOOT_RELAYS:-8}
ROUNDS=${PATELA_BENCH_BOOT_ROUNDS:-5}
GOAL_MS=500
[[ $N_RELAYS =~ ^[1-8]$ ]] || fail "PATELA_BENCH_BOOT_RELAYS: 1 to 8 (relays on one address)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || fail "PATELA_BENCH_BOOT_ROUNDS: a positive number"
ALL=(exitA exitB exitC exitD exitE exitF exitG exitH)
RELAYS=("${ALL[@]:0:N_RELAYS}")
FLEET_NAMES="${RELAYS[*]}"
FLEET_IPV4=192.0.2.10
FLEET_IPV6="2001:db8::10 2001:db8::11"

ct_cleanup() {
        ct_poweroff
        cleanup
}
trap ct_cleanup EXIT

# median N…: the middle value (the lower of the two middle ones).
median() {
        printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

fleet_setup "DisableNetwork 1" "ShutdownWaitLength 2"
ps_cli node set IPv4Gateway 192.0.2.1 default >/dev/null
ps_cli node set IPv6Gateway 2001:db8::1 default >/dev/null
make_uki "$T/uki" 1.0
REF=$T/uki/patela.reference.json
ps_cli image add "$REF" >/dev/null 2>&1 || fail "image add"
ps_cli family init >/dev/null 2>&1 || fail "family init"
server_start

node_tpm "$REF"
node_install
node_files
# The bench build has no sanitizers and its daemons log at their default level, as on a real node.
rm -f "$T/node/etc/systemd/system.conf.d/50-sanitizers.conf"
for u in patela-attestd patela-keyd patela-pcrlock-restore patela-configd; do
        sed -i '/PATELA_LOG_LEVEL=debug/d' "$T/node/etc/systemd/system/$u.service.d/"*.conf 2>/dev/null || true
done
echo "# node: $N_RELAYS relays on $FLEET_IPV4, patela from $PATELA_BUILD_DIR, $(nproc) CPUs; $ROUNDS rounds each"

# --- boot 1: enrolment, relay keys ---------------------------------------------------------------------------
ct_boot var/lib/systemd/pcrlock.json
ct systemctl start patela-client.target || fail "systemctl start patela-client.target: $(ct_journal)"
fp=
for ((i = 0; i < 300; i++)); do
        fp=$(ps_cli --json list nodes | jq -r '.[0].fingerprint // empty')
        [[ -n $fp ]] && break
        sleep 0.1
done
[[ -n $fp ]] || fail "the node did not enrol: $(ct_journal patela-configd.service)"
ps_cli node relays "$fp" "$N_RELAYS" >/dev/null
ps_cli node enable "$fp" >/dev/null
wait_units active 60
pass "boot 1: node enrolled and enabled, $N_RELAYS relays active"

units=(patela-pcrlock-restore.service patela-configd.service patela-attestd.service patela-keyd.service)
for r in "${RELAYS[@]}"; do units+=("patela-tor@$r.service"); done

# --- warm boots ------------------------------------------------------------------------------------------------
boots=() shares=()
for ((round = 1; round <= ROUNDS; round++)); do
        ct_poweroff
        swtpm_power_cycle
        boot_image "$REF"
        ct_event_logs
        ct_boot
        ct systemctl start patela-client.target || fail "round $round: systemctl start patela-client.target: $(ct_journal)"
        wait_units active 60
        TIMELINE_QUIET=1
        ((round == ROUNDS)) && TIMELINE_QUIET=0 && echo "# round $round timeline (ms after the first patela unit's start):"
        timeline "${units[@]}"
        TIMELINE_QUIET=0
        boots+=("$BOOT_MS") shares+=("$TOR_START_MS")
        if ((round == ROUNDS)) && [[ ${PATELA_BENCH_BOOT_JOURNAL:-0} == 1 ]]; then
                ct journalctl --no-pager -q -o short-monotonic -b -u patela-pcrlock-restore.service -u patela-configd.service \
                        -u patela-attestd.service -u patela-keyd.service -u patela-tor@exitA.service -u 'patela-*.socket' |
                        sed 's/^/#   journal: /'
        fi
        echo "#   round $round: boot-to-relays $BOOT_MS ms, of which patela before the first relay's start $TOR_START_MS ms"
done
BOOT=$(median "${boots[@]}") SHARE=$(median "${shares[@]}")
pass "boot-to-relays, $N_RELAYS relays: median $BOOT ms over $ROUNDS warm boots (${boots[*]}); patela's share $SHARE ms"

# --- the baseline: the same instances without patela -----------------------------------------------------------
# The torrc files, tor.env and key directories patela-configd and patela-keyd made, set aside; patela stopped (its
# teardown removes them); put back; then all instances in one systemctl call, as root (no polkit), each round.
ct sh -ec 'rm -rf /run/bench-save; mkdir -p /run/bench-save; cp -a /run/patela/torrc /run/patela/keys /run/bench-save/'
ct systemctl stop patela-client.target patela-configd.service patela-keyd.service patela-attestd.service \
        patela-configd.socket patela-keyd.socket patela-attestd.socket
wait_units inactive 30
tor_units=()
for r in "${RELAYS[@]}"; do tor_units+=("patela-tor@$r.service"); done
alone=()
for ((round = 1; round <= ROUNDS; round++)); do
        ct systemctl stop "${tor_units[@]}"
        wait_units inactive 30
        ct sh -ec 'rm -rf /run/patela/torrc /run/patela/keys; mkdir -p /run/patela;
                   cp -a /run/bench-save/torrc /run/bench-save/keys /run/patela/'
        ct systemctl start "${tor_units[@]}" || fail "baseline: systemctl start: $(ct_journal)"
        wait_units active 60
        TIMELINE_QUIET=1
        timeline "${tor_units[@]}"
        TIMELINE_QUIET=0
        alone+=("$BOOT_MS")
        echo "#   round $round: $N_RELAYS tor instances alone, start to last active: $BOOT_MS ms"
done
ALONE=$(median "${alone[@]}")
pass "baseline: $N_RELAYS tor instances started by root without patela: median $ALONE ms (${alone[*]})"

# --- the floor: the same tor instances bare ----------------------------------------------------------------------
# No unit, no sandbox, no key copy, no patela: tor itself, one process per relay started at once (bench-tor-start),
# each with its torrc and keys and a fresh DataDirectory, from the first fork to the last READY=1. What the 2 cores
# cannot go below while each tor makes its link keys (and onion keys, its data being fresh) at start.
ct systemctl stop "${tor_units[@]}"
wait_units inactive 30
install -D -m 0755 "$PATELA_BUILD_DIR/test/bench-tor-start" "$CT/root/usr/local/bin/bench-tor-start"
ct sh -ec 'rm -rf /run/bench-bare; for f in /run/bench-save/torrc/*.torrc; do
                   n=${f##*/}; n=${n%.torrc}; mkdir -p -m 0700 /run/bench-bare/$n; cp "$f" /run/bench-bare/$n/torrc;
                   cp -a /run/bench-save/keys/$n /run/bench-bare/$n/keys; chown -R root:root /run/bench-bare/$n/keys;
                   chmod 0700 /run/bench-bare/$n/keys; done'
dirs=()
for r in "${RELAYS[@]}"; do dirs+=("/run/bench-bare/$r"); done
ct /usr/local/bin/bench-tor-start "$ROUNDS" "${dirs[@]}" >"$T/bare.out" 2>&1 ||
        fail "bench-tor-start: $(tail -5 "$T/bare.out"; ct sh -c "tail -5 ${dirs[0]}/tor.log")"
grep '^#' "$T/bare.out"
mapfile -t bare < <(tail -1 "$T/bare.out" | jq -r '.ms[]')
mapfile -t bare_cpu < <(tail -1 "$T/bare.out" | jq -r '.cpu_ms[]')
BARE=$(median "${bare[@]}") BARE_CPU=$(median "${bare_cpu[@]}")
pass "floor: $N_RELAYS tor instances bare: median $BARE ms (${bare[*]}), their CPU $BARE_CPU ms"

ratio=$(awk -v b="$BOOT" -v a="$ALONE" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
echo "#"
echo "# ==== node boot-to-relays ($N_RELAYS relays, $(nproc) CPUs, systemd-nspawn, release build) ===="
echo "# boot-to-relays (median)     $BOOT ms   (goal ≤ $GOAL_MS ms)"
echo "# patela before the relays    $SHARE ms   (restore, attestation, configuration, unsealing)"
echo "# tor instances alone         $ALONE ms   (same units, torrc and keys; one systemctl start as root)"
echo "# tor instances bare          $BARE ms   (no unit, no sandbox, no patela: tor's own start; $BARE_CPU ms of CPU)"
echo "# ratio boot / tor alone      $ratio"
echo "# goal minus patela's part    $((GOAL_MS - SHARE)) ms left for the relays to start"
printf '{"benchmark":"node-boot","relays":%d,"rounds":%d,"boot_ms":[%s],"patela_ms":[%s],"tor_alone_ms":[%s],"tor_bare_ms":[%s],"boot_median_ms":%d,"patela_median_ms":%d,"tor_alone_median_ms":%d,"tor_bare_median_ms":%d,"tor_bare_cpu_ms":%d,"ratio":%s,"goal_ms":%d}\n' \
        "$N_RELAYS" "$ROUNDS" "$(IFS=,; echo "${boots[*]}")" "$(IFS=,; echo "${shares[*]}")" "$(IFS=,; echo "${alone[*]}")" \
        "$(IFS=,; echo "${bare[*]}")" "$BOOT" "$SHARE" "$ALONE" "$BARE" "$BARE_CPU" "$ratio" "$GOAL_MS"
if ((BOOT > GOAL_MS)); then
        echo "# goal missed: boot-to-relays $BOOT ms > $GOAL_MS ms"
        [[ ${PATELA_BENCH_STRICT:-0} == 1 ]] && fail "goal missed"
fi
exit 0
