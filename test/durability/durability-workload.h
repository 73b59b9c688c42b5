/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "durability.h"

/* The mixed workload: worker threads, each with its own HTTPS client and random stream, draw operations
 * (enrolments of new software nodes, authentications of enabled ones, admin changes through the CLI) until
 * `total` have been started. Between rounds the driver pauses them: every worker finishes the operation it
 * is in (those cut by the kill fail fast, the CLI's complete) and waits. */
typedef struct Workload {
        Fleet *fleet;
        unsigned n_threads;
        unsigned long long total;
        unsigned long long seed;
        atomic_ullong started, done;
        atomic_bool failed;          /* a worker stopped on a failure of its own (not the server's) */

        pthread_mutex_t lock;
        pthread_cond_t resume, idle;
        bool paused;
        unsigned n_idle, n_finished;
        pthread_t *threads;
        struct WorkerState *workers;
} Workload;

int workload_start(Workload *w);
/* True once every worker finished (the total reached, or a worker failed). */
bool workload_finished(Workload *w);
/* Returns once every worker is idle or finished. */
void workload_pause(Workload *w);
void workload_resume(Workload *w);
/* After the last resume: waits for the workers to finish the total. */
void workload_join(Workload *w);
void workload_done(Workload *w);

/* Adds the first pool entries (before the first round). */
int workload_seed_pools(Fleet *f);
