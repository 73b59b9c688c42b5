# SPDX-License-Identifier: LGPL-2.1-or-later
# Booting patela's image for the vm suite: qemu (TCG: KVM does not work on the machines this runs on),
# OVMF, a swtpm vTPM whose state outlives the VM, no disk of any kind, and either no network or qemu's
# user networking with restrict=on, whose only way out is a guestfwd to one loopback port of the host.
# Source after test/lib.sh (test/integration/lib-server.sh sources it).

# The image the tests boot: built once per build directory by mkosi/build (or given).
IMAGE_DIR=${PATELA_VM_IMAGE_DIR:-$PATELA_BUILD_DIR/image}

OVMF_CODE=${PATELA_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${PATELA_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
# The address the guest uses for the test's patela-server (forwarded to the host's loopback).
VM_SERVER_ADDR=10.0.2.100
VM_SERVER_PORT=8443

VM_PID=''
VM_SMBIOS=()
VM_NAME=''
VM_START=0

# vm_boot NAME UKI [SERVER_PORT]: starts swtpm (state in $T/vtpm, kept across boots) and qemu in the
# background. The serial console goes to $T/NAME.serial, the human monitor to the FIFOs $T/NAME.mon.*.
vm_boot() {
        local name=$1 uki=$2 port=${3:-}
        local -a net=(-nic none)
        [[ -f $uki ]] || fail "no image $uki"
        mkdir -p "$T/vtpm"
        [[ -f $T/ovmf-vars.fd ]] || cp "$OVMF_VARS" "$T/ovmf-vars.fd"
        rm -f "$T/$name.swtpm.sock" "$T/$name.mon.in" "$T/$name.mon.out"
        swtpm socket --tpm2 --tpmstate dir="$T/vtpm" --ctrl type=unixio,path="$T/$name.swtpm.sock" \
                --terminate --log file="$T/swtpm-$name.log" &
        PIDS+=("$!")
        wait_for_socket "$T/$name.swtpm.sock"
        if [[ -n $port ]]; then
                net=(-nic "user,model=virtio-net-pci,restrict=on,guestfwd=tcp:$VM_SERVER_ADDR:$VM_SERVER_PORT-cmd:$PATELA_SOURCE_DIR/test/vm/vm-forward.sh $port")
        fi
        mkfifo "$T/$name.mon.in" "$T/$name.mon.out"
        VM_NAME=$name
        VM_START=$(date +%s.%N)
        # -nodefaults: no default CD-ROM, floppy or graphics; the guest sees no block device at all.
        qemu-system-x86_64 -machine q35 -accel tcg -cpu max -smp 2 -m 2048M -nodefaults -display none \
                -no-reboot \
                -drive if=pflash,format=raw,unit=0,readonly=on,file="$OVMF_CODE" \
                -drive if=pflash,format=raw,unit=1,file="$T/ovmf-vars.fd" \
                -chardev socket,id=chrtpm,path="$T/$name.swtpm.sock" \
                -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-crb,tpmdev=tpm0 \
                -serial file:"$T/$name.serial" \
                -chardev pipe,id=mon,path="$T/$name.mon" -mon chardev=mon,mode=readline \
                "${net[@]}" "${VM_SMBIOS[@]}" \
                -kernel "$uki" >"$T/qemu-$name.log" 2>&1 &
        VM_PID=$!
        PIDS+=("$VM_PID")
        # Keep the monitor's output FIFO drained into a file.
        cat "$T/$name.mon.out" >"$T/$name.monitor" &
        PIDS+=("$!")
}

# vm_monitor COMMAND: sends a human monitor command.
vm_monitor() {
        printf '%s\n' "$1" >"$T/$VM_NAME.mon.in"
}

# vm_elapsed: seconds since qemu started.
vm_elapsed() {
        awk -v a="$VM_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# vm_wait PATTERN TIMEOUT: waits until the serial console shows an extended regex; fails on timeout or if
# qemu exits first.
vm_wait() {
        local pattern=$1 timeout=$2 deadline
        deadline=$((SECONDS + timeout))
        while ((SECONDS < deadline)); do
                if grep -Eq -- "$pattern" "$T/$VM_NAME.serial" 2>/dev/null; then
                        return 0
                fi
                kill -0 "$VM_PID" 2>/dev/null || fail "$VM_NAME: qemu exited before '$pattern' (see $T/$VM_NAME.serial)"
                sleep 1
        done
        tail -n 40 "$T/$VM_NAME.serial" >&2 || true
        fail "$VM_NAME: no '$pattern' on the console within $timeout s"
}

# vm_stop: powers the guest off (ACPI power button) and waits for it: the guest's kernel then shuts the TPM
# down orderly. A TPM that is only ever cut off counts each such restart against its dictionary-attack
# limit and ends up in lockout. Fails if the guest does not power off within 120 s.
vm_stop() {
        local i t0=$SECONDS
        vm_monitor system_powerdown 2>/dev/null || true
        for ((i = 0; i < 120; i++)); do
                kill -0 "$VM_PID" 2>/dev/null || break
                sleep 1
        done
        if kill -0 "$VM_PID" 2>/dev/null; then
                vm_monitor quit 2>/dev/null || kill "$VM_PID" 2>/dev/null || true
                wait "$VM_PID" 2>/dev/null || true
                fail "$VM_NAME: the guest did not power off within 120 s"
        fi
        wait "$VM_PID" 2>/dev/null || true
        echo "# $VM_NAME: powered off in $((SECONDS - t0)) s"
}

# vm_image: builds the image into $IMAGE_DIR unless it is there; prints the build's summary.
vm_image() {
        if [[ -f $IMAGE_DIR/patela.efi && -f $IMAGE_DIR/patela.reference.json ]]; then
                return 0
        fi
        "$PATELA_SOURCE_DIR/mkosi/build" "$IMAGE_DIR" 2>&1 | sed 's/^/# /' || fail "mkosi/build failed"
        [[ -f $IMAGE_DIR/patela.efi ]] || fail "mkosi/build made no UKI"
}

# vm_changed_image OUT CMDLINE_EXTRA: the image with more on its kernel command line (another UKI: other
# PCR 4, 9 and 11), made with ukify from the kernel and initrd mkosi built.
vm_changed_image() {
        local out=$1 extra=$2 kver
        kver=$(ukify inspect "$IMAGE_DIR/patela.efi" --json=short | jq -r '.".uname".text')
        ukify inspect "$IMAGE_DIR/patela.efi" --json=short | jq -r '.".osrel".text' >"$T/osrel"
        ukify build --linux="$IMAGE_DIR/mkosi.output/patela.vmlinuz" --initrd="$IMAGE_DIR/mkosi.output/patela.initrd" \
                --os-release=@"$T/osrel" --uname="$kver" --cmdline="console=ttyS0 systemd.firstboot=off $extra" \
                --output="$out" >"$T/ukify.log" 2>&1 || fail "ukify build failed: $(tail -5 "$T/ukify.log")"
}
