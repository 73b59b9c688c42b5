/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela-pcrlock's parsers of input it does not control: the firmware event log (lock-boot), a UKI (predict,
 * reference), the reference made of a UKI. The first byte picks the parser. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pcrlock-image.h"
#include "pcrlock-reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ImageMeasurements m;

        if (size < 1)
                return 0;
        switch (data[0] % 3) {
        case 0: {
                /* fuzz-tcg-eventlog covers the log's parser and replay; here what lock-boot makes of a log. */
                TcgLog *log = NULL;

                if (tcg_log_parse(data + 1, size - 1, &log, NULL) >= 0) {
                        (void) image_measurements_from_log(log->events, log->n_events, &m);
                        tcg_log_free(log);
                }
                break;
        }
        case 1:
                (void) image_measurements_from_uki(data + 1, size - 1, &m);
                break;
        case 2: {
                /* fuzz-image-reference covers the reference parser itself; here the reference of a UKI. */
                ImageReference ref;

                (void) reference_from_uki(data + 1, size - 1, &ref, NULL);
                break;
        }
        }
        return 0;
}
