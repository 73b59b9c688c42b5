/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stored form of a relay's keys, as keyd unpacks it from the store: any 160 bytes must either rebuild
 * a consistent key or be refused, never crash. What unpacks must pack back to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tor-keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        TorKeys *k = NULL;
        SecretBuffer *packed = NULL;

        if (tor_keys_unpack(data, size, &k) < 0)
                return 0;
        if (tor_keys_pack(k, &packed) < 0 || packed->size != size || memcmp(packed->data, data, size) != 0)
                abort();
        if (strlen(tor_keys_rsa_fingerprint(k)) != TOR_RSA_FINGERPRINT_LEN)
                abort();
        secret_buffer_free(packed);
        tor_keys_free(k);
        return 0;
}
