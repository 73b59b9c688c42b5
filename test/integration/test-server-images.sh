#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-server's image registry with references that patela-pcrlock made from real UKIs: UKIs linked with
# ld and put together with objcopy the way UKIs were made before ukify (a PE application as the stub, the
# kernel as .linux, .osrel, .cmdline, .initrd), their digests checked against systemd-pcrlock (lock-uki,
# lock-pe) and sha256sum. image add/list/show/retire, every refusal with its exit status and nothing
# written, the table's immutability against another client (sqlite3 or psql), and a node's image and verdict in
# list nodes/node show. On either backend (PATELA_TEST_DB_BACKEND).
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
source "$PATELA_SOURCE_DIR/test/integration/lib-uki.sh"

SYSTEMD_PCRLOCK=/usr/lib/systemd/systemd-pcrlock

expect_exit() {
        local want=$1 rc=0
        shift
        ps_cli "$@" >"$T/cli.out" 2>&1 || rc=$?
        [[ $rc == "$want" ]] || fail "patela-server $*: exit $rc, expected $want: $(cat "$T/cli.out")"
}

# The registry as another client sees it, every column and the reference, hashed.
registry() {
        db_query "SELECT * FROM images ORDER BY id" | sha256sum
}
unchanged() {
        [[ $(registry) == "$1" ]] || fail "$2: the images table changed: $(db_query 'SELECT id, name FROM images')"
}

# --- references of real UKIs, checked independently ------------------------------------------------------
make_uki "$T/a" 1.0
make_uki "$T/b" 2.0
make_uki "$T/c" ""
make_uki "$T/d" 4.0
ref=$T/a/patela.reference.json
"$SYSTEMD_PCRLOCK" lock-uki --pcrlock="$T/a/uki.pcrlock" "$T/a/uki.efi" >/dev/null 2>&1 || fail "systemd-pcrlock lock-uki"
"$SYSTEMD_PCRLOCK" lock-pe --pcrlock="$T/a/kernel.pcrlock" "$T/a/kernel.efi" >/dev/null 2>&1 || fail "systemd-pcrlock lock-pe"
sha256() { jq -r '.records[0].digests[] | select(.hashAlg == "sha256") | .digest' "$1"; }
[[ $(jq -r .uki.sha256 "$ref") == "$(sha256sum "$T/a/uki.efi" | cut -d' ' -f1)" ]] || fail "uki.sha256 is not the file's"
[[ $(jq -r .uki.size "$ref") == "$(stat -c %s "$T/a/uki.efi")" ]] || fail "uki.size is not the file's"
[[ $(jq -r .uki.authenticode "$ref") == "$(sha256 "$T/a/uki.pcrlock")" ]] ||
        fail "uki.authenticode $(jq -r .uki.authenticode "$ref") is not systemd-pcrlock's $(sha256 "$T/a/uki.pcrlock")"
[[ $(jq -r .uki.kernelAuthenticode "$ref") == "$(sha256 "$T/a/kernel.pcrlock")" ]] || fail "kernelAuthenticode is not lock-pe's"
# The stub measures each section's contents on PCR 11: the files objcopy was given.
for s in osrel cmdline initrd; do
        jq -e --arg d "$(sha256sum "$T/a/$s" | cut -d' ' -f1)" --arg e ".$s" \
                '[.records[] | select(.pcr == 11 and .event == $e and .sha256 == $d)] | length == 1' "$ref" >/dev/null ||
                fail "no PCR 11 record of .$s's contents"
done
[[ $(jq -c .uki.osRelease "$ref") == '{"ID":"debian","VERSION_ID":"13","IMAGE_ID":"patela","IMAGE_VERSION":"1.0"}' ]] ||
        fail "osRelease: $(jq -c .uki.osRelease "$ref")"
pass "patela-pcrlock reference of an objcopy UKI: SHA-256, size, Authenticode digests (= systemd-pcrlock), sections, os-release"

ca_setup
server_start

# --- image add / list / show -------------------------------------------------------------------------------
ps_cli image add "$ref" 2>"$T/add.log" || fail "image add: $(cat "$T/add.log")"
grep -q "Registered image patela-1.0" "$T/add.log" || fail "no name in: $(cat "$T/add.log")"
ps_cli --json image add "$T/b/patela.reference.json" >"$T/b.json" || fail "image add b"
[[ $(jq -r .name "$T/b.json") == patela-2.0 && $(jq -r .referenceVersion "$T/b.json") == 2 ]] || fail "add b: $(cat "$T/b.json")"
# Without IMAGE_VERSION the name carries the UKI's digest; --name overrides.
ps_cli image add "$T/c/patela.reference.json" || fail "image add c"
c_name=patela-13-$(jq -r .uki.sha256 "$T/c/patela.reference.json" | cut -c1-12)
ps_cli image show "$c_name" >/dev/null || fail "no image $c_name: $(ps_cli image list)"

ps_cli --json image list >"$T/list.json"
[[ $(jq -r '[.[].name] | join(" ")' "$T/list.json") == "patela-1.0 patela-2.0 $c_name" ]] || fail "list: $(cat "$T/list.json")"
jq -e --slurpfile r "$ref" '.[0] | .ukiSha256 == $r[0].uki.sha256 and .ukiAuthenticode == $r[0].uki.authenticode
        and .kernelAuthenticode == $r[0].uki.kernelAuthenticode and .pcr9 == $r[0].pcrs."9" and .pcr11 == $r[0].pcrs."11"
        and .osRelease == $r[0].uki.osRelease and .retired == null and .nodes == 0' "$T/list.json" >/dev/null ||
        fail "list does not hold the reference's values: $(jq '.[0]' "$T/list.json")"
ps_cli image list >"$T/list.txt"
grep -q "^patela-1.0 *debian 13 *$(jq -r .uki.sha256 "$ref" | cut -c1-16) " "$T/list.txt" || fail "table: $(cat "$T/list.txt")"
ps_cli --json image show patela-1.0 >"$T/show.json"
jq -e --slurpfile r "$ref" '.reference == $r[0]' "$T/show.json" >/dev/null || fail "show: the reference is not the file"
ps_cli image show patela-1.0 | grep -q "pcr11.ready: $(jq -r '.pcrs."11".ready' "$ref")" || fail "show: $(ps_cli image show patela-1.0)"

# Independently: the database holds the file as received and the values of the reference.
[[ $(db_query "SELECT $(db_hex reference text) FROM images WHERE name = 'patela-1.0'") == "$(xxd -p "$ref" | tr -d '\n')" ]] ||
        fail "the stored reference is not the file byte for byte"
stored=$(db_query "SELECT uki_sha256 || ' ' || uki_authenticode || ' ' || pcr9 || ' ' || pcr11_ready || ' ' ||
                        os_image_version FROM images WHERE name = 'patela-1.0'")
[[ $stored == "$(jq -r '[.uki.sha256, .uki.authenticode, .pcrs."9", .pcrs."11".ready, .uki.osRelease.IMAGE_VERSION] | join(" ")' "$ref")" ]] ||
        fail "stored values differ from the reference: $stored"
pass "image add (default names from os-release), list, show (--json and tables); another client sees the values and the file as received"

# --- refusals: exit status, the problem named, nothing written ----------------------------------------------
before=$(registry)
expect_exit 4 image add "$T/b/patela.reference.json" --name patela-1.0
grep -q "named patela-1.0 is registered" "$T/cli.out" || fail "duplicate name: $(cat "$T/cli.out")"
expect_exit 4 image add "$ref" --name=other
grep -q "UKI SHA-256 .* as image patela-1.0" "$T/cli.out" || fail "duplicate UKI: $(cat "$T/cli.out")"
# The same UKI signed otherwise: another file, the same Authenticode digest (and measurements).
jq --arg d "$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)" '.uki.sha256 = $d' "$ref" >"$T/signed.json"
expect_exit 4 image add "$T/signed.json" --name signed
grep -q "Authenticode digest .* as image patela-1.0" "$T/cli.out" || fail "duplicate Authenticode: $(cat "$T/cli.out")"
printf 'not json' >"$T/bad.json"
expect_exit 2 image add "$T/bad.json" --name bad
grep -q "not an image reference: not JSON" "$T/cli.out" || fail "$(cat "$T/cli.out")"
: >"$T/empty.json"
expect_exit 2 image add "$T/empty.json" --name bad
jq '.records[0].pcr = 5' "$ref" >"$T/bad.json"
expect_exit 2 image add "$T/bad.json" --name bad
grep -q "\"pcr\" is not 4, 9 or 11" "$T/cli.out" || fail "$(cat "$T/cli.out")"
jq '.records[3].sha256 = "'"$(printf '0%.0s' {1..64})"'"' "$ref" >"$T/bad.json"
expect_exit 2 image add "$T/bad.json" --name bad
grep -q '"pcrs.11" is not what the records give' "$T/cli.out" || fail "$(cat "$T/cli.out")"
jq '.uki.osRelease.ID = "deb/ian"' "$ref" >"$T/bad.json"
expect_exit 2 image add "$T/bad.json" --name bad
{ printf '{"uki": {"sha256": "%s"}, "x": "' "$(printf 'a%.0s' {1..64})"; head -c 70000 /dev/zero | tr '\0' x; printf '"}'; } >"$T/big.json"
expect_exit 2 image add "$T/big.json" --name bad
grep -q "larger than 64 KiB" "$T/cli.out" || fail "$(cat "$T/cli.out")"
expect_exit 3 image add "$T/nonexistent.json"
expect_exit 2 image add "$T/c/patela.reference.json" --name "../etc"
expect_exit 2 image add "$T/c/patela.reference.json" --name "x'; DROP TABLE images; --"
expect_exit 2 image add
expect_exit 2 image frobnicate
expect_exit 3 image show nosuch
expect_exit 3 image retire "x'; DROP TABLE images; --"
unchanged "$before" "refused image add"

# A registration that cannot commit: another client holds the write lock (SQLite's) or the images table
# (PostgreSQL) past the 5 s wait for a lock.
if db_is_postgresql; then
        printf '%s\n' "BEGIN;" "LOCK TABLE images IN EXCLUSIVE MODE;" "SELECT pg_sleep(7);" "COMMIT;" |
                psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null 2>&1 &
        locker=$!
        for ((i = 0; i < 100; i++)); do
                [[ $(db_query "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                               WHERE c.relname = 'images' AND l.mode = 'ExclusiveLock' AND l.granted") == 1 ]] && break
                sleep 0.05
        done
else
        { echo "BEGIN IMMEDIATE;"; echo ".shell sleep 7"; echo "COMMIT;"; } | sqlite3 "$DB" >/dev/null 2>&1 &
        locker=$!
        sleep 0.5
fi
expect_exit 4 image add "$T/d/patela.reference.json"
grep -qi "busy\|locked\|lock timeout" "$T/cli.out" || fail "locked: $(cat "$T/cli.out")"
wait "$locker"
unchanged "$before" "image add while the database was locked"
expect_exit 0 image add "$T/d/patela.reference.json"
pass "duplicate name, UKI, Authenticode digest (exit 4); malformed, empty, inconsistent, oversized files and bad names (exit 2, problem named); missing file and image (exit 3); a locked database (exit 4): nothing written"

# --- version 1 references (before the identity and the digests of their own) are still read ---------------
# As patela-pcrlock wrote them before: uki {sha256, size}, records, pcrs; another UKI (other digests).
jq --arg u "$(printf 'c%.0s' {1..64})" --arg a "$(printf 'd%.0s' {1..64})" \
        '{uki: {sha256: $u, size: .uki.size}, records: (.records | .[0].sha256 = $a), pcrs: .pcrs}' \
        "$T/c/patela.reference.json" >"$T/v1.json"
expect_exit 0 image add "$T/v1.json"
ps_cli --json image show image-cccccccccccc >"$T/v1.show" || fail "no default name for a version 1 reference: $(ps_cli image list)"
jq -e '.referenceVersion == 1 and .osRelease == {} and .ukiAuthenticode == ("d" * 64)' "$T/v1.show" >/dev/null ||
        fail "version 1: $(cat "$T/v1.show")"
pass "a version 1 reference is registered (no identity: named after its digest)"

# --- retire ------------------------------------------------------------------------------------------------------
ps_cli image retire patela-1.0 2>"$T/retire.log" || fail "retire: $(cat "$T/retire.log")"
retired=$(db_query "SELECT retired_at FROM images WHERE name = 'patela-1.0'")
[[ $retired =~ ^[0-9]+$ ]] || fail "retired_at: '$retired'"
sleep 1.1
ps_cli --json image retire patela-1.0 >"$T/retire2.json" 2>"$T/retire2.log" || fail "second retire: $(cat "$T/retire2.log")"
grep -q "retired already" "$T/retire2.log" || fail "second retire: $(cat "$T/retire2.log")"
[[ $(db_query "SELECT retired_at FROM images WHERE name = 'patela-1.0'") == "$retired" ]] || fail "a second retire moved retired_at"
[[ $(jq -r .retired "$T/retire2.json") == "$(date -u -d "@$retired" +%Y-%m-%dT%H:%M:%SZ)" ]] || fail "retire --json: $(cat "$T/retire2.json")"
[[ $(ps_cli --json image show patela-2.0 | jq -r .retired) == null ]] || fail "retire touched another image"
# Retired is not removed: the name and the digests stay taken.
expect_exit 4 image add "$ref" --name patela-1.0-again
pass "image retire sets the time once; again is a no-op (exit 0); a retired image's UKI cannot come back"

# --- immutability, through another client --------------------------------------------------------------------
# Replacing a row is spelt REPLACE on SQLite, INSERT … ON CONFLICT DO UPDATE on PostgreSQL; SQLite enforces foreign
# keys only when the connection asks (the server's do), PostgreSQL always.
before=$(registry)
sqls=("UPDATE images SET pcr9 = pcr11_boot" "UPDATE images SET name = 'x' WHERE name = 'patela-2.0'"
      "UPDATE images SET retired_at = NULL" "UPDATE images SET retired_at = retired_at + 5 WHERE retired_at IS NOT NULL"
      "UPDATE images SET retired_at = added_at + 1, reference = '{}' WHERE retired_at IS NULL"
      "DELETE FROM images WHERE name = 'patela-2.0'")
if db_is_postgresql; then
        fk=
        sqls+=("INSERT INTO images SELECT * FROM images ON CONFLICT (id) DO UPDATE SET reference = excluded.reference"
               "INSERT INTO images (name, uki_sha256, uki_authenticode, pcr9, pcr11_boot, pcr11_sysinit, pcr11_ready,
                reference_version, reference, added_at) SELECT name, pcr9, pcr9, pcr9, pcr9, pcr9, pcr9, 2, '{}', 1
                FROM images ON CONFLICT (name) DO UPDATE SET uki_sha256 = excluded.uki_sha256")
else
        fk="PRAGMA foreign_keys = ON; "
        sqls+=("REPLACE INTO images SELECT * FROM images"
               "INSERT OR REPLACE INTO images (name, uki_sha256, uki_authenticode, pcr9, pcr11_boot, pcr11_sysinit, pcr11_ready,
                reference_version, reference, added_at) SELECT name, pcr9, pcr9, pcr9, pcr9, pcr9, pcr9, 2, '{}', 1 FROM images")
fi
for sql in "${sqls[@]}"; do
        db_refuses "$fk$sql"
done
unchanged "$before" "writes to the images table"
pass "a registered image is immutable for any client: updates, delete, replacing a row refused; retired_at set once"

# --- a node's image and last verdict -----------------------------------------------------------------------------
# This node (swtpm, no firmware) sends no event logs: with images registered the server would refuse it
# (test-server-verifier.sh); here it is let in with MeasuredBoot=warn to show what is recorded.
server_stop
server_start --measured-boot=warn
swtpm_start
attestd_start
node_identity
node_prove
[[ $HTTP_STATUS == 202 ]] || fail "enrol: $HTTP_STATUS $(cat "$T/http.body")"
[[ $(ps_cli --json list nodes | jq -c '.[0] | [.image, .lastVerdict]') == '[null,null]' ]] ||
        fail "a new node has an image or verdict: $(ps_cli --json list nodes)"
ps_cli pool add names relayA >/dev/null
ps_cli node enable "$(jq -r .fingerprint "$T/id.json")" >/dev/null 2>&1 || fail "node enable"
node_session
# The verifier's verdict: this node (swtpm, no firmware) sends no event logs.
ps_cli --json node show 1 >"$T/node.json"
[[ $(jq -r .lastVerdict "$T/node.json") == LogMismatch ]] || fail "node show: $(cat "$T/node.json")"
jq -r .lastVerdictReason "$T/node.json" | grep -q "no firmware event log" || fail "node show: $(cat "$T/node.json")"
# A record as the verifier writes it for a retired image: the image by name, the verdict and its reason.
db_query "${fk}UPDATE nodes SET image_id = (SELECT id FROM images WHERE name = 'patela-1.0'),
          last_verdict = 'RetiredImage', last_verdict_reason = 'PCR 4: image patela-1.0 is retired',
          last_verdict_at = $(date +%s) WHERE id = 1" || fail "update of the node by another client"
ps_cli list nodes >"$T/nodes.txt"
grep -Eq "^1 +enabled .* patela-1.0 +RetiredImage$" "$T/nodes.txt" || fail "list nodes: $(cat "$T/nodes.txt")"
ps_cli node show 1 >"$T/node.txt"
grep -Eq "^ *image: patela-1.0$" "$T/node.txt" && grep -Eq "^ *lastVerdictReason: PCR 4: image patela-1.0 is retired$" "$T/node.txt" ||
        fail "node show: $(cat "$T/node.txt")"
[[ $(ps_cli --json image show patela-1.0 | jq .nodes) == 1 ]] || fail "image show counts no node"
db_refuses "UPDATE nodes SET last_verdict = 'Maybe' WHERE id = 1"
db_refuses "${fk}UPDATE nodes SET image_id = 999 WHERE id = 1"
pass "list nodes and node show name the node's image and verdict (the attestation log's until the verifier's)"

attestd_stop
server_stop
