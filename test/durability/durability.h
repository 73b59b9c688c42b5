/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "bench-identity.h"
#include "bench-node.h"
#include "protocol.h"

/* What the durability program knows of the fleet: only what the server acknowledged (a 2xx reply, a CLI exit
 * status 0) or refused for certain (a CLI exit status other than 0, which rolled back), and which changes are
 * of unknown outcome (a request cut by the kill: committed or not). The checks compare this with the database
 * and the server after every kill. */

typedef enum DurState {
        DUR_PENDING,
        DUR_ENABLED,
        DUR_DISABLED,
        _DUR_STATE_MAX,
        _DUR_STATE_INVALID = -EINVAL,
} DurState;

const char *dur_state_to_string(DurState s) _const_;
DurState dur_state_from_string(const char *s) _pure_;

/* One node whose enrolment was acknowledged (202 pending). Its lock is held by the one worker that acts on it
 * (an authentication, an admin change), so that the changes to one node are ordered as the journal has them. */
typedef struct DurNode {
        pthread_mutex_t lock;
        BenchIdentity id;
        char fingerprint[PROTO_FINGERPRINT_MAX + 1];
        DurState state;             /* after the last acknowledged admin change */
        unsigned relay_count;       /* idem */
        bool uncertain;             /* an admin change was cut off (its CLI killed): state_alt and
                                     * relay_count_alt are what it would have made; the next check reads
                                     * which one the database has and takes it as known */
        DurState state_alt;
        unsigned relay_count_alt;
        unsigned admin_acked;       /* acknowledged admin changes (enable, disable, relays) */
        unsigned auths_acked;       /* attestations answered 200 with a token */
        unsigned auths_unknown;     /* attestations cut off: accepted or not */
        char token[BENCH_TOKEN_B64_SIZE]; /* the newest acknowledged token ("" before the first) */
        bool token_live;            /* nothing of unknown outcome since that token and the node still enabled */
        bool token_refused;         /* the token was answered 401 after a restart (checked) */
} DurNode;

typedef struct DurImage {
        char name[32];
        char sha256[65];
        bool retired;
        bool retire_unknown;        /* a retire was cut off: retired or not until the next check */
} DurImage;

typedef enum DurOp {
        DUR_OP_ENROL,
        DUR_OP_AUTH,
        DUR_OP_ENABLE,
        DUR_OP_DISABLE,
        DUR_OP_RELAYS,
        DUR_OP_POOL,
        DUR_OP_IMAGE_ADD,
        DUR_OP_IMAGE_RETIRE,
        _DUR_OP_MAX,
        _DUR_OP_INVALID = -EINVAL,
} DurOp;

const char *dur_op_to_string(DurOp o) _const_;

typedef struct DurCounters {
        atomic_ullong attempted[_DUR_OP_MAX];
        atomic_ullong acked[_DUR_OP_MAX];
        atomic_ullong refused[_DUR_OP_MAX];  /* a definite no: CLI exit status ≠ 0, or a 4xx */
        atomic_ullong unknown[_DUR_OP_MAX];  /* cut by the kill */
} DurCounters;

typedef struct Fleet {
        /* Configuration */
        const char *server;       /* patela-server binary */
        const char *database;     /* its Database= value */
        const char *reference;    /* an image reference file (patela.reference.json) to vary */
        const char *work_dir;
        char *url;
        char *cacert;
        int log_fd;               /* the server's and the CLI's output */
        FILE *journal;            /* one line per acknowledged change */

        pthread_mutex_t lock;     /* the arrays below and the journal */
        DurNode **nodes;
        size_t n_nodes, max_nodes;
        DurImage *images;
        size_t n_images, max_images;
        char **pool;              /* "names X" / "ipv4 X": acknowledged pool entries */
        size_t n_pool, max_pool;
        atomic_uint next_pool, next_image;

        DurCounters counters;
        unsigned round;
        /* From just before the database server is crashed until the workers are paused after the kill: a
         * refusal (a CLI exit status other than 0, an HTTP error) may then be a lost connection at COMMIT, a
         * change that committed or not, so it is counted as cut off (unknown), never as refused for certain. */
        atomic_bool database_down;
} Fleet;

void fleet_done(Fleet *f);

/* Appends one line to the journal: "ROUND OP DETAIL" for an acknowledged change; fleet_journal_note() writes
 * "ROUND # DETAIL" (a kill, a change cut off by it). */
void fleet_journal(Fleet *f, DurOp op, const char *fmt, ...) _printf_(3, 4);
void fleet_journal_note(Fleet *f, const char *fmt, ...) _printf_(2, 3);

/* The admin CLI on the fleet's database: argv without the binary and --database=. *ret_out as dur_run(). */
int fleet_cli(Fleet *f, char *const *args, char **ret_out, int *ret_status);
/* The same for a change of the workload: a command the driver may kill with the server. */
int fleet_cli_change(Fleet *f, char *const *args, int *ret_status);
