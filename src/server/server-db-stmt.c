/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <openssl/rand.h>
#include <time.h>

#include "alloc-util.h"
#include "log.h"
#include "server-db-pg.h"
#include "server-db-stmt.h"

int db_stmt_prepare_cached(Db *db, const char *sql, DbStmt **ret) {
        if (db->pg)
                return db_pg_prepare_cached(db, sql, ret);
        return db_sqlite_prepare_cached(db, sql, ret);
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

int db_transaction(Db *db, int (*fn)(Db *db, void *userdata), void *userdata) {
        int r;

        for (unsigned attempt = 1;; attempt++) {
                r = db_begin(db);
                if (r >= 0) {
                        r = fn(db, userdata);
                        if (r >= 0)
                                r = db_commit(db);
                        if (r < 0)
                                db_rollback(db);
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
