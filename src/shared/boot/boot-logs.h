/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pcr-replay.h"
#include "tcg-eventlog.h"
#include "userspace-log.h"

/* Whether a boot's two logs explain a quote: what a verifier checks before it looks at what the logs say
 * (which image, which firmware). The server's verifier and the benchmark's floor run exactly this. */

typedef struct BootLogs {
        TcgLog *firmware;
        UserspaceLog *userspace; /* NULL: none sent */
} BootLogs;

void boot_logs_done(BootLogs *l);

/* Parses the firmware log (required) and the userspace log (may be NULL), then, on the PCRs in judged:
 * refuses an event type the PC Client profile does not define and a systemd record of an unknown type,
 * re-hashes what the profile ties to its data, and replays both logs against quoted. 0 with the parsed
 * logs in *ret: they explain every judged PCR. -EBADMSG with a sentence for people in *ret_reason
 * (malloc'd): they do not, or are malformed. -ENOMEM. */
int boot_logs_explain(const void *firmware, size_t firmware_size, const void *userspace, size_t userspace_size,
                      const PcrValues *quoted, uint32_t judged, BootLogs *ret, char **ret_reason);
