/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keyd's records in TPM NV, as keyd reads them back: the KEK index's content (sealed object and the store's
 * head), a store slot's record (under a fixed key: the header checks before the tag), a copy of pcrlock.json.
 * Whoever holds the owner hierarchy writes the last two at will. Bounded, strict, never a crash; a KEK record
 * that parses is rebuilt to the same bytes (but for its head). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "keyd-pcrlock-state.h"
#include "keyd-store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t kek[KEYD_KEK_SIZE] = {};

        if (size == 0)
                return 0;

        /* The first byte picks the record, the rest is its bytes. */
        switch (data[0] % 3) {
        case 0: {
                uint8_t head[KEYD_HEAD_SIZE], *out = NULL;
                Tpm2SealedObject o;
                size_t n;

                if (kek_record_parse(data + 1, size - 1, &o, head) < 0)
                        break;
                if (head[0] > 2 || kek_record_build(&o, &out, &n) < 0 || n != size - 1 ||
                    memcmp(out, data + 1, n - KEYD_HEAD_SIZE) != 0)
                        abort();
                free(out);
                break;
        }
        case 1: {
                SecretBuffer *set = NULL;

                if (keyset_open_record(data + 1, size - 1, kek, 16, &set) >= 0) {
                        if (keyset_of(set)->n_entries > keyset_of(set)->capacity ||
                            keyset_of(set)->n_family > KEYD_FAMILY_KEYS_MAX)
                                abort();
                        secret_buffer_free(set);
                }
                break;
        }
        case 2: {
                const char *text;
                uint64_t generation;
                size_t n;

                if (pcrlock_record_parse(data + 1, size - 1, &generation, &text, &n) >= 0 &&
                    (text < (const char *) data + 1 || text + n > (const char *) data + size))
                        abort();
                break;
        }
        }
        return 0;
}
