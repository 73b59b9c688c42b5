/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>

#include "macro.h"

/* The events an operator searches the journal for (`journalctl MESSAGE_ID=…`, `journalctl -x`). Each has a
 * MESSAGE_ID of its own and an entry in catalog/patela-server.catalog or patela-node.catalog (the journal-catalog
 * test checks that both agree); the IDs never change once released. */
typedef enum LogEvent {
        LOG_EVENT_NODE_PENDING,         /* server: a new identity proved its TPM and waits for `node enable` */
        LOG_EVENT_NODE_ENABLED,         /* server CLI: node enable */
        LOG_EVENT_NODE_DISABLED,        /* server CLI: node disable */
        LOG_EVENT_NODE_TRUSTED,         /* server: an attestation judged Trusted, session issued */
        LOG_EVENT_NODE_NOT_TRUSTED,     /* server: another verdict, not refused (MeasuredBoot=warn) */
        LOG_EVENT_NODE_REFUSED,         /* server: a verdict MeasuredBoot= refuses: no session */
        LOG_EVENT_ATTESTATION_REJECTED, /* server: an answer that proves nothing (secret, quote, counters) */
        LOG_EVENT_RELAY_STARTED,        /* configd: a relay's tor instance started (or restarted) */
        LOG_EVENT_RELAY_STOPPED,        /* configd: a relay's tor instance stopped */
        LOG_EVENT_KEYS_REFUSED,         /* keyd: the relay keys not unsealed, or the store refused */
        _LOG_EVENT_MAX,
        _LOG_EVENT_INVALID = -EINVAL,
} LogEvent;

/* The 32 hex digits of the event's MESSAGE_ID, and its short name (the PATELA_EVENT= field). */
const char *log_event_id(LogEvent e) _const_;
const char *log_event_name(LogEvent e) _const_;

/* Logs an event at level, as log_full() would. Under journald (JOURNAL_STREAM set) it is a journal entry of its
 * own with MESSAGE_ID=, PATELA_EVENT= and the given fields (NULL-terminated "KEY=value" strings, or NULL), so
 * that `journalctl PATELA_NODE=…` finds it; else (or if the journal cannot be reached) the usual line on stderr.
 * Control characters in the message and the fields are escaped (log.c). */
void log_event(LogEvent e, int level, const char *const *fields, const char *format, ...) _printf_(4, 5);

/* An operator's change made with an admin CLI (node enable/disable): logged as log_event() does, and also sent
 * to the journal when stderr is a terminal, as an audit trail. */
void log_event_audit(LogEvent e, int level, const char *const *fields, const char *format, ...) _printf_(4, 5);
