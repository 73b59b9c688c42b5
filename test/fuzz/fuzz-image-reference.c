/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image reference (patela-server image add, patela-pcrlock predict) and the os-release identity inside
 * it. The first byte picks the parser. A reference that parses must format and parse back to the same
 * values: what the server stores is what it will judge with. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "image-reference.h"

static void check_round_trip(const ImageReference *ref) {
        ImageReference back;
        char *text = NULL;

        if (image_reference_format(ref, &text) < 0)
                abort();
        if (image_reference_parse(text, strlen(text), &back, NULL) < 0)
                abort();
        if (memcmp(back.uki_sha256, ref->uki_sha256, 32) != 0 ||
            memcmp(back.uki_authenticode, ref->uki_authenticode, 32) != 0 ||
            back.have_kernel_authenticode != ref->have_kernel_authenticode ||
            memcmp(back.pcr9, ref->pcr9, 32) != 0 ||
            memcmp(back.pcr11, ref->pcr11, sizeof(ref->pcr11)) != 0 ||
            memcmp(&back.os_release, &ref->os_release, sizeof(ref->os_release)) != 0 ||
            back.measurements.n != ref->measurements.n)
                abort();
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        if (data[0] % 2 == 0) {
                ImageReference ref;
                BootError e = {};
                int r;

                /* Not NUL-terminated, as a file read into a buffer of its size. */
                r = image_reference_parse((const char *) data + 1, size - 1, &ref, &e);
                if (r >= 0)
                        check_round_trip(&ref);
                else if ((r == -EBADMSG || r == -E2BIG) && !e.reason)
                        abort(); /* every refusal names its problem */
        } else {
                OsRelease o;

                if (os_release_parse((const char *) data + 1, size - 1, &o) >= 0)
                        for (OsReleaseField f = 0; f < _OS_RELEASE_FIELD_MAX; f++)
                                if (o.values[f][0] != '\0' && !os_release_value_is_valid(o.values[f]))
                                        abort();
        }
        return 0;
}
