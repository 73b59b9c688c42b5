/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keyd's records in TPM NV, as keyd reads them back: the KEK index's content (sealed object and the store's
 * head), a store slot's record (under a fixed key: the header checks before the tag), a copy of pcrlock.json.
 * Whoever holds the owner hierarchy writes the last two at will. Bounded, strict, never a crash; a KEK record
 * that parses is rebuilt to the same bytes (but for its head). A store slot under a key the fuzzer cannot forge
 * stops at the tag; so the fourth kind is a slot's header with its plaintext, sealed here under the fixed key
 * before keyd opens it: what follows the tag check is parsed as carefully as what precedes it. */
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
        switch (data[0] % 4) {
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
        case 3: {
                SecretBuffer *set = NULL;
                uint8_t *rec;
                size_t n = size - 1;

                if (n < KEYD_RECORD_HEADER_SIZE)
                        break;
                rec = malloc(n);
                if (!rec)
                        break;
                /* Header as given (magic, version, flags, generation, length; nonce), body encrypted in place. */
                memcpy(rec, data + 1, KEYD_RECORD_HEADER_SIZE);
                if (keyd_aes_gcm(/* encrypt= */ true, kek, rec + KEYD_RECORD_AAD_SIZE, rec, KEYD_RECORD_AAD_SIZE, data + 1 + KEYD_RECORD_HEADER_SIZE,
                                 n - KEYD_RECORD_HEADER_SIZE, rec + KEYD_RECORD_HEADER_SIZE,
                                 rec + KEYD_RECORD_AAD_SIZE + KEYD_GCM_NONCE_SIZE) >= 0 &&
                    keyset_open_record(rec, n, kek, 0, &set) >= 0) {
                        const KeySet *s = keyset_of(set);
                        SecretBuffer *again = NULL;
                        uint8_t *sealed = NULL;
                        size_t sealed_size;

                        if (s->n_entries > s->capacity || s->n_family > KEYD_FAMILY_KEYS_MAX)
                                abort();
                        /* What opens seals again to a record of the same length that opens to the same set. */
                        if (keyset_seal_record(s, kek, &sealed, &sealed_size) < 0 || sealed_size != n ||
                            keyset_open_record(sealed, sealed_size, kek, 0, &again) < 0 ||
                            keyset_of(again)->n_entries != s->n_entries || keyset_of(again)->n_family != s->n_family)
                                abort();
                        secret_buffer_free(again);
                        free(sealed);
                        secret_buffer_free(set);
                }
                free(rec);
                break;
        }
        }
        return 0;
}
