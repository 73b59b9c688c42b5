#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-durability.sh ROUNDS OPERATIONS [sqlite|postgresql]: patela-durability (issue 15, item 3) against
# patela-server on a SQLite database or on PostgreSQL (a private cluster, test/lib-postgres.sh): ROUNDS kills
# with SIGKILL at random moments among OPERATIONS enrolments, authentications and admin changes from
# PATELA_DURABILITY_THREADS (4) client threads; after every kill the database, the logs and the server are
# checked against the journal of what the server acknowledged. Then the same program, told to tamper with the
# database behind the server's back after its last kill, must report the damage: the checks can fail.
#
# On PostgreSQL the cluster is not killed with the server, but in every 5th round it crashes too (pg_ctl stop
# -m immediate, then start: its recovery from the WAL) under the workload, just before the server's kill.
#
# Environment: PATELA_DURABILITY_SEED (random; printed either way: the same seed repeats the operations and
# kill targets), PATELA_DURABILITY_THREADS, PATELA_DURABILITY_DIR (database and journal; default the test's
# directory), PATELA_DURABILITY_ROUNDS and PATELA_DURABILITY_OPERATIONS override the arguments;
# PATELA_TEST_DB_BACKEND=postgresql when the third argument is not given.
export PATELA_TEST_DB_BACKEND=${3:-${PATELA_TEST_DB_BACKEND:-sqlite}}
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

ROUNDS=${PATELA_DURABILITY_ROUNDS:-${1:-10}}
OPERATIONS=${PATELA_DURABILITY_OPERATIONS:-${2:-600}}
THREADS=${PATELA_DURABILITY_THREADS:-4}
WORK=${PATELA_DURABILITY_DIR:-$T/work}
DURABILITY=$PATELA_BUILD_DIR/test/durability/patela-durability
REFERENCE=$PATELA_SOURCE_DIR/test/boot/fixtures/qemu-ovmf/patela.reference.json

ca_setup
mkdir -p "$WORK"

CRASH=()
CRASH_EVERY=5
if [[ $PATELA_TEST_DB_BACKEND == postgresql ]]; then
        # The database server's crash: no shutdown checkpoint, the backends killed; start replays the WAL.
        printf '%q ' "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >"$T/pg-crash.sh"
        printf '&& ' >>"$T/pg-crash.sh"
        printf '%q ' "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 start \
                >>"$T/pg-crash.sh"
        CRASH=(--database-crash "bash $T/pg-crash.sh" --database-crash-rounds "$CRASH_EVERY")
fi

# durability NAME ARGS…: one run on a new database ($WORK/NAME/server.db, or the cluster's database NAME); its
# output in $T/NAME.out and .log.
durability() {
        local name=$1 db
        shift
        rm -rf "${WORK:?}/$name"
        mkdir -p "$WORK/$name"
        db=$WORK/$name/server.db
        if [[ $PATELA_TEST_DB_BACKEND == postgresql ]]; then
                "$PG_BIN/dropdb" -h "$PG_DIR" --if-exists "$name" 2>/dev/null &&
                        "$PG_BIN/createdb" -h "$PG_DIR" "$name" || fail "createdb $name failed"
                db="postgresql:///$name?host=$PG_DIR"
        fi
        "$DURABILITY" --server "$SERVER_BIN" --database "$db" --certificate "$T/ca/server.crt" \
                --private-key "$T/ca/server.key" --cacert "$T/ca/ca.crt" --reference "$REFERENCE" \
                --work-dir "$WORK/$name" --threads "$THREADS" ${PATELA_DURABILITY_SEED:+--seed "$PATELA_DURABILITY_SEED"} \
                "$@" >"$T/$name.out" 2>"$T/$name.log"
}

rc=0
durability run --rounds "$ROUNDS" --operations "$OPERATIONS" "${CRASH[@]}" || rc=$?
sed 's/^/# /' "$T/run.log"
if [[ $rc -ne 0 ]]; then
        cp "$WORK/run/server.log" "$T/server.log" 2>/dev/null || true
        cp "$WORK/run/journal" "$T/journal.log" 2>/dev/null || true
        fail "patela-durability exited with $rc (see the violations above; the seed is on its first line)"
fi
RESULT=$(tail -1 "$T/run.out")
echo "$RESULT"
# The run must have done what it claims: every kill, each kind of change acknowledged, and checks of them.
jq -e --argjson rounds "$ROUNDS" '.violations == 0 and .kills == $rounds and .cut_off > 0
        and .changes_checked > .acknowledged and .tokens_checked > 0' <<<"$RESULT" >/dev/null ||
        fail "the run did not exercise what it should: $RESULT"
# A stall (no operation finished for 10 s) is not a lost change, but worth a look: said, not failed.
[[ $(jq .stalls <<<"$RESULT") == 0 ]] || echo "# WARNING: $(jq .stalls <<<"$RESULT") stalls of 10 s or more (see the rounds above)"
for op in enrol auth enable disable relays pool-add image-add; do
        grep -Eq "^ *$op +attempted +[0-9]+ +acknowledged +[1-9]" "$T/run.log" || fail "no acknowledged $op"
done
CRASHED=
if [[ ${#CRASH[@]} -gt 0 ]]; then
        # Each crash was one: the cluster found itself not shut down and recovered from the WAL.
        crashes=$(jq .database_crashes <<<"$RESULT")
        recoveries=$(grep -c "database system was not properly shut down; automatic recovery in progress" \
                "$PG_DIR/postgres.log" || true)
        [[ $crashes -eq $((ROUNDS / CRASH_EVERY)) && $recoveries -eq $crashes ]] ||
                fail "$crashes crashes of the database server, $recoveries recoveries in its log, expected" \
                        "$((ROUNDS / CRASH_EVERY))"
        CRASHED=" and $crashes crashes of PostgreSQL"
fi
pass "$ROUNDS kills with SIGKILL$CRASHED among $OPERATIONS operations on $PATELA_TEST_DB_BACKEND: nothing" \
        "acknowledged lost, no invariant broken"

# The checks can fail: after its last kill the program changes an attestation, changes the oldest and removes
# the newest transparency log entry, and disables an enabled node with SQL behind the server's back (and on
# PostgreSQL leaves an index without the entry of a row).
rc=0
durability tamper --rounds 3 --operations 360 --tamper || rc=$?
[[ $rc -eq 1 ]] || fail "patela-durability --tamper exited with $rc, expected 1: $(tail -5 "$T/tamper.log")"
grep 'VIOLATION' "$T/tamper.log" | sed 's/^/# tamper: /'
grep -q 'VIOLATION: attestation [0-9]* changed' "$T/tamper.log" || fail "the changed attestation went unnoticed"
grep -q 'VIOLATION: transparency log entry 0 changed' "$T/tamper.log" || fail "the changed log entry went unnoticed"
grep -q 'VIOLATION: patela-server log verify' "$T/tamper.log" || fail "log verify's failure went unnoticed"
# The node: its state against the journal (unless a cut-off change left it open), the log's node entries against
# the enabled nodes (unless the removed newest entry was a node-enabled one, which evens the count out: then
# the log has fewer of those than acknowledged).
grep -Eq 'VIOLATION: (node .*: state disabled, the last acknowledged change made it enabled|the transparency log is off by 1: node-enabled entries|[0-9]+ node-enabled entries in the transparency log)' \
        "$T/tamper.log" || fail "the node disabled behind the server's back went unnoticed"
# PostgreSQL: an index that lost an entry (a row written while it was marked not ready) is amcheck's to find.
if [[ $PATELA_TEST_DB_BACKEND == postgresql ]]; then
        grep -q 'VIOLATION: integrity check: bt_index_parent_check: .*lacks matching index tuple' "$T/tamper.log" ||
                fail "the index that lost an entry went unnoticed by amcheck"
fi
pass "tampering after a kill is reported ($(grep -c VIOLATION "$T/tamper.log") violations)"
