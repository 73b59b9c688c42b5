#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-monitor against a real patela-server over TLS: a first run verifies the signed checkpoint and every
# entry and keeps the state; the log grows and the next run verifies the growth (entries hashed by the
# monitor, the server's consistency proof); then what a lying server does is reported and the state does not
# move: a rollback (an older copy of the database behind the same key), a fork (another history of the same
# size under the same key), a checkpoint under another key, a registration of a UKI the operator cannot
# rebuild; a state file changed by hand is refused; an unreachable server is a finding, not a crash.
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"

MONITOR=$PATELA_BUILD_DIR/src/monitor/patela-monitor
FIXTURE=$PATELA_SOURCE_DIR/test/boot/fixtures/qemu-ovmf/patela.reference.json
STATE=$T/monitor

# The test's databases by name, on either backend (lib-server.sh's PATELA_TEST_DB_BACKEND): db_named NAME is the
# --database= value of NAME (the server's own is "main"), db_clone FROM TO copies one that nothing has open,
# db_new NAME makes an empty one.
db_named() {
        if db_is_postgresql; then
                [[ $1 == main ]] && echo "$DB" || echo "postgresql:///$1?host=$PG_DIR"
        else
                [[ $1 == main ]] && echo "$DB" || echo "$T/$1.db"
        fi
}
db_clone() {
        if db_is_postgresql; then
                "$PG_BIN/createdb" -h "$PG_DIR" -T "$([[ $1 == main ]] && echo patela || echo "$1")" "$2" ||
                        fail "createdb -T $1 $2"
        else
                cp "$(db_named "$1")" "$(db_named "$2")"
        fi
}
db_new() {
        if db_is_postgresql; then
                "$PG_BIN/createdb" -h "$PG_DIR" "$1" || fail "createdb $1"
        fi
}

vkey=$(ps_cli log init patela.test/fleet "$T/log.key" 2>/dev/null) || fail "log init"
ps_cli image add "$FIXTURE" --name first >/dev/null 2>&1 || fail "image add"
db_clone main one_entry
server_start --log-key="$T/log.key"
mkdir -p "$STATE"
monitor() {
        "$MONITOR" --url "$URL" --cacert "$T/ca/ca.crt" --log-key "$vkey" --state-directory "$STATE" "$@" \
                >"$T/monitor.out" 2>&1
}
state_size() { awk '$1 == "size" { print $2 }' "$STATE/state"; }

monitor || fail "first run: $(cat "$T/monitor.out")"
grep -q "^verified: checkpoint of patela.test/fleet verified: 1 entries" "$T/monitor.out" || fail "$(cat "$T/monitor.out")"
[[ $(state_size) == 1 ]] || fail "state: $(cat "$STATE/state")"
grep -q "^image first $(jq -r .uki.sha256 "$FIXTURE") active$" "$STATE/state" ||
        fail "the registration is not in the state: $(cat "$STATE/state")"
pass "first run: the checkpoint under the pinned key, its one entry hashed here; state kept"

ps_cli image retire first >/dev/null 2>&1 || fail "image retire"
monitor || fail "second run: $(cat "$T/monitor.out")"
grep -q "verified: 2 entries" "$T/monitor.out" || fail "$(cat "$T/monitor.out")"
grep -q "^image first [0-9a-f]\{64\} retired$" "$STATE/state" || fail "the retirement is not in the state"
pass "the log grew: the new entry hashed into the kept tree gives the new signed head, the consistency proof agrees"

cp "$STATE/state" "$T/state.good"
# A rollback: the server serves an older copy of its database, under the same key.
server_stop
db_clone one_entry rolled
DB=$(db_named rolled) server_start --log-key="$T/log.key"
monitor && fail "a rollback went unnoticed: $(cat "$T/monitor.out")"
grep -q "^rollback: the log went back from 2 to 1 entries" "$T/monitor.out" || fail "$(cat "$T/monitor.out")"
cmp -s "$STATE/state" "$T/state.good" || fail "the state moved over a rollback"
server_stop

# A fork: another history of the same size under the same key (the first entry, then another image's
# registration instead of the retirement).
db_clone one_entry fork
a=$(printf '%064d' 8)
jq --arg s "$(printf '%064d' 7)" --arg a "$a" \
        '.uki.sha256 = $s | .uki.authenticode = $a | ([.records[].pcr] | index(4)) as $i | .records[$i].sha256 = $a' \
        "$FIXTURE" >"$T/other.reference.json"
"$SERVER_BIN" --database="$(db_named fork)" image add "$T/other.reference.json" --name other >"$T/fork-add.log" 2>&1 ||
        fail "image add other: $(cat "$T/fork-add.log")"
DB=$(db_named fork) server_start --log-key="$T/log.key"
[[ $(DB=$(db_named fork) ps_cli --json log show | jq .size) == 2 ]] || fail "the forked log is not of size 2"
monitor && fail "a fork went unnoticed: $(cat "$T/monitor.out")"
grep -q "^fork: the entries the server serves do not give its signed head\|^fork: .*consistency proof" "$T/monitor.out" ||
        fail "$(cat "$T/monitor.out")"
cmp -s "$STATE/state" "$T/state.good" || fail "the state moved over a fork"
pass "a rollback and a fork behind the same key: reported, exit 1, the state where it was"
server_stop

# Another key signs: the pinned one is missing from the note.
db_new x
"$SERVER_BIN" --database="$(db_named x)" log init patela.test/fleet "$T/other.key" >/dev/null 2>&1 || fail "log init other"
server_start --log-key="$T/other.key"
monitor && fail "a checkpoint under another key was accepted"
grep -q "^bad-signature: the checkpoint is not signed by patela.test/fleet" "$T/monitor.out" || fail "$(cat "$T/monitor.out")"
server_stop
pass "a checkpoint signed by another key of the same name: bad-signature"

# An image the operator cannot rebuild: --images lists the UKIs they can.
server_start --log-key="$T/log.key"
echo "0000000000000000000000000000000000000000000000000000000000000000 some.efi" >"$T/rebuildable"
rm -rf "$STATE"; mkdir -p "$STATE"
monitor --images "$T/rebuildable" && fail "an unreproducible registration went unnoticed"
grep -q "^unreproducible-image: entry 0: image first registered" "$T/monitor.out" || fail "$(cat "$T/monitor.out")"
pass "a registered UKI that is not among the ones the operator rebuilds: unreproducible-image"

# Whoever holds the database and the key logs a verdict on an image never registered, every hash recomputed:
# the server's own `log verify` sees nothing; the monitor reads what the entry says.
server_stop
"$PATELA_BUILD_DIR/test/forge-tool" "$DB" verdict AAAA-BBBB-CCCC-DDDD ghost-1.0 Trusted || fail "forge-tool"
ps_cli log verify >/dev/null 2>&1 || fail "log verify refused a log whose hashes were recomputed"
server_start --log-key="$T/log.key"
rm -rf "$STATE"; mkdir -p "$STATE"
monitor && fail "a verdict on an unregistered image went unnoticed"
grep -q "^unknown-image: entry 2: a verdict for image ghost-1.0, which the log never registered" "$T/monitor.out" ||
        fail "$(cat "$T/monitor.out")"
grep -q "^verified: " "$T/monitor.out" || fail "the log itself did verify: $(cat "$T/monitor.out")"
pass "a verdict for an image the log never registered, forged with every hash recomputed: log verify is blind to it, the monitor reports unknown-image"

# A state file changed by hand, an unreachable server.
cp "$T/state.good" "$STATE/state"
sed -i 's/^size 2$/size 3/' "$STATE/state"
monitor && fail "a changed state was used"
grep -q "is not a state this monitor wrote" "$T/monitor.out" || fail "$(cat "$T/monitor.out")"
cp "$T/state.good" "$STATE/state"
server_stop
monitor && fail "no server, exit 0"
grep -q "^unreachable: GET https://127.0.0.1" "$T/monitor.out" || fail "$(cat "$T/monitor.out")"
cmp -s "$STATE/state" "$T/state.good" || fail "the state moved without a server"
pass "a state changed by hand is refused; an unreachable server is a finding (exit 1), the state unchanged"
