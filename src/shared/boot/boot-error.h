/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* What a failed parse, check or replay of a boot's logs was looking at, for the verdict's reason: which log,
 * which event or record, where, which PCR and event type, and why. Functions of this room that take a
 * BootError *reterr fill it on failure only (reterr may be NULL); the errno they return stays the answer. */

#define BOOT_ERROR_NONE UINT32_MAX

#define BOOT_LOG_FIRMWARE "firmware log"
#define BOOT_LOG_USERSPACE "userspace log"
#define BOOT_LOG_REPLAY "replay"

typedef struct BootError {
        const char *log;        /* BOOT_LOG_FIRMWARE, BOOT_LOG_USERSPACE, BOOT_LOG_REPLAY */
        size_t index;           /* index into the log's events or records; SIZE_MAX: the log as a whole */
        size_t offset;          /* byte offset of that event or record in the log */
        uint32_t pcr;           /* BOOT_ERROR_NONE when not known */
        uint32_t type;          /* firmware event type; BOOT_ERROR_NONE for none */
        const char *reason;     /* static text */
} BootError;

/* Fills e (if not NULL) and returns error, so that a failure reads
 * "return boot_error(reterr, -EBADMSG, BOOT_LOG_FIRMWARE, i, offset, pcr, type, "why");". */
int boot_error(BootError *e, int error, const char *log, size_t index, size_t offset, uint32_t pcr,
               uint32_t type, const char *reason);

/* One line for people: "firmware log, event 12 at byte 1604 (PCR 4, EV_EFI_ACTION): why" (events of the
 * firmware log, records of the userspace log). NULL on OOM. */
char *boot_error_to_string(const BootError *e);
