/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every TPM structure attestd accepts from a peer, unmarshalled strictly; what parses must marshal back to
 * the same bytes and have a computable name (for public areas). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tpm2-marshal.h"
#include "tpm2-templates.h"

#define ROUND_TRIP(type, data, size)                                                          \
        do {                                                                                  \
                type v;                                                                       \
                if (tpm2_unmarshal_##type(data, size, &v) >= 0) {                             \
                        uint8_t *out = NULL;                                                  \
                        size_t n;                                                             \
                        if (tpm2_marshal_##type(&v, &out, &n) < 0 || n != size ||             \
                            memcmp(out, data, size) != 0)                                     \
                                abort();                                                      \
                        free(out);                                                            \
                }                                                                             \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        TPM2B_PUBLIC pub;

        if (size == 0)
                return 0;

        /* The first byte picks the structure, the rest is its encoding. */
        switch (data[0] % 5) {
        case 0:
                if (tpm2_unmarshal_TPM2B_PUBLIC(data + 1, size - 1, &pub) >= 0) {
                        TPM2B_NAME name;
                        (void) tpm2_public_name(&pub.publicArea, &name);
                        (void) tpm2_ak_check_public(&pub.publicArea);
                        (void) tpm2_public_is_default_ek(&pub.publicArea);
                }
                ROUND_TRIP(TPM2B_PUBLIC, data + 1, size - 1);
                break;
        case 1:
                ROUND_TRIP(TPM2B_ID_OBJECT, data + 1, size - 1);
                break;
        case 2:
                ROUND_TRIP(TPM2B_ENCRYPTED_SECRET, data + 1, size - 1);
                break;
        case 3:
                ROUND_TRIP(TPMS_ATTEST, data + 1, size - 1);
                break;
        case 4:
                ROUND_TRIP(TPMT_SIGNATURE, data + 1, size - 1);
                break;
        }
        return 0;
}
