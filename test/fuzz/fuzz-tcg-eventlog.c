/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The firmware's TCG event log as patela-server receives it from a node (and patela-pcrlock reads it at
 * boot): parsed with its limits, never a crash; what parses has events that point inside the log, digests
 * that can be re-checked and a replay; what fails has a reason. */
#include <errno.h>
#include <stdlib.h>

#include "fuzz.h"
#include "pcr-replay.h"
#include "tcg-eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        TcgLog *log = NULL;
        BootError e = {};
        PcrValues v;
        char *s;
        int r;

        r = tcg_log_parse(data, size, &log, &e);
        if (r < 0) {
                if (r != -ENOMEM && !e.reason)
                        abort();
                s = boot_error_to_string(&e);
                free(s);
                return 0;
        }
        for (size_t i = 0; i < log->n_events; i++) {
                const TcgEvent *ev = &log->events[i];

                if (ev->pcr >= TCG_PCRS || ev->data < log->buffer ||
                    ev->data + ev->data_size > log->buffer + log->size || ev->offset >= log->size)
                        abort();
                (void) tcg_event_check_digest(ev);
                (void) tcg_event_type_to_string(ev->type);
        }
        if (tcg_log_check_digests(log, PCR_MASK_ALL, &e) < 0) {
                s = boot_error_to_string(&e);
                free(s);
        }
        pcr_replay(log, NULL, &v);
        tcg_log_free(log);
        return 0;
}
