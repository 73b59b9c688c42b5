/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "server-checkpoint.h"
#include "server-db.h"

/* Between two checkpoints the WAL grows by what the server writes meanwhile: some 40 kB per
 * authentication, several MB at a thousand authentications a second. Past RESTART_FRAMES (4 kB each) the
 * checkpointer makes the WAL start over (server-checkpoint.h). */
#define CHECKPOINT_INTERVAL_USEC (250U * 1000U)
#define RESTART_FRAMES 4096

struct Checkpointer {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stop;
        Db *db;
        pthread_mutex_t *write_lock;
};

static void *checkpointer_thread(void *p) {
        Checkpointer *c = p;
        bool stop;

        do {
                struct timespec deadline;
                int frames = 0, r;

                clock_gettime(CLOCK_MONOTONIC, &deadline);
                deadline.tv_nsec += (long) CHECKPOINT_INTERVAL_USEC * 1000L;
                deadline.tv_sec += deadline.tv_nsec / 1000000000L;
                deadline.tv_nsec %= 1000000000L;

                pthread_mutex_lock(&c->lock);
                while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &deadline) == 0)
                        ;
                stop = c->stop;
                pthread_mutex_unlock(&c->lock);

                r = db_checkpoint(c->db, &frames);
                if (r >= 0 && frames > RESTART_FRAMES) {
                        pthread_mutex_lock(c->write_lock);
                        r = db_checkpoint(c->db, NULL);
                        pthread_mutex_unlock(c->write_lock);
                }
                if (r < 0)
                        log_debug_errno(r, "WAL checkpoint failed, retrying later: %m");
        } while (!stop);
        return NULL;
}

int checkpointer_start(const char *database, pthread_mutex_t *write_lock, Checkpointer **ret) {
        pthread_condattr_t attr;
        Checkpointer *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        r = db_open(database, &c->db);
        if (r < 0) {
                free(c);
                return r;
        }
        c->write_lock = write_lock;
        pthread_mutex_init(&c->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&c->wake, &attr);
        pthread_condattr_destroy(&attr);
        r = pthread_create(&c->thread, NULL, checkpointer_thread, c);
        if (r != 0) {
                pthread_cond_destroy(&c->wake);
                pthread_mutex_destroy(&c->lock);
                db_close(c->db);
                free(c);
                return -r;
        }
        *ret = c;
        return 0;
}

Checkpointer *checkpointer_stop(Checkpointer *c) {
        if (!c)
                return NULL;
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        db_close(c->db);
        free(c);
        return NULL;
}
