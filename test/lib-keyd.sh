# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-keyd under systemd-socket-activate against swtpm and a systemd-pcrlock policy made from a
# synthetic boot (test/lib-pcrlock.sh). Source after test/lib.sh.
source "$PATELA_SOURCE_DIR/test/lib-pcrlock.sh"

KEYD_SOCK=$T/io.patela.Keys
KEYD_KEYS=$T/keys
POLICY=$T/pcrlock.json

# boot UKI: a fresh TPM boot (PCRs reset) measuring this "UKI".
boot() {
        pcrlock_boot "$1"
}

# policy_for UKI…: components for the boot of the first UKI (plus variants for the others), make-policy.
policy_for() {
        pcrlock_components "$1"
        pcrlock_make_policy "$POLICY" || fail "make-policy failed: $(cat "$T/make-policy.log")"
}

keyd_start() {
        rm -f "$KEYD_SOCK"
        systemd-socket-activate --listen="$KEYD_SOCK" --fdname=varlink \
                -E PATELA_TPM2_TCTI="$TCTI" -E PATELA_LOG_LEVEL="${PATELA_LOG_LEVEL:-debug}" \
                "$PATELA_BUILD_DIR/src/keyd/patela-keyd" --idle-timeout=0 --pcrlock-policy="$POLICY" \
                --required-pcrs="$PCRLOCK_MASK" --key-directory="$KEYD_KEYS" "$@" >>"$T/keyd.log" 2>&1 &
        KEYD_PID=$!
        PIDS+=("$KEYD_PID")
        wait_for_socket "$KEYD_SOCK"
}

keyd_stop() {
        kill -TERM "$KEYD_PID" 2>/dev/null || true
        wait "$KEYD_PID" 2>/dev/null || true
}

# kv METHOD [JSON]
kv() {
        varlinkctl call --json=short "$KEYD_SOCK" "io.patela.Keys.$1" "${2:-{\}}"
}

kv_error() {
        local expected=$1 out rc=0
        out=$(varlinkctl call --json=short "$KEYD_SOCK" "io.patela.Keys.$2" "$3" 2>&1) || rc=$?
        [[ $rc -ne 0 ]] || fail "$2 $3 succeeded, expected $expected"
        grep -qF -- "$expected" <<<"$out" || fail "$2 $3: expected $expected, got: $out"
        printf '%s\n' "$out"
}

# relays_json NAME…: {"relays":[{"name":NAME},…]}
relays_json() {
        printf '%s\n' "$@" | jq -Rsc '{relays: (split("\n") | map(select(length > 0)) | map({name: ., user: "nobody"}))}'
}

# A power cycle of the node: keyd stops, swtpm restarts on its state, the same (or another) UKI boots.
reboot_into() {
        keyd_stop
        swtpm_power_cycle
        boot "$1"
}

# as_nobody CMD…: tor refuses key files that belong to another user, so it runs as the relays' user here.
as_nobody() {
        setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

# tor_torrc NAME KEYDIR: a torrc for tor as the relay's user, offline (DisableNetwork 1).
tor_torrc() {
        local name=$1 dir=$2
        chmod 0755 "$T"
        mkdir -p "$T/tor-$name"
        chown nobody:nogroup "$T/tor-$name"
        chmod 0700 "$T/tor-$name"
        printf 'DataDirectory %s\nKeyDirectory %s\nNickname %s\nORPort 127.0.0.1:9\nDisableNetwork 1\nSocksPort 0\nLog notice file %s\n' \
                "$T/tor-$name" "$dir" "$name" "$T/tor-$name/notice.log" >"$T/tor-$name.torrc"
        chmod 0644 "$T/tor-$name.torrc"
}

# tor_fingerprint NAME KEYDIR: what tor --list-fingerprint says for the keys in KEYDIR.
tor_fingerprint() {
        local name=$1 dir=$2
        tor_torrc "$name" "$dir"
        as_nobody tor --list-fingerprint -f "$T/tor-$name.torrc" >"$T/tor-$name.out" 2>"$T/tor-$name.err" || true
        awk -v n="$name" '$1 == n { $1 = ""; gsub(/ /, ""); print }' "$T/tor-$name.out"
}
