/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "boot-logs.h"
#include "pcr-replay.h"
#include "protocol.h"
#include "server-db.h"
#include "server-http.h"
#include "server-images.h"

/* The verifier's judgement of what a node booted, from an attestation whose quote was verified: the
 * node's event logs must replay to the quoted PCRs, PCR 4 must show exactly one registered image's UKI,
 * PCR 9 and 11 must be that image's, and the firmware PCRs must be the ones pinned for the node.
 * docs/server.md, section "Measured boot". */

/* The verdicts are the protocol's (protocol.h): a refused one is sent as the error code of its name. */
typedef ProtoVerdict Verdict;

/* Pinned per node: the firmware's PCRs and PCR 7 (Secure Boot policy). PCR 4, 9, 11 are the image's; 15 is
 * never judged (a stateless boot's random machine-id). */
#define VERDICT_FIRMWARE_PCRS ((UINT32_C(1) << 0) | (UINT32_C(1) << 1) | (UINT32_C(1) << 2) | (UINT32_C(1) << 3) | \
                               (UINT32_C(1) << 5) | (UINT32_C(1) << 7))
#define VERDICT_NEVER_JUDGED (UINT32_C(1) << 15)

typedef struct Judgement {
        Verdict verdict;
        char reason[PROTO_REASON_MAX + 1];
        int64_t image_id;                 /* 0: no registered image recognised */
        char image[IMAGE_NAME_MAX + 1];
        /* the firmware PCRs as quoted; pin them (no pins yet for this node) when pin is set */
        bool pin;
        uint32_t firmware_mask;
        uint8_t firmware[TCG_PCRS][TCG_SHA256_SIZE];
} Judgement;

/* One attestation: the quoted PCRs (bank, mask, values as verified) and the event logs of the request
 * (base64, either may be NULL), or, in place of a log, its SHA-256 (proto_log_digest()): a log the node named
 * instead of sending it, which only the cache can stand for. */
typedef struct VerdictInput {
        int64_t node_id;
        const char *bank;
        uint32_t mask;
        const ProtoPcrValue *values;
        size_t n_values;
        const char *firmware_log;
        const char *userspace_log;
        const uint8_t *firmware_log_sha256;  /* not NULL: firmware_log is NULL, and this names it */
        const uint8_t *userspace_log_sha256; /* the same for the userspace log */
} VerdictInput;

/* PCR 4's application events the image part judges: more than this is refused unseen. */
#define VERDICT_APPS_MAX 8U

/* The logs, parsed and replayed against the quote, and what the registry part judges of them: the quoted
 * values, and PCR 4's applications (their Authenticode digests, in the order of the log; n_apps counts them all,
 * apps holds the first VERDICT_APPS_MAX). cached: the verifier's cache gave the applications and logs stayed
 * unparsed (empty). */
typedef struct VerdictLogs {
        BootLogs logs;
        PcrValues quoted;
        size_t n_apps;
        uint8_t apps[VERDICT_APPS_MAX][TCG_SHA256_SIZE];
        bool cached;
} VerdictLogs;
void verdict_logs_done(VerdictLogs *l);

/* The verifier's memory of logs that explained their quote. A node re-attesting in the same boot sends the same
 * logs and quotes the same PCRs: what parsing and replaying them found then (they explain those values; PCR 4
 * shows these applications) holds again, so it is looked up instead of computed. The key is SHA-256 over every
 * input of that work (bank, PCR selection, quoted values, each log's SHA-256 as proto_log_digest() makes it): a hit
 * is the same computation's result, exactly, and a node that names its logs by their digests is answered from
 * here. Only logs that explained the quote are kept; the registry and pin part is judged afresh every time. slots
 * entries, 4-way set-associative, the least recently used of a set replaced; thread-safe. */
typedef struct VerdictCache VerdictCache;
#define VERDICT_CACHE_SLOTS 16384U
int verdict_cache_new(size_t slots, VerdictCache **ret);
VerdictCache *verdict_cache_free(VerdictCache *c);

/* Judging one attestation takes two steps, so that the expensive one runs outside the database lock and the
 * other inside the transaction that records the verdict (an image retired meanwhile cannot slip between
 * the two). verdict_judge_logs() decodes, parses and replays the logs (or finds them in cache, if not NULL):
 * 1 when the registry is to judge next; 0 when *ret is the judgement already (LogMismatch).
 * verdict_judge_registry() judges against the registered images and the node's pins, inside the caller's
 * transaction. Either fails (negative errno)
 * only for lack of memory or a database error; every judgement, Trusted or not, is in *ret.
 * verdict_judge_db() is both for a caller that holds the database. */
/* -ENOKEY from verdict_judge_logs(): a log was named by its digest and the cache does not hold it (nothing judged:
 * the node is to send the logs). */
int verdict_judge_logs(VerdictCache *cache, const VerdictInput *in, VerdictLogs *l, Judgement *ret);
int verdict_judge_registry(Db *db, const VerdictInput *in, const VerdictLogs *l, Judgement *ret);
int verdict_judge_db(Db *db, const VerdictInput *in, Judgement *ret);

/* Inside the write transaction that records the attestation: the node's image and last verdict, and its
 * firmware pins if the judgement says to pin. */
int verdict_record(Db *db, int64_t node_id, const Judgement *j);
/* Its second half: the firmware pins alone (the attestation's answer writes the node's row in one UPDATE of its
 * own, server-attest.c). */
int verdict_pin(Db *db, int64_t node_id, const Judgement *j);

/* `node repin`: forgets the node's pins, in a transaction of its own that also logs it (transparency log);
 * its next attestation pins what it quotes. 1 if there were pins. */
int verdict_unpin(Db *db, int64_t node_id, const char *fingerprint);
