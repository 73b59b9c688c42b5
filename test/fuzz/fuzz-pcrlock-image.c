/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela-pcrlock's parsers of input it does not control: the firmware event log (lock-boot), a UKI (predict,
 * reference) and an image reference (predict). The first byte picks the parser. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pcrlock-eventlog.h"
#include "pcrlock-image.h"
#include "pcrlock-reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ImageMeasurements m;
        uint8_t digest[32];

        if (size < 1)
                return 0;
        switch (data[0] % 3) {
        case 0: {
                TcgEvent *events = NULL;
                size_t n;

                if (tcg_log_parse(data + 1, size - 1, &events, &n) >= 0) {
                        (void) image_measurements_from_log(events, n, &m);
                        tcg_log_replay(events, n, 0, digest);
                        free(events);
                }
                break;
        }
        case 1:
                (void) image_measurements_from_uki(data + 1, size - 1, &m);
                break;
        case 2: {
                char *text = malloc(size);

                if (!text)
                        return 0;
                memcpy(text, data + 1, size - 1);
                text[size - 1] = '\0';
                (void) reference_parse(text, strlen(text), &m, digest);
                free(text);
                break;
        }
        }
        return 0;
}
