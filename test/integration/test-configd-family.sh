#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One family for the fleet (issue 12, item 3), on two nodes at once against one patela-server: each node is swtpm
# booted (synthetically, with both event logs) into a registered image, so that the server judges it Trusted, with
# attestd, keyd (sealing to that boot) and configd of its own. `family init` before they come: both nodes' relays
# carry the same FamilyId, keyd's key directories hold its key, tor --verify-config accepts every torrc and tor
# started on a relay's torrc and keys loads the family key. `family rotate`: within the session check interval
# (2 s here) both nodes carry both FamilyIds and keys, the relays marked for a restart; `family retire`: the old
# key's lines and files go everywhere. A node whose boot is not Trusted (MeasuredBoot=warn, a missing userspace
# log) gets no family: no key, no FamilyId line, its keyd drops the keys it held. No session, no family: the
# relays endpoint answers 401. The secret is in no log; the database is 0600.
source "$PATELA_SOURCE_DIR/test/integration/test-configd-lib.sh"
source "$PATELA_SOURCE_DIR/test/integration/lib-uki.sh"

chmod 0755 "$ROOT" # tor runs as the relays' user on files below it

# node_up (in on NODE): a TPM booted into the registered image, keyd's policy for that boot, the daemons.
node_up() {
        mkdir -p "$T/ca"
        cp "$ROOT/ca/ca.crt" "$T/ca/"
        swtpm_start
        boot_image "$ROOT/uki/patela.reference.json"
        policy_for_image "$ROOT/uki/patela.reference.json"
        tpm2_createek -c 0x81010001 -G rsa -u "$T/ek.pub" >/dev/null || fail "tpm2_createek failed"
        attestd_start --firmware-log="$T/firmware.evlog" --measure-log="$T/tpm2-measure.log"
        keyd_start
        configd_config
        configd_start
        PID_CONFIGD[$NODE]=$CONFIGD_PID
        PID_KEYD[$NODE]=$KEYD_PID
        PID_ATTESTD[$NODE]=$ATTESTD_PID
}

# configd_restart (in on NODE): configd anew, on the server's URL now (a restarted server has another port).
configd_restart() {
        configd_stop
        configd_config
        configd_start
        PID_CONFIGD[$NODE]=$CONFIGD_PID
        wait_phase running 30
}

# enable RELAYS (in on NODE): pending → enabled with RELAYS relays → running, Trusted.
enable() {
        local fp
        wait_phase pending 30
        fp=$(jq -r .fingerprint "$T/status.json")
        ps_cli node relays "$fp" "$1" >/dev/null
        ps_cli node enable "$fp" >/dev/null
        wait_phase running 30
        [[ $(jq -r .bootVerdict "$T/status.json") == Trusted ]] || fail "$NODE: $(cat "$T/status.json")"
}

# family_is IDS (in on NODE): the node's status, every relay's torrc (its FamilyId lines, in order), keyd's key
# directories and ListRelays say exactly IDS (space-separated, "" for none).
family_is() {
        local want=$1 name url files
        [[ $(jq -r '.familyIds | join(" ")' "$T/status.json") == "$want" ]] ||
                fail "$NODE: familyIds $(jq -c .familyIds "$T/status.json"), expected '$want'"
        [[ $(kv ListRelays | jq -r '.familyIds | join(" ")') == "$want" ]] || fail "$NODE: keyd holds other family keys"
        for name in $(jq -r '.relays[].name' "$T/status.json"); do
                [[ $(awk '$1 == "FamilyId" { print $2 }' "$TORRC_DIR/$name.torrc" | tr '\n' ' ' | sed 's/ $//') == "$want" ]] ||
                        fail "$NODE/$name: torrc FamilyId lines: $(grep FamilyId "$TORRC_DIR/$name.torrc")"
                url=$(for id in $want; do echo "$id.secret_family_key"; done | tr '+/' '-_' | sort | tr '\n' ' ' | sed 's/ $//')
                files=$(cd "$KEYD_KEYS/$name" && ls -- *.secret_family_key 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//' || true)
                [[ $files == "$url" ]] || fail "$NODE/$name: family key files '$files', expected '$url'"
        done
}

# wait_family IDS SECONDS (in on NODE): until the node's status says IDS.
wait_family() {
        local i
        for ((i = 0; i < $2 * 20; i++)); do
                [[ $(status | jq -r '.phase + " " + (.familyIds | join(" "))') == "running $1" ]] && return 0
                sleep 0.05
        done
        fail "$NODE: family '$1' not reached in $2 s: $(cat "$T/status.json")"
}

# tor_family NAME (in on NODE): tor, as the relay's user, started on the torrc configd wrote and keyd's key
# directory, loads the family keys its FamilyId lines name and keeps running; TOR_FAMILY is how many it loaded.
# (Not in $(…): the subshell would run the test's EXIT trap.)
tor_family() {
        local name=$1 pid i
        tor_check "$name" # the copy with DisableNetwork, the data directory as the relay's user
        printf 'Log info file %s\n' "$DATA_DIR/$name/info.log" >>"$T/$name.verify.torrc"
        rm -f "$DATA_DIR/$name/info.log"
        # Not as_nobody, a function: in the background it would be a subshell whose pid is not tor's.
        setpriv --reuid=nobody --regid=nogroup --clear-groups tor -f "$T/$name.verify.torrc" --quiet &
        pid=$!
        PIDS+=("$pid")
        for ((i = 0; i < 100; i++)); do
                grep -q "Found [0-9]* family ID keys" "$DATA_DIR/$name/info.log" 2>/dev/null && break
                kill -0 "$pid" 2>/dev/null || fail "$NODE/$name: tor exited: $(tail -3 "$DATA_DIR/$name/info.log")"
                sleep 0.1
        done
        sleep 0.5
        kill -0 "$pid" 2>/dev/null || fail "$NODE/$name: tor exited: $(tail -3 "$DATA_DIR/$name/info.log")"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        if grep -E "No key was found|unexpected FamilyID|was not a family ID key" "$DATA_DIR/$name/info.log"; then
                fail "$NODE/$name: tor complains about the family keys"
        fi
        TOR_FAMILY=$(grep -o "Found [0-9]* family ID keys" "$DATA_DIR/$name/info.log" | awk '{ print $2 }')
}

# --- the server: an image registered (measured boot enforced), the fleet's family key -------------------
make_uki "$T/uki" 1.0
fleet_setup "DisableNetwork 1"
ps_cli image add "$T/uki/patela.reference.json" >/dev/null 2>&1 || fail "image add"
ps_cli family show >/dev/null 2>&1 && fail "family show without a key succeeded"
ps_cli family rotate >/dev/null 2>&1 && fail "family rotate without a key succeeded"
ID1=$(ps_cli family init | awk '$1 == "FamilyId" { print $2 }')
[[ $ID1 =~ ^[A-Za-z0-9+/]{43}$ ]] || fail "family init: '$ID1'"
rc=0
ps_cli family init >/dev/null 2>&1 || rc=$?
[[ $rc == 4 ]] || fail "a second family init exited $rc, not 4"
[[ $(ps_cli --json family show | jq -r '.[0].familyId + " " + .[0].state') == "$ID1 current" ]] ||
        fail "family show: $(ps_cli --json family show)"
# A SQLite file is the server's to protect (PostgreSQL's files are the cluster's, behind its own access control).
if ! db_is_postgresql; then
        [[ $(stat -c %a "$DB") == 600 ]] || fail "the database holding the family key is mode $(stat -c %a "$DB")"
fi
pass "family init: FamilyId $ID1 (a second init exits 4; show and rotate without a key fail); a SQLite database is 0600"

server_start --check-interval=2s

# --- two nodes, the same family --------------------------------------------------------------------------
on A node_up
on B node_up
on A enable 2
on B enable 1
for n in A B; do
        on $n status >/dev/null
        on $n family_is "$ID1"
done
for name in exitA exitB; do
        on A tor_family "$name"
        [[ $TOR_FAMILY == 1 ]] || fail "A/$name: tor loaded $TOR_FAMILY family keys"
done
on B tor_family exitC
[[ $TOR_FAMILY == 1 ]] || fail "B/exitC: tor loaded $TOR_FAMILY family keys"
pass "two Trusted nodes: their 3 relays carry FamilyId $ID1 and hold its key; tor --verify-config accepts each torrc, tor runs on it and loads the family key"

# --- rotation: the new key next to the old, then the old retired -----------------------------------------
ID2=$(ps_cli family rotate | awk '$1 == "FamilyId" { print $2 }')
[[ $ID2 =~ ^[A-Za-z0-9+/]{43}$ && $ID2 != "$ID1" ]] || fail "family rotate: '$ID2'"
rc=0
ps_cli family rotate >/dev/null 2>&1 || rc=$?
[[ $rc == 4 ]] || fail "a second rotation while one runs exited $rc, not 4"
for n in A B; do
        on $n wait_family "$ID1 $ID2" 15
        on $n family_is "$ID1 $ID2"
done
grep -q "The server asks for a fresh attestation" "$ROOT/A/configd.log" || fail "A did not learn it from the check"
for name in exitA exitB; do
        grep -q "would restart patela-tor@$name.service" "$ROOT/A/configd.log" || fail "A/$name: no restart"
done
on B tor_family exitC
[[ $TOR_FAMILY == 2 ]] || fail "B/exitC: tor loaded $TOR_FAMILY family keys"
pass "family rotate: at the next session check both nodes carry FamilyId $ID1 and $ID2 and both keys (tor loads 2), their relays restarted"

ps_cli family retire >/dev/null 2>&1 || fail "family retire"
[[ $(ps_cli --json family show --all | jq -r 'map(.state) | join(",")') == current,retired ]] ||
        fail "family show --all: $(ps_cli --json family show --all)"
[[ $(db_query "SELECT count(*) FROM family_keys WHERE secret IS NOT NULL") == 1 ]] || fail "the retired secret is still stored"
rc=0
ps_cli family retire >/dev/null 2>&1 || rc=$?
[[ $rc == 4 ]] || fail "retiring the only key exited $rc, not 4"
for n in A B; do
        on $n wait_family "$ID2" 15
        on $n family_is "$ID2"
done
on A tor_family exitB
[[ $TOR_FAMILY == 1 ]] || fail "A/exitB: tor loaded $TOR_FAMILY family keys"
pass "family retire: the previous key's FamilyId lines and key files gone from both nodes, its secret from the database; the last key cannot be retired"

# --- event logs named by their SHA-256 (docs/protocol.md) ----------------------------------------------------
# The re-attestations above named the logs the server had accepted; a restarted server holds none of them, answers
# 409 EventLogsRequired, and configd answers the same challenge again with the logs.
grep -q "The event logs were named by their SHA-256; the server held them" "$ROOT/A/configd.log" ||
        fail "A never named its event logs in a re-attestation"
server_stop
SERVER_PORT=${URL##*:} server_start --check-interval=2s # where configd finds it
sent=$(grep -c "EventLogsRequired.*sending the event logs" "$ROOT/A/configd.log" || true)
on A cv Refresh >/dev/null || fail "A: Refresh after the server's restart: $(tail -15 "$ROOT/A/configd.log")"
[[ $(grep -c "EventLogsRequired.*sending the event logs" "$ROOT/A/configd.log") == $((sent + 1)) ]] ||
        fail "A: no second answer with the logs after the restart: $(grep -i "event logs" "$ROOT/A/configd.log" | tail -3)"
[[ $(on A status | jq -r '.bootVerdict + " " + .phase') == "Trusted running" ]] || fail "A after the restart: $(cat "$ROOT/A/status.json")"
pass "re-attestations name the accepted logs by their SHA-256; after a server restart EventLogsRequired, and the same challenge answered with the logs: Trusted"

# --- a boot that is not Trusted gets no family ------------------------------------------------------------
server_stop
server_start --check-interval=2s --measured-boot=warn
mv "$ROOT/B/tpm2-measure.log" "$ROOT/B/tpm2-measure.log.away"
restarts=$(grep -c "would restart patela-tor@exitC.service" "$ROOT/B/configd.log")
on B configd_restart
[[ $(jq -r .bootVerdict "$ROOT/B/status.json") == LogMismatch ]] || fail "B: $(cat "$ROOT/B/status.json")"
on B family_is ""
(($(grep -c "would restart patela-tor@exitC.service" "$ROOT/B/configd.log") > restarts)) || fail "B/exitC: no restart"
grep -q "the family keys are withheld" "$T/server.log" || fail "the server does not say it withheld the keys"
[[ $(ps_cli --json node show "$(jq -r .fingerprint "$ROOT/B/status.json")" | jq -r .family) == withheld &&
   $(ps_cli --json node show "$(jq -r .fingerprint "$ROOT/A/status.json")" | jq -r .family) == released ]] ||
        fail "node show: $(ps_cli --json node show 2)"
on B tor_check exitC
restarts=$(grep -c "would restart" "$ROOT/A/configd.log")
on A configd_restart
on A family_is "$ID2"
[[ $(grep -c "would restart" "$ROOT/A/configd.log") == "$restarts" ]] ||
        fail "A: a configd restart with the same family keys restarted relays"
mv "$ROOT/B/tpm2-measure.log.away" "$ROOT/B/tpm2-measure.log"
on B cv Refresh >/dev/null || fail "B: Refresh"
on B status >/dev/null
on B family_is "$ID2"
pass "MeasuredBoot=warn and a boot judged LogMismatch: running, but no family key and no FamilyId line (keyd dropped the key; node show: withheld), its relay restarted; the Trusted node keeps its family, and a configd restart restarts no relay; Trusted again: back"

# --- no session, no family -----------------------------------------------------------------------------------
http GET /v1/node/relays >/dev/null
expect_error 401 TokenMissing
http GET /v1/node/relays "" "Authorization: Bearer $(head -c 32 /dev/urandom | base64 -w0)" >/dev/null
expect_error 401 TokenRejected
ps_cli node disable "$(jq -r .fingerprint "$ROOT/B/status.json")" >/dev/null
on B wait_phase refused 10
for ((i = 0; i < 50; i++)); do
        [[ -z $(find "$ROOT/B/keys" -name '*.secret_family_key' 2>/dev/null) ]] && break
        sleep 0.1
done
[[ -z $(find "$ROOT/B/keys" -name '*.secret_family_key') ]] || fail "family keys left on the disabled node"
pass "GET /v1/node/relays without a session: 401 TokenMissing, with a made-up token: 401 TokenRejected; node disabled: refused, its family key files removed"

# --- the secret in no log ---------------------------------------------------------------------------------------
secret=$(db_query "SELECT $(db_hex secret) FROM family_keys WHERE secret IS NOT NULL" | xxd -r -p | base64 -w0)
[[ ${#secret} == 44 ]] || fail "no secret read back"
if grep -rlF -e "$secret" -e "${secret%=}" "$ROOT" --include='*.log'; then
        fail "the family key's secret is in a log"
fi
pass "the family key's secret appears in no log of the server, configd, keyd or attestd"

on A configd_stop
