/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "server-db.h"
#include "server-nodes.h"

typedef struct AttestationRecord {
        int64_t node_id;
        const char *fingerprint;
        const char *verdict; /* "accepted" or "rejected" */
        const char *reason;
        const char *bank;
        const char *pcr_values; /* JSON object {"0": "hex", …} or NULL */
        int64_t reset_count;    /* -1: unknown */
        int64_t restart_count;
        const char *source;
        const char *measured_verdict; /* the verifier's (server-verdict.h), NULL when the quote itself failed */
        int64_t image_id;             /* 0: none recognised */
} AttestationRecord;

/* Appends to the attestation log (the table refuses UPDATE and DELETE). */
int attestation_log(Db *db, const AttestationRecord *rec);

typedef struct AttestationEntry {
        int64_t id;
        int64_t node_id;
        char fingerprint[32];
        int64_t at;
        char verdict[16];
        char reason[256];
} AttestationEntry;

/* The newest entries first; node_id < 0 for all nodes. */
int attestation_list(Db *db, int64_t node_id, unsigned limit, AttestationEntry **ret, size_t *ret_n);
