/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "boot-error.h"
#include "macro.h"
#include "tcg-eventlog.h"

int boot_error(BootError *e, int error, const char *log, size_t index, size_t offset, uint32_t pcr,
               uint32_t type, const char *reason) {
        assert(error < 0);

        if (e)
                *e = (BootError) {
                        .log = log,
                        .index = index,
                        .offset = offset,
                        .pcr = pcr,
                        .type = type,
                        .reason = reason,
                };
        return error;
}

char *boot_error_to_string(const BootError *e) {
        char where[64] = "", what[96] = "", *s;
        const char *name;

        if (!e)
                return NULL;
        if (e->index != SIZE_MAX)
                snprintf(where, sizeof(where), ", %s %zu at byte %zu",
                         e->log && streq(e->log, BOOT_LOG_USERSPACE) ? "record" : "event", e->index,
                         e->offset);
        name = e->type != BOOT_ERROR_NONE ? tcg_event_type_to_string(e->type) : NULL;
        if (e->pcr != BOOT_ERROR_NONE && name)
                snprintf(what, sizeof(what), " (PCR %u, %s)", (unsigned) e->pcr, name);
        else if (e->pcr != BOOT_ERROR_NONE && e->type != BOOT_ERROR_NONE)
                snprintf(what, sizeof(what), " (PCR %u, type 0x%08x)", (unsigned) e->pcr, (unsigned) e->type);
        else if (e->pcr != BOOT_ERROR_NONE)
                snprintf(what, sizeof(what), " (PCR %u)", (unsigned) e->pcr);

        if (asprintf(&s, "%s%s%s: %s", e->log ?: "boot log", where, what, e->reason ?: "invalid") < 0)
                return NULL;
        return s;
}
