#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The relay image, booted in qemu (TCG) with OVMF and a swtpm vTPM, against this test's patela-server on
# loopback (the guest's only way out: qemu user networking with restrict=on and one guestfwd).
#   boot 1  image A: the node enrols (pending), the test enables it, its relays' tor instances run
#   boot 2  image A again, same vTPM: same node row, same relay fingerprints, no disk; then, on the node,
#           patela-pcrlock predict image B (from B's reference); then the operator retires image A while the
#           node runs it: the node's next session check (every 30 s) makes it re-attest, the server refuses it
#           (RetiredImage) and the relays stop — within 60 s of the retirement
#   boot 3  image C, never predicted nor registered: the server refuses the node (UnknownImage), and keyd, asked
#           directly, refuses to unseal; no relay starts, visible in the journal and at the server
#   boot 4  image B: the keys unseal, the fingerprints are those of boot 1
# Each boot prints its time; the measured PCRs are compared with patela-pcrlock reference's prediction, and the
# server's verifier (which replays the node's event logs against its quote) gives its verdict: image A is
# registered before boot 1 (Trusted) and retired in boot 2 (RetiredImage), C never (UnknownImage), B before
# boot 4 (Trusted). Predicted, measured and server-replayed PCRs are printed per boot.
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
source "$PATELA_SOURCE_DIR/test/vm/lib-vm.sh"

RELAYS=(vmrelaya vmrelayb)
BOOT_TIMEOUT=${PATELA_VM_BOOT_TIMEOUT:-400}

vm_cleanup() {
        if [[ -n $VM_PID ]] && kill -0 "$VM_PID" 2>/dev/null; then
                vm_monitor quit 2>/dev/null || true
        fi
        cleanup
}
trap vm_cleanup EXIT

# --- the images --------------------------------------------------------------------------------------------
t=$SECONDS
vm_image
PCRLOCK=$IMAGE_DIR/meson/src/pcrlock/patela-pcrlock
A=$IMAGE_DIR/patela.efi
vm_changed_image "$T/next.efi" "patela.image=next"
vm_changed_image "$T/other.efi" "patela.image=other"
B=$T/next.efi
C=$T/other.efi
"$PCRLOCK" reference "$B" >"$T/next.reference.json" || fail "patela-pcrlock reference $B"
"$PCRLOCK" reference "$C" >"$T/other.reference.json" || fail "patela-pcrlock reference $C"
for x in A B C; do
        f=${!x}
        echo "# image $x: $(stat -c %s "$f") bytes, sha256 $(sha256sum "$f" | cut -d' ' -f1)"
done
pass "images ready in $((SECONDS - t)) s (A from mkosi/build, B and C: A with another kernel command line)"

# --- the server ----------------------------------------------------------------------------------------------
mkdir -p "$T/ca"
ps_cli ca init --dir "$T/ca" >/dev/null 2>&1 || fail "ca init"
ps_cli ca issue server --dir "$T/ca" --san "IP:$VM_SERVER_ADDR" --san IP:127.0.0.1 >/dev/null 2>&1 || fail "ca issue"
ps_cli pool add names "${RELAYS[@]}" >/dev/null
ps_cli pool add ipv4 192.0.2.10 192.0.2.11 >/dev/null
ps_cli pool add ipv6 2001:db8::10 2001:db8::11 >/dev/null
cat >"$T/default.torrc" <<'TORRC'
ContactInfo operator@example.org
ExitRelay 0
DisableNetwork 1
Log notice stdout
TORRC
ps_cli torrc import "$T/default.torrc" default >/dev/null
ps_cli node set IPv6PrefixLength 64 default >/dev/null
ps_cli image add --name image-a "$IMAGE_DIR/patela.reference.json" >/dev/null 2>&1 || fail "image add A"
LOG_KEY=$(ps_cli log init patela.test/fleet "$T/log.key" 2>/dev/null) || fail "log init"
server_start --log-key="$T/log.key"
PORT=${URL##*:}
# The server's address, CA and transparency log key reach the node as system credentials (SMBIOS type 11), not
# in the image.
BASE_SMBIOS=(-smbios "type=11,value=io.systemd.credential:patela.server-url=https://$VM_SERVER_ADDR:$VM_SERVER_PORT/"
             -smbios "type=11,value=io.systemd.credential.binary:patela.ca=$(base64 -w0 "$T/ca/ca.crt")"
             -smbios "type=11,value=io.systemd.credential.binary:patela.log-key=$(printf '%s' "$LOG_KEY" | base64 -w0)")
# The test's only change to the node's behaviour: a pending node asks again every ≤ 10 s instead of backing
# off to 5 min, so the enable is seen at once (a drop-in given as a credential, like the server URL).
CONFIGD_DROPIN=$'[Service]\nExecStart=\nExecStart=/usr/libexec/patela-configd --retry-interval-max=10s\n'
configd_dropin() { # [EXTRA LINES]: the drop-in credential for patela-configd.service
        printf '%s' "$CONFIGD_DROPIN${1:-}" | base64 -w0
}
VM_SMBIOS=("${BASE_SMBIOS[@]}" -smbios "type=11,value=io.systemd.credential.binary:systemd.unit-dropin.patela-configd.service=$(configd_dropin)")

# --- helpers ---------------------------------------------------------------------------------------------------
# fingerprints BOOT: "NAME FP" lines tor printed on BOOT's console, sorted.
fingerprints() {
        { grep -aoE "identity key fingerprint is '[A-Za-z0-9]+ [0-9A-F]{40}'" "$T/$1.serial" 2>/dev/null || true; } |
                sed -E "s/.*is '([^ ]+) ([0-9A-F]{40})'/\1 \2/" | sort -u
}

wait_relays() {
        local boot=$1 deadline=$((SECONDS + BOOT_TIMEOUT))
        while (($(fingerprints "$boot" | wc -l) < ${#RELAYS[@]})); do
                ((SECONDS < deadline)) || fail "$boot: tor instances did not start: $(tail -30 "$T/$boot.serial")"
                kill -0 "$VM_PID" 2>/dev/null || fail "$boot: qemu exited"
                sleep 2
        done
}

# measured_vs_predicted BOOT REFERENCE: the PCR 9 and the firmware part of PCR 11 that lock-boot logged
# against the reference's prediction; prints both.
measured_vs_predicted() {
        local boot=$1 ref=$2 pcr want got
        for pcr in 9 11; do
                if [[ $pcr == 9 ]]; then want=$(jq -r '.pcrs."9"' "$ref"); else want=$(jq -r '.pcrs."11".boot' "$ref"); fi
                got=$({ grep -aoE "Booted image: PCR $pcr from the firmware log: [0-9a-f]{64}" "$T/$boot.serial" || true; } |
                        tail -1 | awk '{ print $NF }')
                echo "# $boot PCR $pcr predicted $want"
                echo "# $boot PCR $pcr measured  $got"
                [[ -n $got && $got == "$want" ]] || fail "$boot: PCR $pcr measured ${got:-nothing}, predicted $want"
        done
        got=$({ grep -m1 -aoE "Booted image: PCR 4 event authenticode [0-9a-f]{64}" "$T/$boot.serial" || true; } |
                awk '{ print $NF }')
        want=$(jq -r '.records[] | select(.event == "authenticode UKI") | .sha256' "$ref")
        echo "# $boot PCR 4 UKI event predicted $want, measured $got"
        [[ $got == "$want" ]] || fail "$boot: UKI digest measured ${got:-nothing}, predicted $want"
}

# verdict BOOT VERDICT IMAGE: the verifier's verdict of the node's newest attestation and the image it
# recognised ("" for none), accepted if Trusted and rejected otherwise (images are registered: enforced);
# prints the PCRs the server took as replayed (a verified quote that the logs explain).
verdict() {
        local boot=$1 want=$2 image=$3 got name pcrs decision
        got=$(sqlite3 "$DB" "SELECT measured_verdict FROM attestations ORDER BY id DESC LIMIT 1")
        decision=$(sqlite3 "$DB" "SELECT verdict FROM attestations ORDER BY id DESC LIMIT 1")
        [[ $decision == "$([[ $want == Trusted ]] && echo accepted || echo rejected)" ]] ||
                fail "$boot: the server $decision the attestation with verdict $got"
        name=$(sqlite3 "$DB" "SELECT coalesce(i.name, '') FROM attestations a LEFT JOIN images i ON i.id = a.image_id
                              ORDER BY a.id DESC LIMIT 1")
        echo "# $boot server verdict: $got ($(sqlite3 "$DB" "SELECT reason FROM attestations ORDER BY id DESC LIMIT 1"))"
        [[ $got == "$want" && $name == "$image" ]] || fail "$boot: verdict $got on image '$name', expected $want on '$image'"
        pcrs=$(sqlite3 "$DB" "SELECT pcr_values FROM attestations ORDER BY id DESC LIMIT 1")
        echo "# $boot PCR 9 server-replayed $(jq -r '."9"' <<<"$pcrs")"
        echo "# $boot PCR 11 server-replayed $(jq -r '."11"' <<<"$pcrs")"
}

# no_disk BOOT: qemu has no block device but the firmware's flash, the guest kernel found no disk.
no_disk() {
        local boot=$1
        vm_monitor "info block"
        sleep 2
        grep -q pflash0 "$T/$boot.monitor" || fail "$boot: no answer from the monitor: $(cat "$T/$boot.monitor")"
        if grep -aE '^[a-z0-9_-]+( \(#block[0-9]+\))?:' "$T/$boot.monitor" | grep -vE '^pflash[01]' | grep -q .; then
                fail "$boot: qemu has a block device: $(cat "$T/$boot.monitor")"
        fi
        if grep -aE "\] (virtio_blk|sd [0-9]|nvme[0-9]|ata[0-9]+\.[0-9]+: ATA)" "$T/$boot.serial"; then
                fail "$boot: the guest found a disk"
        fi
}

# --- boot 1: enrol, enable, relays ------------------------------------------------------------------------
# The exit host's kernel settings (mkosi.extra/usr/lib/sysctl.d/60-patela-exit.conf) as the booted image has
# them, printed to the console once configd is up; "+": outside configd's sandbox, which hides /proc/sys ($$ is
# systemd's escape for $).
HOST_PROBE=$'ExecStartPost=+/bin/sh -c \'echo "patela-test host: ports $$(cat /proc/sys/net/ipv4/ip_local_port_range) tw_reuse $$(cat /proc/sys/net/ipv4/tcp_tw_reuse) fin_timeout $$(cat /proc/sys/net/ipv4/tcp_fin_timeout) somaxconn $$(cat /proc/sys/net/core/somaxconn) nonlocal_bind $$(cat /proc/sys/net/ipv4/ip_nonlocal_bind)$$(cat /proc/sys/net/ipv6/ip_nonlocal_bind) conntrack $$(test -e /proc/sys/net/netfilter/nf_conntrack_max && echo on || echo off)"\'\n'
VM_SMBIOS=("${BASE_SMBIOS[@]}" -smbios "type=11,value=io.systemd.credential.binary:systemd.unit-dropin.patela-configd.service=$(configd_dropin "$HOST_PROBE")")
vm_boot boot1 "$A" "$PORT"
deadline=$((SECONDS + BOOT_TIMEOUT))
until [[ $(ps_cli --json list nodes | jq length) == 1 ]]; do
        ((SECONDS < deadline)) || fail "boot 1: the node never enrolled: $(tail -30 "$T/boot1.serial")"
        kill -0 "$VM_PID" 2>/dev/null || fail "boot 1: qemu exited"
        sleep 2
done
fp=$(ps_cli --json list nodes | jq -r '.[0].fingerprint')
[[ $(ps_cli --json list nodes | jq -r '.[0].state') == pending ]] || fail "boot 1: $(ps_cli --json list nodes)"
pass "boot 1: node $fp pending at the server after $(vm_elapsed) s"
ps_cli node relays "$fp" "${#RELAYS[@]}" >/dev/null
ps_cli node enable "$fp" >/dev/null
wait_relays boot1
boot1_time=$(vm_elapsed)
fingerprints boot1 >"$T/fp1"
measured_vs_predicted boot1 "$IMAGE_DIR/patela.reference.json"
verdict boot1 Trusted image-a
no_disk boot1
grep -aq "Generated\|generated" "$T/boot1.serial" || true
pass "boot 1: ${#RELAYS[@]} relays running $boot1_time s after power-on: $(paste -sd' ' "$T/fp1")"
vm_wait "patela-test host: ports" 60
grep -aE "patela-test host: ports 10000[[:space:]]+65535 tw_reuse 1 fin_timeout 20 somaxconn 8192 nonlocal_bind 11 conntrack off" "$T/boot1.serial" ||
        fail "boot 1: the exit host settings: $(grep -a 'patela-test host' "$T/boot1.serial")"
pass "boot 1: the exit host settings hold in the booted image (local ports 10000-65535, TIME_WAIT reuse, FIN timeout 20 s, backlog 8192, no connection tracking)"
vm_stop

# --- boot 2: same image, same TPM; then predict image B on the node ------------------------------------------
# The prediction runs on the node as the operator would run it; the test hands over B's reference as a
# credential and a drop-in that runs patela-pcrlock once patela-configd is ready, i.e. once keyd unsealed the
# keys — in a unit of its own (systemd-run): configd's cgroup may not open the TPM.
VM_SMBIOS=("${BASE_SMBIOS[@]}"
           -smbios "type=11,value=io.systemd.credential.binary:patela.test-next=$(base64 -w0 "$T/next.reference.json")"
           -smbios "type=11,value=io.systemd.credential.binary:systemd.unit-dropin.patela-configd.service=$(configd_dropin $'ExecStartPost=+/usr/bin/systemd-run --wait --collect --unit=patela-test-predict /usr/bin/patela-pcrlock predict %d/patela.test-next\n')")
vm_boot boot2 "$A" "$PORT"
wait_relays boot2
boot2_time=$(vm_elapsed)
fingerprints boot2 >"$T/fp2"
cmp -s "$T/fp1" "$T/fp2" || fail "boot 2: other fingerprints: $(cat "$T/fp2") (boot 1: $(cat "$T/fp1"))"
[[ $(ps_cli --json list nodes | jq length) == 1 ]] || fail "boot 2: a new node row: $(ps_cli --json list nodes)"
measured_vs_predicted boot2 "$IMAGE_DIR/patela.reference.json"
verdict boot2 Trusted image-a
no_disk boot2
pass "boot 2: same node, same fingerprints, relays running $boot2_time s after power-on, no disk"
vm_wait "patela-keyd unseals the keys of ${#RELAYS[@]} relay|Policy .* allows" "$BOOT_TIMEOUT"
vm_wait "patela-keyd unseals the keys of ${#RELAYS[@]} relay" 60
grep -aE "^PCR (4|9|11) " "$T/boot2.serial" | sed 's/^/# predicted: /' || true
pass "boot 2: patela-pcrlock predict B on the node: the policy allows A and B, keyd unseals and keeps it"

# Image A retired while the node runs it: the session check, a fresh attestation, RetiredImage, relays stopped.
vm_wait "Running ${#RELAYS[@]} relays" 60
retired_at=$SECONDS
ps_cli image retire image-a >/dev/null 2>&1 || fail "image retire image-a"
vm_wait "Refused by the server \(RetiredImage\)" 90
for r in "${RELAYS[@]}"; do
        # tor exits on configd's SIGTERM before the StopUnit job runs: systemd then says "Deactivated
        # successfully" and may not add "Stopped …".
        vm_wait "Stopped patela-tor@$r\.service|patela-tor@$r\.service: Deactivated successfully" 30
done
stopped=$((SECONDS - retired_at))
grep -aq "The server asks for a fresh attestation" "$T/boot2.serial" || fail "boot 2: the refusal did not come through the check"
verdict boot2 RetiredImage image-a
echo "# boot 2: image A retired; relays stopped ${stopped} s later (goal: 60 s)"
((stopped <= 60)) || fail "boot 2: the relays stopped ${stopped} s after the retirement, more than 60 s"
pass "boot 2: image A retired while running: re-attested at the next check, refused (RetiredImage), ${#RELAYS[@]} relays stopped ${stopped} s after the retirement"
vm_stop

# --- boot 3: an image nobody predicted ---------------------------------------------------------------------
# The server refuses the node before configd asks keyd for keys; the TPM's own refusal is shown by asking
# keyd directly once configd is up (ListRelays unseals the store), as configd would have.
VM_SMBIOS=("${BASE_SMBIOS[@]}" -smbios "type=11,value=io.systemd.credential.binary:systemd.unit-dropin.patela-configd.service=$(configd_dropin $'ExecStartPost=-+/usr/bin/systemd-run --wait --collect --unit=patela-test-keys /usr/bin/varlinkctl call /run/patela/io.patela.Keys io.patela.Keys.ListRelays {}\n')")
attested=$(sqlite3 "$DB" "SELECT count(*) FROM attestations")
vm_boot boot3 "$C" "$PORT"
vm_wait "Refused by the server \(UnknownImage\)" "$BOOT_TIMEOUT"
vm_wait "Refusing to unseal the relay keys" 120
boot3_time=$(vm_elapsed)
sleep 10
[[ -z $(fingerprints boot3) ]] || fail "boot 3: a relay started: $(fingerprints boot3)"
measured_vs_predicted boot3 "$T/other.reference.json"
verdict boot3 UnknownImage ""
# The server saw the node attest with PCRs that differ from its last boot's.
new=$(sqlite3 "$DB" "SELECT count(*) FROM attestations")
((new > attested)) || fail "boot 3: no attestation at the server"
last=$(sqlite3 "$DB" "SELECT pcr_values FROM attestations ORDER BY id DESC LIMIT 1")
prev=$(sqlite3 "$DB" "SELECT pcr_values FROM attestations WHERE id = $attested")
[[ $last != "$prev" ]] || fail "boot 3: the server recorded the same PCRs as before"
echo "# server: boot 3 attested PCRs $last"
pass "boot 3: unpredicted image refused by the server (UnknownImage) and by keyd $boot3_time s after power-on; no relay; the server recorded its other PCRs"
vm_stop

# --- boot 4: the predicted image --------------------------------------------------------------------------
# Once configd is ready (attested, relays configured), `patelactl log verify` on the node, as root outside
# configd's sandbox as an operator would run it; its output reaches the console through the journal.
ps_cli image add --name image-b "$T/next.reference.json" >/dev/null 2>&1 || fail "image add B"
VM_SMBIOS=("${BASE_SMBIOS[@]}" -smbios "type=11,value=io.systemd.credential.binary:systemd.unit-dropin.patela-configd.service=$(configd_dropin $'ExecStartPost=-+/bin/sh -c \'/usr/bin/patelactl log verify; echo "patela-test log verify: exit $$?"\'\n')")
vm_boot boot4 "$B" "$PORT"
wait_relays boot4
boot4_time=$(vm_elapsed)
fingerprints boot4 >"$T/fp4"
cmp -s "$T/fp1" "$T/fp4" || fail "boot 4: other fingerprints: $(cat "$T/fp4") (boot 1: $(cat "$T/fp1"))"
measured_vs_predicted boot4 "$T/next.reference.json"
verdict boot4 Trusted image-b
no_disk boot4
pass "boot 4: predicted image B unseals, same fingerprints, relays running $boot4_time s after power-on"
vm_wait "patela-test log verify: exit [0-9]+" 120
grep -aq "patela-test log verify: exit 0" "$T/boot4.serial" && grep -aqE "Image: image-b" "$T/boot4.serial" ||
        fail "boot 4: patelactl log verify: $(grep -aE "patelactl|Transparency log|patela-test log verify|io.patela.Config" "$T/boot4.serial" | tail -10)"
echo "# boot 4: $(grep -aoE "Checkpoint: [0-9]+ entries" "$T/boot4.serial" | tail -1), $(grep -aoE "Entry: [0-9]+" "$T/boot4.serial" | tail -1)"
pass "boot 4: patelactl log verify on the node: image B's registration proved under the checkpoint signed by the pinned log key"
vm_stop
echo "# boot times to running relays: A $boot1_time s, A $boot2_time s (retired: relays stopped in $stopped s), C refused at $boot3_time s, B $boot4_time s; total $SECONDS s"
