#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `patelactl log verify` (io.patela.Config.VerifyLog, issue 14): a node booted (synthetically, on swtpm, with its
# firmware log) into a registered image proves that image's registration under a checkpoint signed by the fleet's
# log key, pinned through the credential patela.log-key. Then each way it must fail, with its declared error and
# patelactl's exit 4, the checkpoint kept in the node's state directory unchanged: no key pinned (NoLogKey), not
# attested yet (NotMeasured), another key of the same name (BadCheckpoint), a node booted into an image the log
# never registered (NotRegistered), the registration entry changed in the server's database so that it is not this
# boot's (EntryMismatch) or so that its hash is not the logged one (ProofInvalid), a stored hash on the entry's
# path changed (ProofInvalid), an older copy of the database served behind the same key (Rollback), another
# history of the same size (Inconsistent). Growth in between is verified with the server's consistency proof.
source "$PATELA_SOURCE_DIR/test/integration/test-configd-lib.sh"
source "$PATELA_SOURCE_DIR/test/integration/lib-uki.sh"

CTL_BIN=$PATELA_BUILD_DIR/src/patelactl/patelactl

# node_up REFERENCE (in on NODE): a TPM booted into REFERENCE's UKI, keyd's policy for that boot, the daemons;
# the fleet's log key pinned as a credential (LOG_KEY, "" for none).
node_up() {
        mkdir -p "$T/ca"
        cp "$ROOT/ca/ca.crt" "$T/ca/"
        swtpm_start
        boot_image "$1"
        policy_for_image "$1"
        tpm2_createek -c 0x81010001 -G rsa -u "$T/ek.pub" >/dev/null || fail "tpm2_createek failed"
        attestd_start --firmware-log="$T/firmware.evlog" --measure-log="$T/tpm2-measure.log"
        keyd_start
        node_configd
}

# node_configd (in on NODE): configd (anew), on the server's current URL, with LOG_KEY as its credential.
node_configd() {
        [[ -n ${PID_CONFIGD[$NODE]:-} ]] && configd_stop
        configd_config
        rm -f "$T/creds/patela.log-key"
        [[ -n $LOG_KEY ]] && printf '%s\n' "$LOG_KEY" >"$T/creds/patela.log-key"
        configd_start
        PID_CONFIGD[$NODE]=$CONFIGD_PID
        PID_KEYD[$NODE]=${KEYD_PID:-}
        PID_ATTESTD[$NODE]=$ATTESTD_PID
}

# enable (in on NODE): pending → enabled with one relay → the phase WANT (running).
enable() {
        local fp
        wait_phase pending 30
        fp=$(jq -r .fingerprint "$T/status.json")
        ps_cli node relays "$fp" 1 >/dev/null
        ps_cli node enable "$fp" >/dev/null
        wait_phase "${1:-running}" 30
}

# verify WANT [ERROR] (in on NODE): patelactl log verify exits WANT (0, or 4 with the declared ERROR); its output
# in $T/verify.out; when it succeeds, first with --json into $T/verify.json, then again as a table (which then
# extends the checkpoint of the first).
verify() {
        local rc=0
        if [[ $1 == 0 ]]; then
                "$CTL_BIN" --config-socket="$CONFIGD_SOCK" --json=short log verify >"$T/verify.json" ||
                        fail "$NODE: log verify --json failed: $(cat "$T/verify.json")"
        fi
        "$CTL_BIN" --config-socket="$CONFIGD_SOCK" log verify >"$T/verify.out" 2>&1 || rc=$?
        [[ $rc == "$1" ]] || fail "$NODE: patelactl log verify exited $rc, expected $1: $(cat "$T/verify.out")"
        if [[ $1 == 0 ]]; then
                grep -q "^ *Verified: yes" "$T/verify.out" || fail "$NODE: $(cat "$T/verify.out")"
        else
                grep -q "io.patela.Config.$2" "$T/verify.out" || fail "$NODE: not $2: $(cat "$T/verify.out")"
        fi
}

state() { cat "$ROOT/A/run/log/checkpoint"; }
# keep_state: the node's kept checkpoint now, to compare after a refusal (KEPT: its size).
keep_state() {
        cp "$ROOT/A/run/log/checkpoint" "$ROOT/state.good"
        KEPT=$(awk '$1 == "size" { print $2 }' "$ROOT/state.good")
}
same_state() { cmp -s "$ROOT/A/run/log/checkpoint" "$ROOT/state.good" || fail "the state moved over $1: $(state)"; }

# stored_leaf N: the position of entry N's leaf hash among the stored hashes (N + ⌊N/2⌋ + ⌊N/4⌋ + …).
stored_leaf() {
        local n=$1 i=0
        while ((n > 0)); do
                i=$((i + n))
                n=$((n / 2))
        done
        echo "$i"
}

# --- the fleet: an image registered, the log key ------------------------------------------------------------
make_uki "$T/uki" 1.0
make_uki "$T/uki-other" 9.9
fleet_setup "DisableNetwork 1"
ps_cli image add "$T/uki/patela.reference.json" --name first >/dev/null 2>&1 || fail "image add"
LOG_KEY=$(ps_cli log init patela.test/fleet "$T/log.key" 2>/dev/null) || fail "log init"
server_start --log-key="$T/log.key" --check-interval=300s
auth=$(jq -r .uki.authenticode "$T/uki/patela.reference.json")
http GET "/v1/log/registration?authenticode=$auth" >"$T/reg.json"
[[ $HTTP_STATUS == 200 && $(jq .index "$T/reg.json") == 0 ]] && grep -q "^uki-authenticode $auth$" <(jq -r .entry "$T/reg.json") ||
        fail "registration: HTTP $HTTP_STATUS $(cat "$T/reg.json")"
for q in "authenticode=${auth^^}" "authenticode=${auth:1}" "authenticode=$auth%0a" "authenticode=" ""; do
        http GET "/v1/log/registration?$q" >/dev/null
        expect_error 400 InvalidField
done
http GET "/v1/log/registration?authenticode=$(jq -r .uki.authenticode "$T/uki-other/patela.reference.json")" >/dev/null
expect_error 404 NotFound
pass "GET /v1/log/registration: the image's entry by its UKI's Authenticode; not a digest 400, not registered 404"

# --- node A: not attested yet, then enabled and Trusted ------------------------------------------------------
NODE=A LOG_KEY="" on A node_up "$ROOT/uki/patela.reference.json"
on A wait_phase pending 30
on A verify 4 NoLogKey
NODE=A on A node_configd
on A verify 4 NotMeasured
grep -q "has not attested yet" "$ROOT/A/verify.out" || fail "$(cat "$ROOT/A/verify.out")"
[[ ! -e $ROOT/A/run/log/checkpoint ]] || fail "a checkpoint was kept without a verification"
pass "no key pinned: NoLogKey; a node not attested yet: NotMeasured (exit 4), nothing kept"

on A enable
[[ $(jq -r .bootVerdict "$ROOT/A/status.json") == Trusted ]] || fail "A: $(cat "$ROOT/A/status.json")"
on A verify 0
size1=$(jq .treeSize "$ROOT/A/verify.json")
(($(ps_cli --json log show | jq .size) >= size1)) || fail "the node verified a checkpoint beyond the log"
jq -e --argjson s "$size1" --arg a "$(jq -r .uki.authenticode "$T/uki/patela.reference.json")" \
        --arg u "$(jq -r .uki.sha256 "$T/uki/patela.reference.json")" \
        '.origin == "patela.test/fleet" and .treeSize == $s and .image == "first" and .entryIndex == 0 and
         .ukiAuthenticode == $a and .ukiSha256 == $u and .previousTreeSize == null and
         (.checkpoint | startswith("patela.test/fleet\n"))' "$ROOT/A/verify.json" >/dev/null ||
        fail "VerifyLog: $(cat "$ROOT/A/verify.json") (log of $size1)"
grep -q "^ *Image: first$" "$ROOT/A/verify.out" || fail "$(cat "$ROOT/A/verify.out")"
kept=$(state | awk '$1 == "size" { print $2 }')
((kept >= size1)) || fail "state: $(state)"
on A status >/dev/null
[[ $(jq -r .logError "$ROOT/A/status.json") == null && $(jq .logTreeSize "$ROOT/A/status.json") == "$kept" ]] ||
        fail "GetStatus: $(cat "$ROOT/A/status.json")"
"$CTL_BIN" --config-socket="$ROOT/A/io.patela.Config" status >"$T/status.out" 2>&1 || true
grep -q "Log: verified .* of $kept entries" "$T/status.out" || fail "patelactl status: $(cat "$T/status.out")"
# A copy of the database as it is now, for the rollback below (the server goes on with the original).
if db_is_postgresql; then
        SMALL="postgresql:///small?host=$PG_DIR"
        "$PG_BIN/createdb" -h "$PG_DIR" small || fail "createdb small"
        pg_dump -d "$DB" | psql -X -q -v ON_ERROR_STOP=1 -d "$SMALL" >/dev/null || fail "copying the database"
else
        SMALL=$T/small.db
        sqlite3 "$DB" ".backup $SMALL"
fi
pass "a Trusted node: its image's registration (entry 0) proved under the signed checkpoint of $size1 entries; shown in status"

# --- growth: verified through the consistency proof --------------------------------------------------------
ps_cli image add "$T/uki-other/patela.reference.json" --name other >/dev/null 2>&1 || fail "image add other"
ps_cli image retire other >/dev/null 2>&1 || fail "image retire"
on A verify 0
size2=$(jq .treeSize "$ROOT/A/verify.json")
((size2 >= size1 + 2)) || fail "the log did not grow: $size1 → $size2"
jq -e --argjson s1 "$kept" --argjson s2 "$size2" '.treeSize == $s2 and .previousTreeSize == $s1' \
        "$ROOT/A/verify.json" >/dev/null || fail "VerifyLog after growth: $(cat "$ROOT/A/verify.json")"
grep -q "Consistency: extends the one of [0-9]* entries verified before" "$ROOT/A/verify.out" || fail "$(cat "$ROOT/A/verify.out")"
pass "the log grew to $size2 entries: verified as extending the checkpoint of $kept kept in the node's state"

# --- what a lying server serves: the node refuses, its state does not move ------------------------------------
keep_state
# Behind the server's back, past the log's append-only triggers (lib-server.sh's db_tamper), in either dialect.
blob() { db_is_postgresql && echo "'\\x$1'::bytea" || echo "X'$1'"; }
entry_hex=$(db_query "SELECT $(db_hex entry) FROM tlog_entries WHERE idx = 0")
entry=$(xxd -r -p <<<"$entry_hex")
pcr9=$(awk '$1 == "pcr9" { print $2 }' <<<"$entry")
tamper() {
        local changed
        changed=$(xxd -r -p <<<"$entry_hex" | sed "s/$1/$2/g" | xxd -p | tr -d '\n')
        db_tamper "$DB" tlog_entries "UPDATE tlog_entries SET entry = $(blob "$changed") WHERE idx = 0"
}
restore() { db_tamper "$DB" tlog_entries "UPDATE tlog_entries SET entry = $(blob "$entry_hex") WHERE idx = 0"; }

tamper "name first" "name firsT"
on A verify 4 ProofInvalid
grep -q "entry 0 as served is not in the signed tree of [0-9]* entries" "$ROOT/A/verify.out" ||
        fail "$(cat "$ROOT/A/verify.out")"
restore
[[ $(db_query "SELECT $(db_hex entry) FROM tlog_entries WHERE idx = 0") == "$entry_hex" ]] || fail "restore"
tamper "pcr9 $pcr9" "pcr9 $(printf '%064d' 9)"
on A verify 4 EntryMismatch
grep -q "PCR 9 (initrd and command line) is not this boot's" "$ROOT/A/verify.out" || fail "$(cat "$ROOT/A/verify.out")"
restore
leaf1=$(stored_leaf 1)
hash1=$(db_query "SELECT $(db_hex hash) FROM tlog_hashes WHERE id = $leaf1")
db_tamper "$DB" tlog_hashes "UPDATE tlog_hashes SET hash = $(blob "$(printf '%064d' 0)") WHERE id = $leaf1"
on A verify 4 ProofInvalid
same_state "a changed entry or hash"
db_tamper "$DB" tlog_hashes "UPDATE tlog_hashes SET hash = $(blob "$hash1") WHERE id = $leaf1"
on A verify 0
pass "an entry changed in the database: ProofInvalid (its hash) or EntryMismatch (not this boot's PCR 9); a stored hash on its path changed: ProofInvalid; restored, it verifies"

# --- another key of the same name ------------------------------------------------------------------------------
X_DB=$T/x.db
if db_is_postgresql; then
        X_DB="postgresql:///x?host=$PG_DIR"
        "$PG_BIN/createdb" -h "$PG_DIR" x || fail "createdb x"
fi
"$SERVER_BIN" --database="$X_DB" log init patela.test/fleet "$T/other.key" >"$T/other.pub" 2>/dev/null ||
        fail "log init other"
NODE=A LOG_KEY=$(cat "$T/other.pub") on A node_configd
on A wait_phase running 30
keep_state
on A verify 4 BadCheckpoint
grep -q "not signed by the pinned key patela.test/fleet+" "$ROOT/A/verify.out" || fail "$(cat "$ROOT/A/verify.out")"
same_state "another key"
pass "another key named patela.test/fleet pinned: BadCheckpoint"

# --- a rollback: an older copy of the database behind the same key -------------------------------------------
server_stop
# The grown database, kept for later (on PostgreSQL the original stays as it is: the copy is another database).
GROWN=$DB
if ! db_is_postgresql; then
        GROWN=$T/grown.db
        cp "$DB" "$GROWN"
fi
DB=$SMALL server_start --log-key="$T/log.key" --check-interval=300s
NODE=A on A node_configd # the server's new address; the kept checkpoint is in the node's state directory
on A wait_phase running 30
small=$(DB=$SMALL ps_cli --json log show | jq .size)
((small < KEPT)) || fail "the old database has grown past the kept checkpoint: $small"
on A verify 4 Rollback
grep -q "the log went back from $KEPT entries (verified before) to $small" "$ROOT/A/verify.out" ||
        fail "$(cat "$ROOT/A/verify.out")"
same_state "a rollback"
pass "an older database behind the same key ($small entries after $KEPT): Rollback, the kept checkpoint unchanged"

# --- a fork: another history from the small one, as long as the kept checkpoint -------------------------------
while (($(DB=$SMALL ps_cli --json log show | jq .size) < KEPT)); do
        DB=$SMALL ps_cli node disable "$(jq -r .fingerprint "$ROOT/A/status.json")" >/dev/null 2>&1
        DB=$SMALL ps_cli node enable "$(jq -r .fingerprint "$ROOT/A/status.json")" >/dev/null 2>&1
done
on A verify 4 Inconsistent
grep -q "two signed checkpoints of $KEPT entries with different heads\|does not extend the one of $KEPT verified before" \
        "$ROOT/A/verify.out" || fail "$(cat "$ROOT/A/verify.out")"
same_state "a fork"
pass "another history behind the same key, as long or longer: Inconsistent, the kept checkpoint unchanged"
server_stop

# --- a node booted into an image the log never registered -----------------------------------------------------
DB=$GROWN server_start --log-key="$T/log.key" --check-interval=300s
DB=$GROWN
NODE=B on B node_up "$ROOT/uki-other/patela.reference.json"
on B enable refused
[[ $(jq -r .bootVerdict "$ROOT/B/status.json") == RetiredImage ]] || fail "B: $(cat "$ROOT/B/status.json")"
on B verify 0 # retired, but registered: the log has it
make_uki "$T/uki-none" 0.0
mkdir -p "$ROOT/C"
NODE=C on C node_up "$ROOT/uki-none/patela.reference.json"
on C enable refused
[[ $(jq -r .bootVerdict "$ROOT/C/status.json") == UnknownImage ]] || fail "C: $(cat "$ROOT/C/status.json")"
on C verify 4 NotRegistered
grep -q "the log registered no image whose UKI is the one this node booted (Authenticode $(jq -r .uki.authenticode "$T/uki-none/patela.reference.json"))" \
        "$ROOT/C/verify.out" || fail "$(cat "$ROOT/C/verify.out")"
pass "a node refused for an image the log never registered: NotRegistered; one on a retired image still proves its registration"
