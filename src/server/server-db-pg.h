/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The PostgreSQL backend's connection (docs/postgresql.md): libpq, one connection per Db as SQLite's, the same
 * numbered migrations translated by server-db-sql.h, statements through server-db-stmt.h. */

#include <stdbool.h>

#include "server-db.h"

/* True for a Database= value that names a PostgreSQL database (postgresql:// or postgres:// URI). */
bool db_is_postgresql_uri(const char *s) _pure_;

/* Connects and migrates: each pending migration translated and applied in a transaction of its own, under an
 * advisory lock so that two servers starting at once apply each once. The session's writers are SERIALIZABLE.
 * -EPROTONOSUPPORT if the database is newer than this server. The URI never reaches a log (it may hold a
 * password): the database's name and host do. */
int db_pg_open(const char *uri, Db **ret);
Db *db_pg_close(Db *db);
DEFINE_TRIVIAL_CLEANUP_FUNC(Db *, db_pg_close);

/* The number of the last migration applied (patela_migrations). */
int db_pg_schema_version(Db *db);

/* Transactions: writers SERIALIZABLE; readers REPEATABLE READ, READ ONLY (one snapshot, as BEGIN DEFERRED on
 * SQLite). A failed commit has rolled back; -EAGAIN if it failed to serialise. */
int db_pg_begin(Db *db);
int db_pg_begin_read(Db *db);
int db_pg_commit(Db *db);
void db_pg_rollback(Db *db);

/* Runs SQL without parameters or results (several statements allowed). */
int db_pg_exec(Db *db, const char *sql);
/* The last error's message on this connection. */
const char *db_pg_error(Db *db);

/* SQLSTATE → negative errno: class 23 (integrity) → -EEXIST, 40001 and 40P01 → -EAGAIN, 25006 (read-only: a
 * standby) → -EROFS, 53100 → -ENOSPC, 53200 → -ENOMEM, 53300 → -EUSERS, 55P03 → -EBUSY, 57014 → -ETIMEDOUT,
 * class 08 and 57P0x (connection lost, server shutting down) → -ECONNRESET, 42501 → -EACCES, others → -EIO. */
int db_pg_errno(const char *sqlstate) _pure_;
