/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "macro.h"

/* The durability program's read-only view of the server's database, as the server names it (its Database=
 * value): a file path for SQLite (durability-db-sqlite.c), a postgresql:// URI for PostgreSQL
 * (durability-db-pg.c), chosen by the value's form in dur_db_open(). The checks above them are written in the
 * SQL both backends speak, SQLite's dialect as the server writes its own queries, with '?' placeholders and
 * values as text; on PostgreSQL it is translated as the server's is (db_sql_query_to_pg()). */
typedef struct DurDb DurDb;

/* -EPROTONOSUPPORT for a URI of another backend. On PostgreSQL, returns once no other connection to the
 * database is left (the killed server's and commands' backends have rolled back), -EBUSY after 30 s. */
int dur_db_open(const char *database, DurDb **ret);
DurDb *dur_db_close(DurDb *db);
DEFINE_TRIVIAL_CLEANUP_FUNC(DurDb *, dur_db_close);

/* The backend's own consistency check of the whole store (SQLite: PRAGMA integrity_check and
 * foreign_key_check; PostgreSQL: amcheck's bt_index_parent_check() on every B-tree index and verify_heapam()
 * on every table, and a query per foreign key). 0 if it is sound; -EBADMSG with the first problem in
 * *ret_problem (the caller frees it) otherwise. */
int dur_db_integrity(DurDb *db, char **ret_problem);

/* One row: n column values as text, NULL for SQL NULL, BLOBs as lowercase hex. Return < 0 to stop. */
typedef int (*DurRowFn)(void *userdata, size_t n, const char *const *values);

/* Runs one statement with n_params text parameters in one read transaction; row() for each row (NULL: rows
 * are ignored). Returns the number of rows, or a negative errno. */
int dur_db_query(DurDb *db, const char *sql, const char *const *params, size_t n_params, DurRowFn row,
                 void *userdata);

/* Runs one statement that writes, behind the server's back and past its triggers (the append-only ones too),
 * in a transaction of its own: only for --tamper, the self-test of the checks. SQLite: the triggers dropped
 * and created again around it; PostgreSQL: session_replication_role = replica, which needs a superuser. */
int dur_db_exec(DurDb *db, const char *sql);

/* Damages the store below SQL, as a lost page write would, so that dur_db_integrity() must report it: only for
 * --tamper. PostgreSQL: an index left without the entry of a row (dur_db_pg_damage()); -EOPNOTSUPP on SQLite. */
int dur_db_damage(DurDb *db);

/* The first column of the first row as an integer: the form of COUNT(*) checks. */
int dur_db_query_int(DurDb *db, const char *sql, const char *const *params, size_t n_params, long long *ret);

/* A row's n values joined by spaces (NULL as "NULL"): a new string, NULL without memory. */
char *dur_db_row_join(size_t n, const char *const *values);
