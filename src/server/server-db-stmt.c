/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <openssl/rand.h>
#include <time.h>

#include "alloc-util.h"
#include "log.h"
#include "server-db-pg.h"
#include "server-db-stmt.h"

int db_stmt_prepare_cached(Db *db, const char *sql, DbStmt **ret) {
        sqlite3_stmt *s;
        unsigned i;
        int r;

        if (db->pg)
                return db_pg_prepare_cached(db, sql, ret);

        r = db_prepare_cached(db, sql, &s);
        if (r < 0)
                return r;
        /* The entry db_prepare_cached() found or added: the last one touched by address, in practice. */
        for (i = db->n_cache; i > 0; i--)
                if (db->cache[i - 1].stmt == s)
                        break;
        assert(i > 0);
        db->cache[i - 1].handle = (DbStmt) { .sqlite = s };
        *ret = &db->cache[i - 1].handle;
        return 0;
}

int db_stmt_prepare(Db *db, const char *sql, DbStmt **ret) {
        _cleanup_free_ DbStmt *s = NULL;
        int r;

        s = calloc(1, sizeof(DbStmt));
        if (!s)
                return -ENOMEM;
        r = db->pg ? db_pg_prepare(db, sql, &s->pg) : db_prepare(db, sql, &s->sqlite);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

DbStmt *db_stmt_free(DbStmt *s) {
        if (!s)
                return NULL;
        if (s->sqlite)
                sqlite3_finalize(s->sqlite);
        else
                db_pg_stmt_free(s->pg);
        free(s);
        return NULL;
}

static int begin(Db *db) {
        return db->pg ? db_pg_begin(db) : db_begin(db);
}

static int commit(Db *db) {
        return db->pg ? db_pg_commit(db) : db_commit(db);
}

static void rollback(Db *db) {
        if (db->pg)
                db_pg_rollback(db);
        else
                db_rollback(db);
}

int db_transaction(Db *db, int (*fn)(Db *db, void *userdata), void *userdata) {
        int r;

        for (unsigned attempt = 1;; attempt++) {
                r = begin(db);
                if (r >= 0) {
                        r = fn(db, userdata);
                        if (r >= 0)
                                r = commit(db);
                        if (r < 0)
                                rollback(db);
                }
                if (r != -EAGAIN || attempt >= DB_TRANSACTION_ATTEMPTS)
                        return r;
                /* Another writer's transaction overlapped: a pause of 0.1–1.6 ms doubling with each attempt, random
                 * so that the two do not collide again. */
                uint16_t jitter = 0;
                (void) RAND_bytes((unsigned char *) &jitter, sizeof(jitter));
                uint64_t usec = (100U << MIN(attempt - 1, 4U)) + jitter % 100U;
                (void) nanosleep(&(struct timespec) { .tv_nsec = (long) usec * 1000L }, NULL);
                log_debug("Transaction failed to serialise, attempt %u of %u.", attempt + 1, DB_TRANSACTION_ATTEMPTS);
        }
}
