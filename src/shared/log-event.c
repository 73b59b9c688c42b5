/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log-event.h"
#include "log.h"

#define FIELDS_MAX 8U
#define FIELD_MAX 1024U

static const struct {
        const char *id, *name;
} events[_LOG_EVENT_MAX] = {
        [LOG_EVENT_NODE_PENDING] = { "6d3db5476185492bbe9f9acc36544810", "node-pending" },
        [LOG_EVENT_NODE_ENABLED] = { "4af62b0f521145989b0e59cf1cde4bfe", "node-enabled" },
        [LOG_EVENT_NODE_DISABLED] = { "5d378b8bc4684e33862e1a13574c147d", "node-disabled" },
        [LOG_EVENT_NODE_TRUSTED] = { "5ad8f67cc2ec4ca3b72818a3570465c5", "node-trusted" },
        [LOG_EVENT_NODE_NOT_TRUSTED] = { "4c77cc2925d84eaeac88afff26322e75", "node-not-trusted" },
        [LOG_EVENT_NODE_REFUSED] = { "971b046804b2465689a1cfa675a45bf4", "node-refused" },
        [LOG_EVENT_ATTESTATION_REJECTED] = { "d5f46b1072ca42408247e13f359f2e1b", "attestation-rejected" },
        [LOG_EVENT_RELAY_STARTED] = { "356e45adfc6a4c3ca5ab80579abc6de4", "relay-started" },
        [LOG_EVENT_RELAY_STOPPED] = { "d13c3777da184718a8c973fc1d0e345e", "relay-stopped" },
        [LOG_EVENT_KEYS_REFUSED] = { "d495b9ae0a164ce5a6251ae6c8d01c46", "keys-refused" },
};

const char *log_event_id(LogEvent e) {
        return e >= 0 && e < _LOG_EVENT_MAX ? events[e].id : NULL;
}

const char *log_event_name(LogEvent e) {
        return e >= 0 && e < _LOG_EVENT_MAX ? events[e].name : NULL;
}

/* One journal entry: MESSAGE, MESSAGE_ID, PRIORITY, SYSLOG_IDENTIFIER, PATELA_EVENT and the fields. */
static int journal_send(LogEvent e, int level, const char *const *fields, const char *message) {
        char buf[5 + FIELDS_MAX][FIELD_MAX];
        struct iovec iov[5 + FIELDS_MAX];
        unsigned n = 0;

        snprintf(buf[n++], FIELD_MAX, "MESSAGE=%s", message);
        snprintf(buf[n++], FIELD_MAX, "MESSAGE_ID=%s", events[e].id);
        snprintf(buf[n++], FIELD_MAX, "PRIORITY=%i", level);
        snprintf(buf[n++], FIELD_MAX, "SYSLOG_IDENTIFIER=%s", program_invocation_short_name);
        snprintf(buf[n++], FIELD_MAX, "PATELA_EVENT=%s", events[e].name);
        for (unsigned i = 0; fields && fields[i] && i < FIELDS_MAX; i++)
                log_escape_controls(fields[i], buf[n++], FIELD_MAX);
        for (unsigned i = 0; i < n; i++)
                iov[i] = (struct iovec) { .iov_base = buf[i], .iov_len = strlen(buf[i]) };
        return sd_journal_sendv(iov, (int) n);
}

static _printf_(5, 0) void log_event_va(LogEvent e, int level, bool audit, const char *const *fields, const char *format, va_list ap) {
        char message[FIELD_MAX - 16], escaped[FIELD_MAX - 16];
        bool journal = getenv("JOURNAL_STREAM");

        assert(e >= 0 && e < _LOG_EVENT_MAX);

        if (level > log_get_max_level() && !audit)
                return;
        vsnprintf(message, sizeof(message), format, ap);
        log_escape_controls(message, escaped, sizeof(escaped));
        if ((journal || audit) && journal_send(e, level, fields, escaped) >= 0 && journal)
                return;
        if (level <= log_get_max_level())
                log_full(level, "%s", escaped);
}

void log_event(LogEvent e, int level, const char *const *fields, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        log_event_va(e, level, /* audit= */ false, fields, format, ap);
        va_end(ap);
}

void log_event_audit(LogEvent e, int level, const char *const *fields, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        log_event_va(e, level, /* audit= */ true, fields, format, ap);
        va_end(ap);
}
