/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* WAL checkpoints off the request path. Left to SQLite, a checkpoint runs inside the commit that pushes the
 * WAL past 1000 pages, and under steady load again after nearly every later commit until the WAL restarts:
 * request threads copy pages and wait in fdatasync() while their clients wait. Instead the request
 * connections turn automatic checkpoints off (db_disable_autocheckpoint()) and this thread, with its own
 * connection, runs a passive checkpoint (it never blocks a writer) every CHECKPOINT_INTERVAL_USEC and once
 * more when stopped. Durability is unchanged: synchronous=NORMAL in WAL mode syncs at checkpoints, whoever
 * runs them. */
typedef struct Checkpointer Checkpointer;

int checkpointer_start(const char *database, Checkpointer **ret);
Checkpointer *checkpointer_stop(Checkpointer *c);
