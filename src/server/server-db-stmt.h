/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One statement API over both backends (docs/postgresql.md): SQLite's shape — SQL with `?` parameters bound by
 * 1-based index, step to a row or to the end, columns by 0-based index, changes of the last statement — with
 * results as in the rest of the tree: negative errno on failure. On SQLite each call is the sqlite3_* call behind
 * one predictable branch, inline; on PostgreSQL it goes to server-db-pg.c (libpq). Errors: a constraint (unique,
 * foreign key, check, a trigger's refusal) → -EEXIST on both; a serialization failure or a deadlock
 * (PostgreSQL's SERIALIZABLE writers) → -EAGAIN, which db_transaction() retries. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server-db.h"

typedef enum DbType {
        DB_TYPE_INTEGER = SQLITE_INTEGER,
        DB_TYPE_FLOAT = SQLITE_FLOAT,
        DB_TYPE_TEXT = SQLITE_TEXT,
        DB_TYPE_BLOB = SQLITE_BLOB,
        DB_TYPE_NULL = SQLITE_NULL,
} DbType;

/* db_step()'s results besides errors. */
#define DB_DONE 0
#define DB_ROW 1

/* The PostgreSQL side (server-db-pg.c). */
int db_pg_prepare_cached(Db *db, const char *sql, DbStmt **ret);
int db_pg_prepare(Db *db, const char *sql, DbPgStmt **ret);
void db_pg_stmt_free(DbPgStmt *s);
void db_pg_stmt_reset(DbPgStmt *s);
int db_pg_bind_int64(DbPgStmt *s, int i, int64_t v);
int db_pg_bind_text(DbPgStmt *s, int i, const char *text, size_t n, bool copy);
int db_pg_bind_blob(DbPgStmt *s, int i, const void *p, size_t n, bool copy);
int db_pg_bind_null(DbPgStmt *s, int i);
int db_pg_bind_parameter_count(DbPgStmt *s);
int db_pg_step(DbPgStmt *s);
int64_t db_pg_column_int64(DbPgStmt *s, int i);
const char *db_pg_column_text(DbPgStmt *s, int i);
const void *db_pg_column_blob(DbPgStmt *s, int i);
size_t db_pg_column_bytes(DbPgStmt *s, int i);
DbType db_pg_column_type(DbPgStmt *s, int i);
int64_t db_pg_changes(DbPg *pg);

static inline int db_sqlite_result(int rc) {
        return _likely_(rc == SQLITE_OK) ? 0 : db_errno(rc);
}

/* db_prepare_cached()'s contract on both backends: the statement belongs to the connection's cache; the caller
 * resets it when done (_cleanup_db_stmt_), never frees it, and does not use the same SQL twice at once. */
int db_stmt_prepare_cached(Db *db, const char *sql, DbStmt **ret);

/* A statement of its own, outside the cache: for SQL that is built at run time or run once (the admin CLI).
 * Freed with db_stmt_free() (_cleanup_db_stmt_free_). */
int db_stmt_prepare(Db *db, const char *sql, DbStmt **ret);
DbStmt *db_stmt_free(DbStmt *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(DbStmt *, db_stmt_free);
#define _cleanup_db_stmt_free_ _cleanup_(db_stmt_freep)

/* Ready for the next use: bindings cleared, results dropped. NULL is fine. */
static inline void db_stmt_reset(DbStmt *s) {
        if (!s)
                return;
        if (_likely_(s->sqlite)) {
                (void) sqlite3_reset(s->sqlite);
                (void) sqlite3_clear_bindings(s->sqlite);
        } else
                db_pg_stmt_reset(s->pg);
}
static inline void db_stmt_resetp(DbStmt **s) {
        db_stmt_reset(*s);
}
#define _cleanup_db_stmt_ _cleanup_(db_stmt_resetp)

static inline int db_bind_int64(DbStmt *s, int i, int64_t v) {
        if (_likely_(s->sqlite))
                return db_sqlite_result(sqlite3_bind_int64(s->sqlite, i, v));
        return db_pg_bind_int64(s->pg, i, v);
}

static inline int db_bind_null(DbStmt *s, int i) {
        if (_likely_(s->sqlite))
                return db_sqlite_result(sqlite3_bind_null(s->sqlite, i));
        return db_pg_bind_null(s->pg, i);
}

/* A NUL-terminated text, copied (NULL binds NULL). */
static inline int db_bind_text(DbStmt *s, int i, const char *text) {
        if (!text)
                return db_bind_null(s, i);
        if (_likely_(s->sqlite))
                return db_sqlite_result(sqlite3_bind_text(s->sqlite, i, text, -1, SQLITE_TRANSIENT));
        return db_pg_bind_text(s->pg, i, text, strlen(text), /* copy= */ true);
}

/* n bytes of text (no NUL needed), copied. */
static inline int db_bind_text_n(DbStmt *s, int i, const char *text, size_t n) {
        if (_likely_(s->sqlite))
                return db_sqlite_result(
                        sqlite3_bind_text64(s->sqlite, i, n > 0 ? text : "", n, SQLITE_TRANSIENT, SQLITE_UTF8));
        return db_pg_bind_text(s->pg, i, n > 0 ? text : "", n, /* copy= */ true);
}

/* A NUL-terminated text that outlives the statement's reset: not copied on SQLite (SQLITE_STATIC). */
static inline int db_bind_text_static(DbStmt *s, int i, const char *text) {
        if (!text)
                return db_bind_null(s, i);
        if (_likely_(s->sqlite))
                return db_sqlite_result(sqlite3_bind_text(s->sqlite, i, text, -1, SQLITE_STATIC));
        return db_pg_bind_text(s->pg, i, text, strlen(text), /* copy= */ false);
}

/* n bytes, copied. A zero-length blob is an empty value, not NULL, on both. */
static inline int db_bind_blob(DbStmt *s, int i, const void *p, size_t n) {
        if (_likely_(s->sqlite))
                return db_sqlite_result(sqlite3_bind_blob64(s->sqlite, i, n > 0 ? p : "", n, SQLITE_TRANSIENT));
        return db_pg_bind_blob(s->pg, i, p, n, /* copy= */ true);
}

/* n bytes that outlive the statement's reset: not copied (SQLITE_STATIC). */
static inline int db_bind_blob_static(DbStmt *s, int i, const void *p, size_t n) {
        if (_likely_(s->sqlite))
                return db_sqlite_result(sqlite3_bind_blob64(s->sqlite, i, n > 0 ? p : "", n, SQLITE_STATIC));
        return db_pg_bind_blob(s->pg, i, p, n, /* copy= */ false);
}

/* The number of parameters (the highest ?NNN). */
static inline int db_bind_parameter_count(DbStmt *s) {
        if (_likely_(s->sqlite))
                return sqlite3_bind_parameter_count(s->sqlite);
        return db_pg_bind_parameter_count(s->pg);
}

/* DB_ROW, DB_DONE, or a negative errno. */
static inline int db_step(DbStmt *s) {
        if (_likely_(s->sqlite)) {
                int rc = sqlite3_step(s->sqlite);
                return rc == SQLITE_ROW ? DB_ROW : rc == SQLITE_DONE ? DB_DONE : db_errno(rc);
        }
        return db_pg_step(s->pg);
}

/* db_step()'s result as a function's: its errno, or 0 for a row or the end. */
static inline int db_result(int r) {
        return r < 0 ? r : 0;
}

static inline int64_t db_column_int64(DbStmt *s, int i) {
        if (_likely_(s->sqlite))
                return sqlite3_column_int64(s->sqlite, i);
        return db_pg_column_int64(s->pg, i);
}

/* NULL for SQL NULL; valid until the next step or reset. */
static inline const char *db_column_text(DbStmt *s, int i) {
        if (_likely_(s->sqlite))
                return (const char *) sqlite3_column_text(s->sqlite, i);
        return db_pg_column_text(s->pg, i);
}

static inline const void *db_column_blob(DbStmt *s, int i) {
        if (_likely_(s->sqlite))
                return sqlite3_column_blob(s->sqlite, i);
        return db_pg_column_blob(s->pg, i);
}

/* The size of the column's blob (after db_column_blob()) or text. */
static inline size_t db_column_bytes(DbStmt *s, int i) {
        if (_likely_(s->sqlite))
                return (size_t) sqlite3_column_bytes(s->sqlite, i);
        return db_pg_column_bytes(s->pg, i);
}

static inline DbType db_column_type(DbStmt *s, int i) {
        if (_likely_(s->sqlite))
                return (DbType) sqlite3_column_type(s->sqlite, i);
        return db_pg_column_type(s->pg, i);
}

static inline bool db_column_is_null(DbStmt *s, int i) {
        return db_column_type(s, i) == DB_TYPE_NULL;
}

/* Rows changed by the connection's last INSERT, UPDATE or DELETE. */
static inline int64_t db_changes(Db *db) {
        if (_likely_(!db->pg))
                return sqlite3_changes64(db->sqlite);
        return db_pg_changes(db->pg);
}

/* A write transaction around fn: committed if fn succeeds, rolled back otherwise; on -EAGAIN (PostgreSQL:
 * serialization failure or deadlock, from fn or from the commit) rolled back and run again, up to
 * DB_TRANSACTION_ATTEMPTS times with a short random pause, so fn must have no effect outside the database before
 * it returns. The caller holds whatever lock serialises its use of db. */
#define DB_TRANSACTION_ATTEMPTS 10U
int db_transaction(Db *db, int (*fn)(Db *db, void *userdata), void *userdata);
