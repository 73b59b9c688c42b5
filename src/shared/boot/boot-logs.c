/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "alloc-util.h"
#include "boot-logs.h"

void boot_logs_done(BootLogs *l) {
        l->firmware = tcg_log_free(l->firmware);
        l->userspace = userspace_log_free(l->userspace);
}

/* -EBADMSG with "what: where (PCR, type): why" as the reason; -ENOMEM. */
static int refuse(const char *what, const BootError *e, char **ret_reason) {
        _cleanup_free_ char *where = e ? boot_error_to_string(e) : NULL;

        if ((e && !where) || asprintf(ret_reason, "%s%s%s", what, where ? ": " : "", where ?: "") < 0)
                return -ENOMEM;
        return -EBADMSG;
}

int boot_logs_explain(const void *firmware, size_t firmware_size, const void *userspace, size_t userspace_size,
                      const PcrValues *quoted, uint32_t judged, BootLogs *ret, char **ret_reason) {
        _cleanup_(boot_logs_done) BootLogs l = {};
        PcrValues replayed;
        BootError e = {};
        char buf[128];
        int r;

        r = tcg_log_parse(firmware, firmware_size, &l.firmware, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return refuse("the firmware event log is refused", &e, ret_reason);
        if (userspace) {
                r = userspace_log_parse(userspace, userspace_size, &l.userspace, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return refuse("the userspace event log is refused", &e, ret_reason);
        }
        for (size_t i = 0; i < l.firmware->n_events; i++) {
                const TcgEvent *ev = &l.firmware->events[i];
                if ((judged & (UINT32_C(1) << ev->pcr)) && !tcg_event_type_to_string(ev->type)) {
                        snprintf(buf, sizeof(buf), "firmware log, event %zu: unknown event type 0x%08x on PCR %u", i,
                                 ev->type, ev->pcr);
                        return refuse(buf, NULL, ret_reason);
                }
        }
        for (size_t i = 0; l.userspace && i < l.userspace->n_records; i++) {
                const UserspaceRecord *u = &l.userspace->records[i];
                if ((judged & (UINT32_C(1) << u->pcr)) && u->type < 0) {
                        snprintf(buf, sizeof(buf), "userspace log, record %zu: unknown event type on PCR %u", i,
                                 u->pcr);
                        return refuse(buf, NULL, ret_reason);
                }
        }
        r = tcg_log_check_digests(l.firmware, judged, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return refuse("an event's digest is not the hash of its data", &e, ret_reason);
        if (l.userspace) {
                r = userspace_log_check_digests(l.userspace, judged, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return refuse("a record's digest is not the hash of its data", &e, ret_reason);
        }
        pcr_replay(l.firmware, l.userspace, &replayed);
        r = pcr_values_compare(&replayed, quoted, judged, &e);
        if (r < 0)
                return refuse("the event logs do not replay to the quoted PCRs", &e, ret_reason);
        *ret = l;
        l = (BootLogs) {};
        return 0;
}
