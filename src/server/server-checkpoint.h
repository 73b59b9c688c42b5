/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>

#include "macro.h"

/* WAL checkpoints off the request path. Left to SQLite, a checkpoint runs inside the commit that pushes the
 * WAL past 1000 pages, and under steady load again after nearly every later commit until the WAL restarts:
 * request threads copy pages and wait in fdatasync() while their clients wait. Instead the request
 * connections turn automatic checkpoints off (db_disable_autocheckpoint()) and this thread, with its own
 * connection, runs a passive checkpoint (it never blocks a writer) every CHECKPOINT_INTERVAL_USEC and once
 * more when stopped. Durability is unchanged: synchronous=NORMAL in WAL mode syncs at checkpoints, whoever
 * runs them.
 *
 * Under steady load a passive checkpoint never catches up with the writers, and the WAL would grow without
 * bound. Past RESTART_FRAMES, the checkpointer takes write_lock (the lock of the server's one request
 * connection, so no request writes meanwhile) and checkpoints once more: that copies only the frames that came
 * in since the first pass, after which the whole WAL is in the database file and the next commit starts the
 * WAL over. Requests wait for that short tail, not for a whole copy as they did behind a restarting
 * checkpoint (which holds SQLite's writer lock while it copies and syncs everything). Measured at 1,100 auth/s:
 * the tail pass holds the lock 13–17 ms (mostly its two fdatasync()s) every 0.5 s; a passive pass over the
 * 3,000 frames of one interval took 13–70 ms, and the restarting checkpoint copied twice that under the
 * writer lock. */
typedef struct Checkpointer Checkpointer;

int checkpointer_start(const char *database, pthread_mutex_t *write_lock, Checkpointer **ret);
Checkpointer *checkpointer_stop(Checkpointer *c);
