# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers of patela's shell tests. Each test gets its own directory, its own swtpm on private
# unix sockets, and cleans up after itself on any exit.
set -euo pipefail

: "${PATELA_BUILD_DIR:?run the tests through meson test}"
: "${PATELA_SOURCE_DIR:?run the tests through meson test}"

T=$(mktemp -d "${TMPDIR:-/tmp}/patela-test.XXXXXX")
PIDS=()
FAILED=0
# Commands a helper library needs run at the test's end, before its processes are killed and its directory
# removed (test/lib-postgres.sh stops its cluster here).
CLEANUP_HOOKS=()

cleanup() {
        local p
        for p in "${CLEANUP_HOOKS[@]}"; do
                eval "$p" || true
        done
        for p in "${PIDS[@]}"; do
                kill "$p" 2>/dev/null || true
        done
        for p in "${PIDS[@]}"; do
                wait "$p" 2>/dev/null || true
        done
        if [[ $FAILED -ne 0 || -n "${PATELA_KEEP_TEST_DIR:-}" ]]; then
                echo "# test directory kept: $T" >&2
                for f in "$T"/*.log; do
                        [[ -e $f ]] || continue
                        echo "# --- $f" >&2
                        tail -n 30 "$f" >&2
                done
        else
                rm -rf "$T"
        fi
}
trap cleanup EXIT
trap 'FAILED=1' ERR

# random_port: a TCP port for a test's own listener, below the kernel's ephemeral range (32768 and up here: a
# port taken from there may be the local end of another test's outgoing connection, and the bind fails) and not
# listened on when asked (ss), so that tests running side by side rarely meet.
random_port() {
        local p i
        for ((i = 0; i < 50; i++)); do
                p=$((20000 + RANDOM % 12000))
                if ! command -v ss >/dev/null || [[ -z $(ss -Hltn "sport = :$p" 2>/dev/null) ]]; then
                        echo "$p"
                        return 0
                fi
        done
        echo "$p"
}

fail() {
        FAILED=1
        echo "FAIL: $*" >&2
        exit 1
}

pass() {
        echo "ok - $*"
}

# flip_bit FILE OFFSET: the byte at OFFSET with its low bit inverted, so that it always changes (writing a fixed
# value left it as it was one time in 256, and made such tests flaky).
flip_bit() {
        local b
        b=$(xxd -p -s "$2" -l 1 "$1")
        [[ -n $b ]] || fail "flip_bit: $1 has no byte $2"
        printf "\\x$(printf %02x $((0x$b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# wait_for_socket PATH: until a socket listens at PATH. The file appears at bind(), before listen(): a
# connection in between is refused, so the listening flag (__SO_ACCEPTCON, 00010000) in /proc/net/unix counts.
wait_for_socket() {
        local path=$1 i
        for ((i = 0; i < 200; i++)); do
                [[ -S $path ]] && awk -v p="$path" '$4 == "00010000" && $NF == p { found = 1 } END { exit !found }' /proc/net/unix &&
                        return 0
                sleep 0.05
        done
        fail "no socket listening at $path"
}

# swtpm on unix sockets in $SWTPM_DIR ($T unless set: a container binds that directory); state in
# $T/${1:-tpm}. The swtpm TCTI finds the control socket at SOCKET.ctrl. SWTPM_LOG_LEVEL=20 logs every
# command (counted by the end-to-end test).
swtpm_start() {
        local name=${1:-tpm}
        local dir=${SWTPM_DIR:-$T}
        mkdir -p "$T/$name" "$dir"
        rm -f "$dir/$name.sock" "$dir/$name.sock.ctrl"
        swtpm socket --tpm2 --tpmstate dir="$T/$name" \
                --server type=unixio,path="$dir/$name.sock" \
                --ctrl type=unixio,path="$dir/$name.sock.ctrl" \
                --flags not-need-init,startup-clear \
                --log file="$T/swtpm-$name.log"${SWTPM_LOG_LEVEL:+,level=$SWTPM_LOG_LEVEL} &
        eval "SWTPM_PID_${name}=$!"
        PIDS+=("$!")
        wait_for_socket "$dir/$name.sock"
        wait_for_socket "$dir/$name.sock.ctrl"
        TCTI="swtpm:path=$dir/$name.sock"
        export TPM2TOOLS_TCTI=$TCTI
}

# A power cycle: swtpm shuts down (state saved), a new swtpm starts on the same state.
swtpm_power_cycle() {
        local name=${1:-tpm} pid
        pid=$(eval echo "\$SWTPM_PID_${name}")
        swtpm_ioctl --unix "${SWTPM_DIR:-$T}/$name.sock.ctrl" -s
        wait "$pid" 2>/dev/null || true
        swtpm_start "$name"
}

# patela-attestd under systemd-socket-activate, as the socket unit would start it (Accept=no).
ATTESTD_SOCK=
attestd_start() {
        ATTESTD_SOCK=$T/io.patela.Attest
        rm -f "$ATTESTD_SOCK"
        systemd-socket-activate --listen="$ATTESTD_SOCK" --fdname=varlink \
                -E PATELA_TPM2_TCTI="$TCTI" -E PATELA_LOG_LEVEL="${PATELA_LOG_LEVEL:-debug}" \
                "$PATELA_BUILD_DIR/src/attestd/patela-attestd" --idle-timeout=0 "$@" \
                >>"$T/attestd.log" 2>&1 &
        ATTESTD_PID=$!
        PIDS+=("$ATTESTD_PID")
        wait_for_socket "$ATTESTD_SOCK"
}

attestd_stop() {
        kill -TERM "$ATTESTD_PID"
        wait "$ATTESTD_PID" 2>/dev/null || true
}

attestd_alive() {
        kill -0 "$ATTESTD_PID" 2>/dev/null
}

# vl METHOD [JSON]: calls io.patela.Attest.METHOD, prints the reply.
vl() {
        varlinkctl call --json=short "$ATTESTD_SOCK" "io.patela.Attest.$1" "${2:-{\}}"
}

# vl_error EXPECTED METHOD JSON: the call must fail with the named error; prints varlinkctl's output.
vl_error() {
        local expected=$1 out rc=0
        out=$(varlinkctl call --json=short "$ATTESTD_SOCK" "io.patela.Attest.$2" "$3" 2>&1) || rc=$?
        [[ $rc -ne 0 ]] || fail "$2 $3 succeeded, expected $expected"
        grep -qF -- "$expected" <<<"$out" || fail "$2 $3: expected $expected, got: $out"
        printf '%s\n' "$out"
}

b64file() { base64 -w0 <"$1"; }
b64decode_to() { base64 -d >"$1"; }

# make_credential EK_PUB SECRET_FILE NAME_HEX OUT: tpm2_makecredential in software (--tcti none), split
# into OUT.id (TPM2B_ID_OBJECT) and OUT.secret (TPM2B_ENCRYPTED_SECRET) as io.patela.Attest takes them.
# The tool's file: magic 0xBADCC0DE, version 1, then the two structures.
make_credential() {
        local ek=$1 secret=$2 name=$3 out=$4 idlen
        tpm2_makecredential --tcti none -u "$ek" -s "$secret" -n "$name" -o "$out" >/dev/null 2>&1 ||
                fail "tpm2_makecredential failed"
        idlen=$(od -An -tu2 --endian=big -j8 -N2 "$out" | tr -d ' ')
        dd if="$out" of="$out.id" bs=1 skip=8 count=$((2 + idlen)) status=none
        dd if="$out" of="$out.secret" bs=1 skip=$((10 + idlen)) status=none
}

# activate_params OUT: the JSON parameters of ActivateCredential for a make_credential output.
activate_params() {
        printf '{"credentialBlob":"%s","encryptedSecret":"%s"}' "$(b64file "$1.id")" "$(b64file "$1.secret")"
}
