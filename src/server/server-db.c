/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server-db-pg.h"
#include "server-db-sql.h"
#include "server-db-stmt.h"
#include "server-db.h"
#include "string-util.h"

uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

int64_t now_sec(void) {
        return (int64_t) (now_usec() / 1000000ULL);
}

int db_errno(int rc) {
        switch (rc & 0xFF) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_NOTFOUND:
                return -ENOENT;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        default:
                return -EIO;
        }
}

const char *db_error(Db *db) {
        if (db->pg)
                return db_pg_error(db);
        return sqlite3_errmsg(db->sqlite);
}

int db_exec(Db *db, const char *sql) {
        if (db->pg) {
                _cleanup_free_ char *pg = NULL;
                int r;

                /* SQLite's tuning (secure_delete, mmap_size, checkpoints) means nothing to PostgreSQL, but a
                 * read-only connection does. */
                if (streq(sql, "PRAGMA query_only = 1"))
                        return db_pg_exec(db, "SET default_transaction_read_only = on");
                if (startswith(sql, "PRAGMA "))
                        return 0;
                r = db_sql_schema_to_pg(sql, &pg);
                if (r < 0)
                        return r;
                return db_pg_exec(db, pg);
        }
        int rc = sqlite3_exec(db->sqlite, sql, NULL, NULL, NULL);
        return db_errno(rc);
}

int db_prepare(Db *db, const char *sql, sqlite3_stmt **ret) {
        int rc = sqlite3_prepare_v2(db->sqlite, sql, -1, ret, NULL);
        if (rc != SQLITE_OK)
                return log_debug_errno(db_errno(rc), "Failed to prepare '%s': %s", sql, db_error(db));
        return 0;
}

int db_sqlite_prepare_cached(Db *db, const char *sql, DbStmt **ret) {
        sqlite3_stmt *s;
        char *copy;
        int rc;

        /* A request's SQL is a literal, so the same text comes at the same address: a first pass by address
         * (its text still compared, for SQL built in a reused buffer), then by text. */
        for (unsigned i = 0; i < db->n_cache; i++)
                if (db->cache[i].key == sql && streq(db->cache[i].sql, sql)) {
                        if (sqlite3_stmt_busy(db->cache[i].stmt))
                                return log_debug_errno(EBUSY, "Cached statement '%s' is in use.", sql);
                        *ret = &db->cache[i].handle;
                        return 0;
                }
        for (unsigned i = 0; i < db->n_cache; i++)
                if (streq(db->cache[i].sql, sql)) {
                        db->cache[i].key = sql;
                        if (sqlite3_stmt_busy(db->cache[i].stmt))
                                return log_debug_errno(EBUSY, "Cached statement '%s' is in use.", sql);
                        *ret = &db->cache[i].handle;
                        return 0;
                }
        if (db->n_cache >= DB_STATEMENT_CACHE_MAX)
                /* A bug, not a condition: the request path has more distinct SQL than the cache holds. */
                return log_error_errno(ENOSPC, "Statement cache full (%u), not caching '%s'.", DB_STATEMENT_CACHE_MAX, sql);

        copy = strdup(sql);
        if (!copy)
                return -ENOMEM;
        rc = sqlite3_prepare_v3(db->sqlite, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
                free(copy);
                return log_debug_errno(db_errno(rc), "Failed to prepare '%s': %s", sql, db_error(db));
        }
        db->cache[db->n_cache].sql = copy;
        db->cache[db->n_cache].key = sql;
        db->cache[db->n_cache].stmt = s;
        db->cache[db->n_cache].handle = (DbStmt) { .sqlite = s };
        *ret = &db->cache[db->n_cache++].handle;
        return 0;
}

int db_prepare_cached(Db *db, const char *sql, sqlite3_stmt **ret) {
        DbStmt *s;
        int r;

        assert(!db->pg);
        r = db_sqlite_prepare_cached(db, sql, &s);
        if (r < 0)
                return r;
        *ret = s->sqlite;
        return 0;
}

static int db_step_cached(Db *db, const char *sql) {
        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = db_prepare_cached(db, sql, &s);
        if (r < 0)
                return r;
        rc = sqlite3_step(s);
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int db_begin(Db *db) {
        if (db->pg)
                return db_pg_begin(db);
        return db_step_cached(db, "BEGIN IMMEDIATE");
}

int db_begin_read(Db *db) {
        if (db->pg)
                return db_pg_begin_read(db);
        return db_step_cached(db, "BEGIN DEFERRED");
}

int db_commit(Db *db) {
        if (db->pg)
                return db_pg_commit(db);
        int r = db_step_cached(db, "COMMIT");
        /* A failed COMMIT would leave the transaction open: nothing retries it. */
        if (r < 0)
                db_rollback(db);
        return r;
}

/* The next four are SQLite's: PostgreSQL keeps its own cache and WAL, and commits durably (synchronous_commit). */
int db_cache_size(Db *db, unsigned kib) {
        char sql[64];

        if (db->pg)
                return 0;
        snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%u", kib);
        return db_exec(db, sql);
}

int db_synchronous_full(Db *db) {
        if (db->pg)
                return 0;
        return db_exec(db, "PRAGMA synchronous = FULL");
}

int db_disable_autocheckpoint(Db *db) {
        if (db->pg)
                return 0;
        return db_errno(sqlite3_wal_autocheckpoint(db->sqlite, 0));
}

int db_checkpoint(Db *db, int *ret_frames) {
        int frames = 0, rc;

        if (db->pg) {
                if (ret_frames)
                        *ret_frames = 0;
                return 0;
        }
        rc = sqlite3_wal_checkpoint_v2(db->sqlite, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, NULL);
        if (rc != SQLITE_OK)
                return db_errno(rc);
        if (ret_frames)
                *ret_frames = frames;
        return 0;
}

void db_rollback(Db *db) {
        if (db->pg) {
                db_pg_rollback(db);
                return;
        }
        if (!sqlite3_get_autocommit(db->sqlite))
                (void) sqlite3_exec(db->sqlite, "ROLLBACK", NULL, NULL, NULL);
}

int db_schema_version(Db *db) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        if (db->pg)
                return db_pg_schema_version(db);
        r = db_prepare(db, "PRAGMA user_version", &s);
        if (r < 0)
                return r;
        if (sqlite3_step(s) != SQLITE_ROW)
                return -EIO;
        return sqlite3_column_int(s, 0);
}

static int db_migrate(Db *db) {
        int version, r;

        version = db_schema_version(db);
        if (version < 0)
                return version;
        if ((unsigned) version > db_n_migrations)
                return log_error_errno(EPROTONOSUPPORT,
                                       "Database %s has schema version %d, newer than this patela-server (%u).",
                                       db->path, version, db_n_migrations);

        for (unsigned i = (unsigned) version; i < db_n_migrations; i++) {
                const DbMigration *m = &db_migrations[i];
                char pragma[64];

                r = db_begin(db);
                if (r < 0)
                        return log_error_errno(r, "Failed to start migration %u: %s", m->version, db_error(db));
                r = db_exec(db, m->sql);
                if (r >= 0) {
                        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", m->version);
                        r = db_exec(db, pragma);
                }
                if (r >= 0)
                        r = db_commit(db);
                if (r < 0) {
                        log_error_errno(r, "Migration %u (%s) failed: %s", m->version, m->name, db_error(db));
                        db_rollback(db);
                        return r;
                }
                log_debug("Applied migration %u (%s).", m->version, m->name);
        }
        return 0;
}

/* SQLite's own busy handler (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, … ms between attempts: one collision
 * with a transaction of some 50 µs (the checkpointer, the admin CLI) would leave the server idle for
 * milliseconds. */
static int busy_handler(void *userdata, int count) {
        Db *db = userdata;
        uint64_t now = now_monotonic_usec();
        struct timespec ts;

        if (count == 0)
                db->busy_since = now;
        else if (now - db->busy_since >= DB_BUSY_TIMEOUT_USEC)
                return 0;
        ts = (struct timespec) { .tv_nsec = (long) MIN(20U << MIN(count, 6), 1000U) * 1000L };
        (void) nanosleep(&ts, NULL);
        return 1;
}

int db_open(const char *path, Db **ret) {
        _cleanup_(db_closep) Db *db = NULL;
        int rc, r;

        /* Database=postgresql://…: the second backend (docs/postgresql.md). */
        if (db_is_postgresql_uri(path))
                return db_pg_open(path, ret);

        db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        db->path = strdup(path);
        if (!db->path)
                return -ENOMEM;

        /* The database holds the fleet's family keys (server-family.h): a new one is the owner's alone. SQLite would
         * create it 0644 less the umask, and its -wal and -shm files take the database file's mode. */
        if (path[0] != ':' && !startswith(path, "file:")) {
                int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                /* The admin CLI before the service's first start: /var/lib/patela is made by systemd
                 * (StateDirectory=) only then. Its directory, root's alone (0700), one level; systemd moves
                 * it under /var/lib/private and hands it to the dynamic user when the service starts. */
                if (fd < 0 && errno == ENOENT) {
                        _cleanup_free_ char *dir = strdup(path);
                        char *slash;

                        if (!dir)
                                return -ENOMEM;
                        slash = strrchr(dir, '/');
                        if (slash && slash != dir) {
                                *slash = '\0';
                                if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                                        return log_error_errno(errno, "Failed to create the database's directory %s: %m",
                                                               dir);
                                fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                        }
                }
                if (fd >= 0)
                        close(fd);
                else if (errno != EEXIST)
                        return log_error_errno(errno, "Failed to create database %s: %m", path);
        }
        rc = sqlite3_open_v2(path, &db->sqlite,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                             NULL);
        if (rc != SQLITE_OK)
                return log_error_errno(db_errno(rc), "Failed to open database %s: %s", path,
                                       db->sqlite ? sqlite3_errmsg(db->sqlite) : sqlite3_errstr(rc));

        /* Writers wait for each other rather than fail; WAL lets readers go on meanwhile. synchronous=NORMAL
         * is durable across application crashes in WAL mode; a power loss may lose the last transactions,
         * never corrupt the file. */
        (void) sqlite3_busy_handler(db->sqlite, busy_handler, db);
        r = db_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
        if (r < 0)
                return log_error_errno(r, "Failed to configure database %s: %s", path, db_error(db));

        r = db_migrate(db);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(db);
        return 0;
}

Db *db_close(Db *db) {
        if (!db)
                return NULL;
        if (db->pg)
                return db_pg_close(db);
        for (unsigned i = 0; i < db->n_cache; i++) {
                sqlite3_finalize(db->cache[i].stmt);
                free(db->cache[i].sql);
        }
        sqlite3_close_v2(db->sqlite);
        free(db->path);
        free(db);
        return NULL;
}
