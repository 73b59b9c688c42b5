/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

/* The server's SQLite database: WAL, foreign keys on, numbered migrations applied in one transaction each.
 * Released migrations are never edited: test-server-db checks each one against its recorded SHA-256. */

/* Distinct SQL texts the request path caches per connection: ~40 today (the transparency log, the family keys
 * and the fingerprints took it past the 32 it was, and every attestation failed with ENOSPC). */
#define DB_STATEMENT_CACHE_MAX 128U

typedef struct DbPg DbPg;
typedef struct DbPgStmt DbPgStmt;

/* A prepared statement of either backend (server-db-stmt.h): one of the two is set. */
typedef struct DbStmt {
        sqlite3_stmt *sqlite;
        DbPgStmt *pg;
} DbStmt;

typedef struct Db {
        sqlite3 *sqlite;
        DbPg *pg; /* the PostgreSQL backend's connection (server-db-pg.h); NULL on SQLite */
        char *path;
        uint64_t busy_since; /* CLOCK_MONOTONIC µs, when the current wait for a lock began */
        /* The request path's statements, prepared once per connection: see db_prepare_cached(). */
        struct {
                char *sql;
                const char *key; /* the address the text last came at (compared, never dereferenced) */
                sqlite3_stmt *stmt;
                DbStmt handle; /* what db_stmt_prepare_cached() hands out for stmt */
        } cache[DB_STATEMENT_CACHE_MAX];
        unsigned n_cache;
} Db;

int db_open(const char *path, Db **ret);
Db *db_close(Db *db);
DEFINE_TRIVIAL_CLEANUP_FUNC(Db *, db_close);

/* The schema version after migrations (the number of the last applied migration). */
int db_schema_version(Db *db);

typedef struct DbMigration {
        unsigned version;
        const char *name;
        const char *sql;
        const char *sha256; /* of sql, recorded when released */
} DbMigration;
extern const DbMigration db_migrations[];
extern const unsigned db_n_migrations;

/* Waits for another connection's lock (another process, the checkpointer) in steps of 20 µs growing to
 * 1 ms, 5 s in all, then SQLITE_BUSY → -EBUSY. */
#define DB_BUSY_TIMEOUT_USEC (5U * 1000U * 1000U)

/* Transactions. BEGIN IMMEDIATE so that a writer never deadlocks on a lock upgrade. A failed db_commit() has
 * rolled back. */
int db_begin(Db *db);
/* A read transaction (BEGIN DEFERRED): several reads see one snapshot and take SQLite's locks once. Ended with
 * db_commit(). */
int db_begin_read(Db *db);
int db_commit(Db *db);
void db_rollback(Db *db);

/* The SQLite side of db_stmt_prepare_cached() (server-db-stmt.h): the cache entry's DbStmt. */
int db_sqlite_prepare_cached(Db *db, const char *sql, DbStmt **ret);

/* Prepares a statement; -EIO with the message in db_error() on failure. */
int db_prepare(Db *db, const char *sql, sqlite3_stmt **ret);
static inline void sqlite3_finalizep(sqlite3_stmt **s) {
        if (*s)
                sqlite3_finalize(*s);
}
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

/* For the statements every request runs: the connection prepares each SQL text once and keeps it, so that
 * a request does not compile SQL (which cost more than executing it). The statement belongs to the cache:
 * the caller resets it when done (_cleanup_stmt_reset_), never finalizes it, and does not use the same SQL
 * twice at once (-EBUSY). -ENOSPC past DB_STATEMENT_CACHE_MAX different texts. */
int db_prepare_cached(Db *db, const char *sql, sqlite3_stmt **ret);
static inline void sqlite3_resetp(sqlite3_stmt **s) {
        if (*s) {
                (void) sqlite3_reset(*s);
                (void) sqlite3_clear_bindings(*s);
        }
}
#define _cleanup_stmt_reset_ _cleanup_(sqlite3_resetp)

/* Automatic WAL checkpoints off for this connection: the checkpointer thread does them
 * (server-checkpoint.h). */
int db_disable_autocheckpoint(Db *db);
/* A passive checkpoint: copies what it can of the WAL into the database file without waiting for anyone;
 * ret_frames (may be NULL) is the WAL's size in frames. */
int db_checkpoint(Db *db, int *ret_frames);

/* This connection's commits synced to disk before COMMIT returns (PRAGMA synchronous = FULL; db_open() sets
 * NORMAL): for the admin CLI, whose changes are few and must survive a power cut too. A sync of the WAL file
 * also makes every commit written before it durable, the server's included (docs/server.md, Durability). */
int db_synchronous_full(Db *db);

/* The connection's page cache, at most kib KiB (PRAGMA cache_size; SQLite's default is 2 MiB). */
int db_cache_size(Db *db, unsigned kib);

/* Runs SQL without results (no user input: constants only). */
int db_exec(Db *db, const char *sql);
const char *db_error(Db *db);

/* SQLite result code → negative errno: CONSTRAINT → -EEXIST, BUSY/LOCKED → -EBUSY, FULL → -ENOSPC,
 * NOTFOUND → -ENOENT, others → -EIO. */
int db_errno(int rc) _const_;

uint64_t now_usec(void);
uint64_t now_monotonic_usec(void);
int64_t now_sec(void);

/* The statement API over both backends (docs/postgresql.md), which the server's code uses. */
#include "server-db-stmt.h"
