/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/sha.h>

#include "pcrlock-image.h"
#include "pcrlock-pe.h"
#include "pcrlock-reference.h"

static int uki_os_release(const uint8_t *data, size_t size, OsRelease *ret) {
        const PeSection *s;
        const uint8_t *text;
        size_t text_size;
        PeImage pe;
        int r;

        r = pe_parse(data, size, &pe);
        if (r < 0)
                return r;
        s = pe_find_section(&pe, ".osrel");
        if (!s) {
                *ret = (OsRelease) {};
                return 0;
        }
        /* VirtualSize bytes: the file itself with ukify and mkosi, NULs after it if a tool padded it. Only the raw
         * data (inside the file, checked by pe_parse()) can hold text: the zeros past it are not read, so that a
         * small file claiming a VirtualSize of 1 GiB costs nothing (found by fuzz-pcrlock-image: 11 s each). */
        text = pe.data + s->raw_offset;
        text_size = MIN(s->raw_size, s->virtual_size);
        while (text_size > 0 && text[text_size - 1] == '\0')
                text_size--;
        r = os_release_parse((const char *) text, text_size, ret);
        return r == -E2BIG ? -EBADMSG : r;
}

int reference_from_uki(const uint8_t *data, size_t size, ImageReference *ret, const char **reterr_problem) {
        ImageMeasurements m;
        OsRelease os;
        uint8_t digest[32];
        int r;

        r = image_measurements_from_uki(data, size, &m);
        if (r == -EBADMSG && reterr_problem)
                *reterr_problem = "not a UKI (a PE image with a .linux section)";
        if (r < 0)
                return r;
        r = uki_os_release(data, size, &os);
        if (r == -EBADMSG && reterr_problem)
                *reterr_problem = "its .osrel section is not an os-release file with ID, VERSION_ID, IMAGE_ID, "
                                  "IMAGE_VERSION and BUILD_ID of [A-Za-z0-9._~+-]";
        if (r < 0)
                return r;
        SHA256(data, size, digest);
        r = image_reference_init(ret, &m, digest, size, &os);
        if (r == -EBADMSG && reterr_problem)
                *reterr_problem = "it does not measure one or two PE images on PCR 4";
        return r;
}
