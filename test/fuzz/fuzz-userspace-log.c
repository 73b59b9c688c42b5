/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd's userspace measurement log (tpm2-measure.log) as patela-server receives it from a node: parsed
 * strictly with its limits, never a crash; what parses can be re-checked and replayed; what fails has a
 * reason. */
#include <errno.h>
#include <stdlib.h>

#include "fuzz.h"
#include "pcr-replay.h"
#include "userspace-log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        UserspaceLog *log = NULL;
        BootError e = {};
        PcrValues v;
        char *s;
        int r;

        r = userspace_log_parse(data, size, &log, &e);
        if (r < 0) {
                if (r != -ENOMEM && !e.reason)
                        abort();
                s = boot_error_to_string(&e);
                free(s);
                return 0;
        }
        for (size_t i = 0; i < log->n_records; i++) {
                if (log->records[i].pcr >= TCG_PCRS)
                        abort();
                (void) userspace_record_check_digest(&log->records[i]);
                (void) userspace_event_type_to_string(log->records[i].type);
        }
        if (userspace_log_check_digests(log, PCR_MASK_ALL, &e) < 0) {
                s = boot_error_to_string(&e);
                free(s);
        }
        pcr_replay(NULL, log, &v);
        userspace_log_free(log);
        return 0;
}
