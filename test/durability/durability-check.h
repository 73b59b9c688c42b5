/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "durability-db.h"
#include "durability.h"
#include "tlog-note.h"
#include "tlog.h"

/* What one round's checks compare with: the previous round's view of the append-only logs. */
typedef struct RowDigest {
        long long id;
        uint8_t digest[32];
} RowDigest;

typedef struct CheckState {
        RowDigest *attestations;   /* every attestation row as the last check read it, by id */
        size_t n_attestations;
        TlogHash *leaves;          /* the transparency log's leaf hashes as the last check read them */
        size_t n_leaves;
        uint64_t checkpoint_size;  /* the last signed checkpoint (0: none yet) */
        TlogHash checkpoint_root;
        TlogKey verifier;
        char *key_path;

        unsigned long long changes_checked; /* acknowledged changes found, summed over the checks */
        unsigned long long tokens_checked;  /* session tokens tried against the server */
        unsigned long long violations;
        unsigned shown;                     /* violations logged by the current check */
} CheckState;

void check_state_done(CheckState *c);

/* The log's signing key (patela-server log init), once before the first round. */
int check_setup(Fleet *f, CheckState *c);

/* With the server down and the workload paused: the database against the journal and the invariants, the
 * logs against the previous round's. Each violation is logged and counted in c->violations; a negative errno
 * only when a check could not run. */
int check_database(Fleet *f, CheckState *c);

/* Between the parts of check_database() (durability-check.c, durability-check-logs.c): */
void check_violation(Fleet *f, CheckState *c, const char *fmt, ...) _printf_(3, 4);
int check_attestations(Fleet *f, CheckState *c, DurDb *db);
int check_tlog(Fleet *f, CheckState *c, DurDb *db);
int check_tlog_kinds(Fleet *f, CheckState *c, DurDb *db);

/* With the server up again and the workload paused: each acknowledged session token still works unless an
 * attestation of unknown outcome came after it, and every token of a node that is not enabled is refused. */
int check_server(Fleet *f, CheckState *c);
