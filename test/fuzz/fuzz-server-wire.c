/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The server's request decoding: a body as /v1/enroll and /v1/attest receive it, through the JSON parser,
 * the field check and the base64/TPM decoders. */
#include <stdlib.h>

#include "fuzz.h"
#include "server-wire.h"
#include "tpm2-marshal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const allowed[] = { "ekPublic", "ekCertificate", "akPublic", "challenge", "secret",
                                               "quoted", "signature", "pcrValues", NULL };
        static const char *const keys[] = { "ekPublic", "akPublic", "quoted", "signature", "secret" };
        json_object *o = NULL;
        const char *field;

        if (wire_parse((const char *) data, size, &o) < 0)
                return 0;
        (void) wire_check_fields(o, allowed, &field);
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                void *buf = NULL;
                size_t n;
                TPM2B_PUBLIC pub;
                uint8_t id[16];

                if (wire_get_base64(o, keys[i], true, sizeof(TPMS_ATTEST), &buf, &n) >= 0) {
                        (void) tpm2_unmarshal_TPM2B_PUBLIC(buf, n, &pub);
                        free(buf);
                }
                (void) wire_get_hex(o, "challenge", sizeof(id), id);
        }
        json_object_put(o);
        return 0;
}
