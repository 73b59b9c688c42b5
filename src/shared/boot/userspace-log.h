/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "boot-error.h"
#include "macro.h"
#include "tcg-eventlog.h"

/* systemd's userspace measurement log, /run/log/systemd/tpm2-measure.log: JSON-SEQ (RFC 7464: each record
 * is RS 0x1E, a JSON text, LF) of CEL-JSON records, one per extend that systemd made after the firmware
 * (systemd-pcrextend's boot phases on PCR 11, machine ID and file systems on PCR 15, systemd-cryptsetup's
 * volume keys). systemd 257 writes exactly this shape (measured with systemd-pcrextend 257.13):
 *
 *   {"pcr":11,
 *    "digests":[{"hashAlg":"sha1","digest":"…"},{"hashAlg":"sha256","digest":"…"},…],
 *    "content_type":"systemd",
 *    "content":{"string":"sysinit","bootId":"…32 hex…","timestamp":389188469,"eventType":"phase"}}
 *
 * The parser is strict: the framing exactly as above (the log starts with RS, every record ends with LF,
 * no NUL), these fields and no other, each once, of these types; pcr 0–23; digests one per bank, each a
 * known bank's name and a hex digest of its size, SHA-256 required; one boot ID for the whole log. Records
 * systemd 258 writes for NvPCRs ("nv_index" instead of "pcr") are refused: patela's image runs 257. Nothing
 * here logs. */

#define USERSPACE_LOG_SIZE_MAX (1024U * 1024U)
#define USERSPACE_RECORDS_MAX 1024U
#define USERSPACE_RECORD_SIZE_MAX (16U * 1024U)
#define USERSPACE_STRING_MAX 4096U

/* content.eventType, as systemd 257 names them (src/shared/tpm2-util.c). */
typedef enum UserspaceEventType {
        USERSPACE_EVENT_PHASE,          /* systemd-pcrextend: a boot phase word ("sysinit", "ready", …) */
        USERSPACE_EVENT_FILESYSTEM,     /* systemd-pcrfs: "file-system:WHERE:FSTYPE:UUID:LABEL:…" */
        USERSPACE_EVENT_VOLUME_KEY,     /* systemd-cryptsetup: an HMAC of the volume key */
        USERSPACE_EVENT_MACHINE_ID,     /* systemd-pcrmachine: "machine-id:ID" */
        _USERSPACE_EVENT_TYPE_MAX,
        _USERSPACE_EVENT_TYPE_INVALID = -EINVAL,        /* no eventType, or one systemd 257 does not write */
} UserspaceEventType;

typedef struct UserspaceRecord {
        uint32_t pcr;
        uint8_t sha256[TCG_SHA256_SIZE];
        UserspaceEventType type;
        char *event_type;               /* content.eventType as written, NULL if absent */
        char *string;                   /* content.string, NULL if absent */
        size_t offset;                  /* of the record's RS in the log */
} UserspaceRecord;

typedef struct UserspaceLog {
        UserspaceRecord *records;
        size_t n_records;
} UserspaceLog;

/* Parses a log; an empty one has no records. Errors (reterr names the record and the reason):
 *   -EBADMSG     malformed framing or JSON, a missing, unknown, repeated or mistyped field, a PCR beyond
 *                23, an unknown bank, a digest that is not hex of its bank's size, records of two boots
 *   -E2BIG       past USERSPACE_LOG_SIZE_MAX, USERSPACE_RECORDS_MAX, USERSPACE_RECORD_SIZE_MAX or
 *                USERSPACE_STRING_MAX
 *   -EOPNOTSUPP  a record without a SHA-256 digest
 *   -ENOMEM */
int userspace_log_parse(const void *data, size_t size, UserspaceLog **ret, BootError *reterr);
UserspaceLog *userspace_log_free(UserspaceLog *log);
DEFINE_TRIVIAL_CLEANUP_FUNC(UserspaceLog *, userspace_log_free);

const char *userspace_event_type_to_string(UserspaceEventType t) _const_;
UserspaceEventType userspace_event_type_from_string(const char *s) _pure_;

/* systemd measures the content string itself for phases, machine IDs and file systems
 * (tpm2_extend_bytes() over the word, without NUL):
 *   1        the SHA-256 digest is SHA-256(string)
 *   0        nothing to check: a volume key (an HMAC keyed with the volume key), an unknown or absent type
 *   -EBADMSG a phase, machine ID or file system record without a string or whose digest is not its hash */
int userspace_record_check_digest(const UserspaceRecord *r);
/* The same for every record on a PCR in pcr_mask; reterr names the first one that fails. */
int userspace_log_check_digests(const UserspaceLog *log, uint32_t pcr_mask, BootError *reterr);
