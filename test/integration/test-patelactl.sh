#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patelactl against a real node (swtpm, patela-attestd, patela-keyd with a synthetic pcrlock policy,
# patela-configd) and patela-server: identity equals the server's row, status goes pending → running,
# keys list equals keyd's ListRelays, config diff is empty after a Refresh, and the exit codes 2, 3 and 4.
source "$PATELA_SOURCE_DIR/test/integration/test-configd-lib.sh"

CTL_BIN=$PATELA_BUILD_DIR/src/patelactl/patelactl
[[ -x $CTL_BIN ]] || fail "$CTL_BIN not built"

# ctl ARGS…: patelactl with the test's sockets, from the runtime directory variable and one option.
ctl() {
        PATELA_RUNTIME_DIRECTORY=$T "$CTL_BIN" --config-socket="$CONFIGD_SOCK" "$@"
}

# ctl_rc WANT ARGS…: patelactl exits with WANT; its output is in $T/ctl.out.
ctl_rc() {
        local want=$1 rc=0
        shift
        ctl "$@" >"$T/ctl.out" 2>&1 || rc=$?
        [[ $rc == "$want" ]] || fail "patelactl $*: exit $rc, expected $want: $(cat "$T/ctl.out")"
}

ca_setup
ps_cli pool add names exitA exitB >/dev/null
ps_cli pool add ipv4 192.0.2.10 192.0.2.11 >/dev/null
printf 'ContactInfo operator@example.org\nExitRelay 0\n' >"$T/default.torrc"
ps_cli torrc import "$T/default.torrc" default >/dev/null
server_start
node_start
configd_config
configd_start
wait_phase pending 20
[[ $ATTESTD_SOCK == "$T/io.patela.Attest" && $KEYD_SOCK == "$T/io.patela.Keys" ]] ||
        fail "sockets are not where \$PATELA_RUNTIME_DIRECTORY points"

# identity: the fingerprint the operator compares with the server's node row.
ctl_rc 0 identity
fp=$(awk -F': ' '$1 ~ /^ *Fingerprint$/ { print $2 }' "$T/ctl.out")
[[ -n $fp && $fp == "$(ps_cli --json list nodes | jq -r '.[0].fingerprint')" ]] ||
        fail "identity: '$fp', server: $(ps_cli list nodes)"
grep -Eq '^ *EK certificate: (yes|no)$' "$T/ctl.out" && grep -Eq '^ *AK name: [0-9a-f]+$' "$T/ctl.out" ||
        fail "identity output: $(cat "$T/ctl.out")"
ctl_rc 0 --json=short identity
[[ $(jq -r .fingerprint "$T/ctl.out") == "$fp" && $(jq -r .akName "$T/ctl.out") == "$(vl GetIdentity | jq -r .akName)" ]] ||
        fail "identity --json: $(cat "$T/ctl.out")"
pass "patelactl identity shows the server's fingerprint $fp"

# ctl_pending ARGS…: patelactl ARGS (exit 0) at a moment the node is pending: a pending node re-enrols on its
# backoff (500 ms here), and for those milliseconds its phase is "enrolling".
ctl_pending() {
        local i
        for ((i = 0; i < 50; i++)); do
                ctl_rc 0 "$@"
                grep -q 'enrolling' "$T/ctl.out" || return 0
                sleep 0.05
        done
}

# status: pending, then running after the operator enables the node.
ctl_pending --json=short status
[[ $(jq -r '.config.phase + " " + .config.nodeState + " " + .attest.fingerprint' "$T/ctl.out") == "pending pending $fp" ]] ||
        fail "status while pending: $(cat "$T/ctl.out")"
[[ $(jq -r '.keys.policyPath + " " + (.errors | [.[] | select(. != null)] | length | tostring)' "$T/ctl.out") == "$POLICY 0" ]] ||
        fail "status keys/errors: $(cat "$T/ctl.out")"
[[ $(wc -l <"$T/ctl.out") == 1 ]] || fail "--json=short is not one line"
ctl_pending status
grep -Eq '^ *Phase: pending$' "$T/ctl.out" && grep -Eq "^ *Fingerprint: $fp$" "$T/ctl.out" ||
        fail "status: $(cat "$T/ctl.out")"
# attest on a pending node: the declared error Pending, with the fingerprint.
ctl_rc 4 attest
grep -q "io.patela.Config.Pending fingerprint=$fp" "$T/ctl.out" || fail "attest while pending: $(cat "$T/ctl.out")"

ps_cli node relays "$fp" 2 >/dev/null
ps_cli node enable "$fp" >/dev/null
wait_phase running 30
ctl_rc 0 --json=short status
[[ $(jq -r '.config.phase + " " + .config.nodeState + " " + .config.lastVerdict' "$T/ctl.out") == "running enabled accepted" ]] ||
        fail "status when running: $(cat "$T/ctl.out")"
ctl_rc 0 --json=pretty status
[[ $(jq -r .config.phase "$T/ctl.out") == running && $(wc -l <"$T/ctl.out") -gt 10 ]] || fail "--json=pretty"
pass "patelactl --json=short status: pending, then running after node enable"

# keys list: the relays with keyd's fingerprints; relays: the same from configd.
ctl_rc 0 --no-legend keys list
got=$(awk '{ print $1 " " $2 }' "$T/ctl.out")
want=$(kv ListRelays | jq -r '.relays | sort_by(.name) | .[] | .name + " " + .rsaFingerprint')
[[ -n $want && $(sort <<<"$got") == "$want" && $(wc -l <<<"$want") == 2 ]] ||
        fail "keys list: '$got', keyd: '$want'"
ctl_rc 0 keys list
head -1 "$T/ctl.out" | grep -q '^NAME *RSA FINGERPRINT *ED25519 IDENTITY$' || fail "keys list header: $(cat "$T/ctl.out")"
grep -qx '2 relays with sealed keys listed.' "$T/ctl.out" || fail "keys list legend: $(cat "$T/ctl.out")"
ctl_rc 0 --no-legend relays
[[ $(awk '{ print $1 " " $2 " " $NF }' "$T/ctl.out" | sort) == "$(sed 's/ / applied /' <<<"$want")" ]] ||
        fail "relays: $(cat "$T/ctl.out"), keyd: $want"
ctl_rc 0 keys reseal-check
grep -Eq '^ *Unsealable: yes$' "$T/ctl.out" && grep -Eq '^ *Missing PCRs: none$' "$T/ctl.out" ||
        fail "reseal-check: $(cat "$T/ctl.out")"
pass "patelactl keys list and relays show keyd's fingerprints: $(tr '\n' ' ' <<<"$want")"

# config show / diff; attest (Refresh) repairs a tampered torrc, and diff is then empty.
ctl_rc 0 config show
grep -qx "Nickname exitA" "$T/ctl.out" && grep -q "^# exitB (192.0.2.11, -)" "$T/ctl.out" ||
        fail "config show: $(cat "$T/ctl.out")"
echo 'ExitPolicy accept *:*' >>"$TORRC_DIR/exitB.torrc"
ctl_rc 0 --no-legend config diff
grep -Eq "^changed +exitB +torrc +$TORRC_DIR/exitB.torrc$" "$T/ctl.out" && grep -qx -- '-ExitPolicy accept \*:\*' "$T/ctl.out" ||
        fail "config diff of a tampered torrc: $(cat "$T/ctl.out")"
ctl_rc 0 attest
grep -qx 'Attested and applied: phase running, 2 relays applied, 0 failed.' "$T/ctl.out" || fail "attest: $(cat "$T/ctl.out")"
ctl_rc 0 --no-legend config diff
[[ ! -s $T/ctl.out ]] || fail "config diff after Refresh: $(cat "$T/ctl.out")"
ctl_rc 0 config diff
grep -q '^No differences' "$T/ctl.out" || fail "config diff legend: $(cat "$T/ctl.out")"
ctl_rc 0 --json=short config diff
[[ $(jq -r '[.files[].change] | unique | join(",")' "$T/ctl.out") == unchanged ]] || fail "config diff --json"
pass "patelactl config diff names a tampered line; after attest (Refresh) it reports nothing"

# Exit codes: 2 usage, 3 not reachable, 4 declared error with its name and parameters.
ctl_rc 2 frobnicate
grep -q "Unknown command 'frobnicate'" "$T/ctl.out" || fail "unknown verb: $(cat "$T/ctl.out")"
ctl_rc 2 keys
ctl_rc 2 --json=yaml status
ctl_rc 2 identity extra
ctl_rc 3 --attest-socket="$T/nonexistent" identity
grep -q "No such file or directory" "$T/ctl.out" || fail "unreachable: $(cat "$T/ctl.out")"
ctl_rc 3 --keys-socket="$T/nonexistent" --json=short status
[[ $(jq -r '(.keys == null) and (.config.phase == "running") and (.errors.keys.message | test("nonexistent"))' "$T/ctl.out") == true ]] ||
        fail "status with keyd unreachable: $(cat "$T/ctl.out")"
mv "$POLICY" "$POLICY.away"
ctl_rc 4 keys reseal-check
mv "$POLICY.away" "$POLICY"
grep -qx "patela-keyd: io.patela.Keys.NoPolicy path=$POLICY" "$T/ctl.out" || fail "NoPolicy: $(cat "$T/ctl.out")"
ctl_rc 0 keys reseal-check
configd_alive || fail "patela-configd died"
pass "exit codes: 2 for an unknown verb, 3 for a missing socket, 4 with io.patela.Keys.NoPolicy path=…"
