/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* SQLite's SQL as PostgreSQL runs it (docs/postgresql.md). The server's SQL is written once, in SQLite's dialect:
 * its migrations, released and never edited, are translated each time a PostgreSQL database is migrated, and its
 * queries have their parameters renumbered when a connection first prepares them. Pure text functions: no
 * connection, no logging above debug. */

/* The objects a translated schema relies on, created (idempotently) before the first migration: the sequence that
 * numbers the rows of tables without an integer key (SQLite's implicit rowid, which the allocation orders by) and
 * a case-insensitive collation named like SQLite's NOCASE; pgcrypto, for randomblob(). */
extern const char db_sql_pg_preamble[];

/* A query (one statement) → PostgreSQL's: `?` and `?NNN` → `$n` outside string literals, quoted identifiers and
 * comments; ifnull() → COALESCE(), max()/min() of several values → GREATEST()/LEAST(), group_concat() →
 * string_agg(), instr(a, b) → position(b IN a), INSERT OR IGNORE → ON CONFLICT DO NOTHING, and the expression
 * rewrites of db_sql_schema_to_pg(). ret_n_params (may be NULL): the highest parameter number. -EINVAL for an
 * unterminated literal or comment or a parameter number past 999; -EOPNOTSUPP as db_sql_schema_to_pg(). */
int db_sql_query_to_pg(const char *sql, char **ret, unsigned *ret_n_params);

/* A migration's SQL (several statements) → PostgreSQL's. Types: INTEGER → BIGINT (SQLite's integers are 64-bit),
 * BLOB → BYTEA; a column `INTEGER PRIMARY KEY` → an identity column; WITHOUT ROWID dropped; a table with neither
 * gains a last column `rowid` numbered by the preamble's sequence; `X [NOT] GLOB 'p'` → an anchored regular
 * expression; `IS [NOT] expr` → `IS [NOT] DISTINCT FROM`; CAST(x AS BLOB) → its UTF-8 bytes; a trigger → a
 * PL/pgSQL function raising SQLSTATE 23000 (SQLite's RAISE(ABORT) is a constraint error) and a row trigger
 * calling it. -EOPNOTSUPP for what it does not know to translate (the schema test runs every migration on both
 * backends, so a new construct fails there, not in production). */
int db_sql_schema_to_pg(const char *sql, char **ret);
