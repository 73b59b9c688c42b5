# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by test/integration/test-configd-*.sh (not a test itself): a node made of swtpm, patela-attestd
# and patela-keyd (socket-activated, as in test/lib.sh and test/lib-keyd.sh, with a synthetic pcrlock
# policy), patela-server on 127.0.0.1 (test/integration/lib-server.sh), and patela-configd run directly
# with every directory under $T. Nothing leaves loopback; tor never goes online.
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
source "$PATELA_SOURCE_DIR/test/lib-keyd.sh"

CONFIGD_BIN=$PATELA_BUILD_DIR/src/configd/patela-configd
CONFIGD_SOCK=$T/io.patela.Config
TORRC_DIR=$T/run/torrc
NETWORK_DIR=$T/run/network
NETWORK_FILE=80-uplink.network
DROPIN_DIR=$NETWORK_DIR/$NETWORK_FILE.d
DATA_DIR=$T/data

# Several nodes in one test (configd-family, configd-log): each in $ROOT/NODE, its daemons' pids kept here.
ROOT=$T
declare -A PID_CONFIGD PID_KEYD PID_ATTESTD

# on NODE CMD…: CMD with the variables of this library pointing at NODE's own directory ($ROOT/NODE), TPM and
# daemons.
on() {
        local NODE=$1
        shift
        local T=$ROOT/$NODE
        local CONFIGD_SOCK=$T/io.patela.Config TORRC_DIR=$T/run/torrc NETWORK_DIR=$T/run/network
        local DROPIN_DIR=$T/run/network/$NETWORK_FILE.d DATA_DIR=$T/data KEYD_SOCK=$T/io.patela.Keys
        local KEYD_KEYS=$T/keys POLICY=$T/pcrlock.json PCRLOCK_COMPONENTS=$T/pcrlock.d
        local ATTESTD_SOCK=$T/io.patela.Attest TCTI="swtpm:path=$T/tpm.sock"
        local TPM2TOOLS_TCTI=$TCTI CONFIGD_PID=${PID_CONFIGD[$NODE]:-} KEYD_PID=${PID_KEYD[$NODE]:-}
        local ATTESTD_PID=${PID_ATTESTD[$NODE]:-}
        export TPM2TOOLS_TCTI
        "$@"
}

# The whole node: TPM with a synthetic boot and its pcrlock policy, attestd, keyd. The node has the
# kernel's resource manager (/dev/tpmrm0); swtpm here has none and three object slots, of which attestd
# keeps its EK and AK loaded. So the EK is made persistent at 0x81010001, as many platforms ship it,
# leaving keyd the two slots it needs to seal.
node_start() {
        swtpm_start
        head -c 4096 /dev/urandom >"$T/uki-A"
        boot "$T/uki-A"
        policy_for "$T/uki-A"
        tpm2_createek -c 0x81010001 -G rsa -u "$T/ek.pub" >/dev/null || fail "tpm2_createek failed"
        attestd_start
        keyd_start
}

# configd_config: the image's configuration. ServerURL= and CACertificate= in the file are deliberately
# wrong: the systemd credentials (as an image configured at boot gets them) must override them.
configd_config() {
        mkdir -p "$T/creds"
        printf '%s\n' "$URL" >"$T/creds/patela.server-url"
        cp "$T/ca/ca.crt" "$T/creds/patela.ca"
        cat >"$T/patela.conf" <<EOF
# patela.conf of the test node
[Config]
ServerURL=https://wrong.invalid:1
CACertificate=/nonexistent/ca.pem
RetryInterval=${CONFIGD_RETRY:-500ms}
RetryIntervalMax=${CONFIGD_RETRY_MAX:-2s}
ReattestInterval=1h
ConnectTimeout=2s
Timeout=10s
RelayUser=nobody
DataDirectory=$DATA_DIR/%n
# tor runs on the directories keyd wrote (no patela-tor@ unit copies them here)
KeyDirectory=
NetworkFile=$NETWORK_FILE
# the local resolver's outgoing addresses (the node's own, never a relay's)
ResolverFile=$T/resolver/outgoing.conf
EOF
}

# configd_start [OPTIONS…]: patela-configd, not socket-activated, on $CONFIGD_SOCK; the directories as flags.
configd_start() {
        rm -f "$CONFIGD_SOCK"
        CREDENTIALS_DIRECTORY=$T/creds PATELA_LOG_LEVEL=${PATELA_LOG_LEVEL:-debug} \
                "$CONFIGD_BIN" --config="$T/patela.conf" --listen="$CONFIGD_SOCK" \
                --attest-socket="$ATTESTD_SOCK" --keys-socket="$KEYD_SOCK" --state-directory="$T/run" \
                --torrc-directory="$TORRC_DIR" --network-directory="$NETWORK_DIR" --no-units "$@" \
                >>"$T/configd.log" 2>&1 &
        CONFIGD_PID=$!
        PIDS+=("$CONFIGD_PID")
        wait_for_socket "$CONFIGD_SOCK"
}

configd_stop() {
        kill -TERM "$CONFIGD_PID"
        wait "$CONFIGD_PID" || fail "patela-configd exited with an error: $(tail -5 "$T/configd.log")"
}

configd_alive() {
        kill -0 "$CONFIGD_PID" 2>/dev/null
}

# cv METHOD [JSON]: calls io.patela.Config.METHOD.
cv() {
        varlinkctl call --json=short "$CONFIGD_SOCK" "io.patela.Config.$1" "${2:-{\}}"
}

status() {
        cv GetStatus >"$T/status.json" || fail "GetStatus failed"
        cat "$T/status.json"
}

# wait_phase PHASE [SECONDS]: until GetStatus says PHASE.
wait_phase() {
        local want=$1 timeout=${2:-30} i
        for ((i = 0; i < timeout * 20; i++)); do
                configd_alive || fail "patela-configd died: $(tail -20 "$T/configd.log")"
                [[ $(status | jq -r .phase) == "$want" ]] && return 0
                sleep 0.05
        done
        fail "phase $want not reached in ${timeout}s: $(cat "$T/status.json")"
}

# relay_field NAME FIELD: a field of a relay in the last status.
relay_field() {
        jq -r --arg n "$1" --arg f "$2" '.relays[] | select(.name == $n) | .[$f]' "$T/status.json"
}

# our_files DIR SUFFIX: the names of configd's files in DIR.
our_files() {
        local f
        for f in "$1"/*"$2"; do
                [[ -e $f ]] && head -1 "$f" | grep -q '^# Written by patela-configd' && basename "$f"
        done | sort | tr '\n' ' ' | sed 's/ $//'
}

# tor_check NAME: the torrc configd wrote for NAME passes tor --verify-config (offline copy), and tor
# --list-fingerprint, run as the relay's user with configd's KeyDirectory, prints keyd's fingerprint; tor's
# fingerprint is kept in TOR_FP[NAME].
declare -A TOR_FP
tor_check() {
        local name=$1 torrc=$TORRC_DIR/$1.torrc want got
        [[ -f $torrc && $(stat -c %a "$torrc") == 644 ]] || fail "$torrc missing or not 0644"
        grep -qx "KeyDirectory $KEYD_KEYS/$name" "$torrc" || fail "$name: KeyDirectory: $(cat "$torrc")"
        grep -qx "DataDirectory $DATA_DIR/$name" "$torrc" || fail "$name: DataDirectory: $(cat "$torrc")"
        grep -qx "Nickname $name" "$torrc" || fail "$name: Nickname: $(cat "$torrc")"
        chmod 0755 "$T"
        mkdir -p "$DATA_DIR/$name"
        chown nobody:nogroup "$DATA_DIR/$name"
        chmod 0700 "$DATA_DIR/$name"
        { cat "$torrc"; printf 'DisableNetwork 1\nSocksPort 0\n'; } >"$T/$name.verify.torrc"
        chmod 0644 "$T/$name.verify.torrc"
        as_nobody tor --verify-config -f "$T/$name.verify.torrc" >"$T/tor-verify-$name.log" 2>&1 ||
                fail "tor --verify-config rejects $name's torrc: $(tail -5 "$T/tor-verify-$name.log")"
        as_nobody tor --list-fingerprint -f "$T/$name.verify.torrc" >"$T/tor-fp-$name.out" 2>"$T/tor-fp-$name.err" || true
        got=$(awk -v n="$name" '$1 == n { $1 = ""; gsub(/ /, ""); print }' "$T/tor-fp-$name.out")
        want=$(relay_field "$name" rsaFingerprint)
        [[ -n $want && $got == "$want" ]] ||
                fail "$name: tor says '$got', configd/keyd say '$want': $(cat "$T/tor-fp-$name.err")"
        [[ $(kv ListRelays | jq -r --arg n "$name" '.relays[] | select(.name == $n) | .rsaFingerprint') == "$want" ]] ||
                fail "$name: keyd's ListRelays disagrees with configd"
        TOR_FP[$name]=$got
}
