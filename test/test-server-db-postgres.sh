#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-server's PostgreSQL backend on a private cluster (test/lib-postgres.sh): the statement layer on both
# backends (test-server-db-backends), then every migration applied to a fresh SQLite file and to a fresh
# PostgreSQL database by the server's own db_open()s, and their schemas compared: tables, columns (type, NOT NULL,
# default, primary key), unique and explicit indexes, foreign keys and their ON DELETE, triggers, the number of CHECK
# constraints of each table. A migration the
# translation (src/server/server-db-sql.c) gets wrong leaves a difference here.
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/lib-postgres.sh"

pg_available || { echo "1..0 # SKIP no PostgreSQL server installed"; exit 77; }
command -v sqlite3 >/dev/null || { echo "1..0 # SKIP no sqlite3"; exit 77; }

t0=$(date +%s%N)
pg_start >/dev/null
echo "# cluster ready in $((($(date +%s%N) - t0) / 1000000)) ms"

"$PG_BIN/createdb" -h "$PG_DIR" server || fail "createdb server failed"
PATELA_TEST_PG_URI=$PG_URI PATELA_TEST_PG_SERVER_URI="postgresql:///server?host=$PG_DIR" PATELA_TEST_SQLITE_PATH=$T/server.db \
        "$PATELA_BUILD_DIR/src/server/test-server-db-backends" 2>&1 | tee "$T/backends.log" | grep -v '^    #' ||
        fail "test-server-db-backends failed"
grep -q "0 failed" "$T/backends.log" || fail "test-server-db-backends failed"
pass "statement layer on both backends"

# A fresh pair, migrated and nothing else.
createdb_fresh() {
        "$PG_BIN/createdb" -h "$PG_DIR" "$1"
}
createdb_fresh fresh
rm -f "$T/fresh.db"
PATELA_TEST_PG_URI="postgresql:///fresh?host=$PG_DIR" PATELA_TEST_SQLITE_PATH=$T/fresh.db \
        "$PATELA_BUILD_DIR/src/server/test-server-db-backends" migrate_only >"$T/migrate.log" 2>&1 ||
        { cat "$T/migrate.log" >&2; fail "migrating the fresh databases failed"; }

# One line per fact, sorted, in a spelling both sides share: types integer/text/blob; defaults without
# PostgreSQL's casts; an integer primary key NOT NULL as PostgreSQL makes every key (SQLite's are in fact).
sqlite3 -bail "$T/fresh.db" >"$T/schema-sqlite.txt" <<'SQL' || fail "reading the SQLite schema failed"
.mode list
.separator " "
SELECT 'table', name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%';
SELECT 'column', m.name, p.name, lower(p.type),
       CASE WHEN p."notnull" OR p.pk > 0 THEN 'notnull' ELSE 'null' END,
       'default=' || COALESCE(p.dflt_value, '-'), 'pk=' || p.pk
  FROM sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%';
SELECT 'index', m.name, CASE WHEN i."unique" THEN 'unique' ELSE 'plain' END,
       CASE WHEN i.origin = 'c' THEN i.name ELSE '-' END,
       CASE WHEN i.partial THEN 'partial' ELSE 'full' END,
       (SELECT group_concat(c.name, ',') FROM (SELECT name FROM pragma_index_info(i.name) ORDER BY seqno) c)
  FROM sqlite_schema m, pragma_index_list(m.name) i
  WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND i.origin != 'pk';
SELECT 'fk', t, "table", group_concat("from", ','), group_concat("to", ','), lower(on_delete)
  FROM (SELECT m.name AS t, f.* FROM sqlite_schema m, pragma_foreign_key_list(m.name) f
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, f.id, f.seq)
  GROUP BY t, id;
SELECT 'trigger', tbl_name, name FROM sqlite_schema WHERE type = 'trigger';
SELECT 'checks', name, (length(upper(sql)) - length(replace(upper(sql), 'CHECK', ''))) / 5
  FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%';
SQL
sort -o "$T/schema-sqlite.txt" "$T/schema-sqlite.txt"

psql -X -q -v ON_ERROR_STOP=1 -A -t -F ' ' -d "postgresql:///fresh?host=$PG_DIR" >"$T/schema-pg.txt" <<'SQL' || fail "reading the PostgreSQL schema failed"
SELECT 'table', c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname != 'patela_migrations';
SELECT 'column', c.relname, a.attname,
       CASE format_type(a.atttypid, a.atttypmod) WHEN 'bigint' THEN 'integer' WHEN 'integer' THEN 'int32(not-translated)'
            WHEN 'bytea' THEN 'blob'
            ELSE format_type(a.atttypid, a.atttypmod) END,
       CASE WHEN a.attnotnull THEN 'notnull' ELSE 'null' END,
       'default=' || COALESCE(regexp_replace(pg_get_expr(d.adbin, d.adrelid), '::[a-z ]+', '', 'g'), '-'),
       'pk=' || COALESCE((SELECT array_position(k.conkey, a.attnum) FROM pg_constraint k
                          WHERE k.conrelid = c.oid AND k.contype = 'p'), 0)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname != 'patela_migrations' AND a.attname != 'rowid';
SELECT 'index', t.relname, CASE WHEN x.indisunique THEN 'unique' ELSE 'plain' END,
       CASE WHEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) THEN '-' ELSE i.relname END,
       CASE WHEN x.indpred IS NULL THEN 'full' ELSE 'partial' END,
       (SELECT string_agg(a.attname, ',' ORDER BY o.n) FROM unnest(x.indkey::int2[]) WITH ORDINALITY o(k, n)
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = o.k)
  FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  WHERE n.nspname = 'public' AND NOT x.indisprimary AND t.relname != 'patela_migrations';
SELECT 'fk', t.relname, r.relname,
       (SELECT string_agg(a.attname, ',' ORDER BY o.n) FROM unnest(k.conkey) WITH ORDINALITY o(k, n)
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = o.k),
       (SELECT string_agg(a.attname, ',' ORDER BY o.n) FROM unnest(k.confkey) WITH ORDINALITY o(k, n)
          JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = o.k),
       CASE k.confdeltype WHEN 'a' THEN 'no action' WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set null'
            WHEN 'r' THEN 'restrict' WHEN 'd' THEN 'set default' END
  FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  WHERE n.nspname = 'public' AND k.contype = 'f';
SELECT 'trigger', c.relname, g.tgname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT g.tgisinternal;
SELECT 'checks', c.relname, (SELECT count(*) FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname != 'patela_migrations';
SQL
sort -o "$T/schema-pg.txt" "$T/schema-pg.txt"

# The comparison must have something to compare: every table of the last migration, and no empty side.
[[ $(grep -c '^table ' "$T/schema-sqlite.txt") -ge 15 ]] || fail "SQLite schema has too few tables"
grep -q '^trigger images images_immutable$' "$T/schema-pg.txt" || fail "PostgreSQL schema lacks images_immutable"
if ! diff -u "$T/schema-sqlite.txt" "$T/schema-pg.txt" >"$T/schema.diff"; then
        cat "$T/schema.diff" >&2
        fail "the migrated schemas differ (SQLite -, PostgreSQL +)"
fi
pass "every migration gives PostgreSQL SQLite's schema ($(wc -l <"$T/schema-sqlite.txt") facts compared)"

# Applied once: a second open finds nothing to do, and records each migration with its SHA-256.
[[ $(pg_psql -d "postgresql:///fresh?host=$PG_DIR" -c "SELECT count(*) FROM patela_migrations") -ge 16 ]] ||
        fail "patela_migrations incomplete"
pass "migrations recorded"

# Text order: a database whose default collation does not sort by bytes (SQLite's BINARY) is refused at connect,
# before anything is written to it; libc's C and POSIX and the builtin provider's C.UTF-8 are taken.
collation_db() { # NAME CREATEDB_OPTION…: a database made so; 0 if the server's db_pg_open() takes it
        local name=$1
        shift
        "$PG_BIN/createdb" -h "$PG_DIR" --template=template0 "$@" "$name" || fail "createdb $* $name failed"
        PATELA_TEST_PG_URI="postgresql:///$name?host=$PG_DIR" \
                "$PATELA_BUILD_DIR/src/server/test-server-db-backends" migrate_only >"$T/$name.log" 2>&1
}
for ok in "c --locale=C" "posix --locale=POSIX" "builtin --locale-provider=builtin --builtin-locale=C.UTF-8"; do
        # shellcheck disable=SC2086 # a name and its options
        collation_db $ok || fail "refused: ${ok#* }: $(cat "$T/${ok%% *}.log")"
done
refused() { # NAME WORDS CREATEDB_OPTION…
        local name=$1 words=$2
        shift 2
        collation_db "$name" "$@" && fail "taken: $*"
        grep -q "sorts text by the $words, not by bytes" "$T/$name.log" || fail "$*: $(cat "$T/$name.log")"
        [[ $(pg_psql -d "postgresql:///$name?host=$PG_DIR" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0 ]] ||
                fail "$*: tables were created in a refused database"
}
refused icu "ICU collation 'en-US'" --locale-provider=icu --icu-locale=en-US --locale=C
refused libc_utf8 "libc collation 'C.UTF-8'" --locale=C.UTF-8
pass "a database that does not sort text by bytes (ICU en-US, libc C.UTF-8) is refused at connect, naming its collation; C, POSIX and builtin C.UTF-8 are taken"
