/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "keyd-store.h"
#include "tests.h"

static const uint8_t kek[KEYD_KEK_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static SecretBuffer *make_set(unsigned n) {
        SecretBuffer *b = NULL;
        uint8_t keys[KEYD_RELAY_KEYS_SIZE];
        char name[20];

        if (keyset_new(n + 2, &b) < 0)
                return NULL;
        for (unsigned i = 0; i < n; i++) {
                memset(keys, (int) i, sizeof(keys));
                snprintf(name, sizeof(name), "relay%u", i);
                if (keyset_add(keyset_of(b), name, keys) < 0)
                        return NULL;
        }
        return b;
}

TEST(record_round_trip) {
        _cleanup_(secret_buffer_freep) SecretBuffer *a = make_set(5), *b = NULL;
        _cleanup_free_ uint8_t *rec = NULL;
        size_t size;

        ASSERT_NOT_NULL(a);
        keyset_of(a)->generation = 42;
        keyset_of(a)->n_family = 1;
        memset(keyset_of(a)->family[0], 0xAA, KEYD_FAMILY_KEY_SIZE);
        ASSERT_OK(keyset_seal_record(keyset_of(a), kek, &rec, &size));
        ASSERT_EQ(size, KEYD_RECORD_HEADER_SIZE + 2 + KEYD_FAMILY_KEY_SIZE + 5 * (2 + 6 + KEYD_RELAY_KEYS_SIZE));
        ASSERT_EQ(rec[7], 1); /* one family key: the flag of the keyd that held at most one */
        ASSERT_OK(keyset_open_record(rec, size, kek, 0, &b));
        ASSERT_EQ(keyset_of(b)->generation, 42);
        ASSERT_EQ(keyset_of(b)->n_entries, 5);
        ASSERT_EQ(keyset_of(b)->n_family, 1);
        ASSERT_EQ(keyset_of(b)->family[0][31], 0xAA);
        ASSERT_STREQ(keyset_of(b)->entries[3].name, "relay3");
        ASSERT_EQ(keyset_of(b)->entries[3].keys[100], 3);
}

/* During a rotation the store holds the fleet's two family keys; none is as good. */
TEST(record_family_keys) {
        _cleanup_(secret_buffer_freep) SecretBuffer *a = make_set(2), *b = NULL;
        _cleanup_free_ uint8_t *rec = NULL;
        size_t size;

        ASSERT_NOT_NULL(a);
        keyset_of(a)->n_family = 2;
        memset(keyset_of(a)->family[0], 0x11, KEYD_FAMILY_KEY_SIZE);
        memset(keyset_of(a)->family[1], 0x22, KEYD_FAMILY_KEY_SIZE);
        ASSERT_OK(keyset_seal_record(keyset_of(a), kek, &rec, &size));
        ASSERT_EQ(size, KEYD_RECORD_HEADER_SIZE + 2 + 2 * KEYD_FAMILY_KEY_SIZE + 2 * (2 + 6 + KEYD_RELAY_KEYS_SIZE));
        ASSERT_OK(keyset_open_record(rec, size, kek, 0, &b));
        ASSERT_EQ(keyset_of(b)->n_family, 2);
        ASSERT_EQ(keyset_of(b)->family[0][0], 0x11);
        ASSERT_EQ(keyset_of(b)->family[1][0], 0x22);
        ASSERT_EQ(keyset_of(b)->n_entries, 2);
        free(TAKE_PTR(rec));
        b = secret_buffer_free(b);

        keyset_of(a)->n_family = 0;
        ASSERT_OK(keyset_seal_record(keyset_of(a), kek, &rec, &size));
        ASSERT_EQ(size, KEYD_RECORD_HEADER_SIZE + 2 + 2 * (2 + 6 + KEYD_RELAY_KEYS_SIZE));
        ASSERT_OK(keyset_open_record(rec, size, kek, 0, &b));
        ASSERT_EQ(keyset_of(b)->n_family, 0);
        free(TAKE_PTR(rec));

        keyset_of(a)->n_family = KEYD_FAMILY_KEYS_MAX + 1;
        ASSERT_ERROR(keyset_seal_record(keyset_of(a), kek, &rec, &size), EINVAL);
}

TEST(record_is_authenticated) {
        _cleanup_(secret_buffer_freep) SecretBuffer *a = make_set(2);
        _cleanup_free_ uint8_t *rec = NULL;
        uint8_t other[KEYD_KEK_SIZE] = { 9 };
        SecretBuffer *b = NULL;
        size_t size;

        ASSERT_OK(keyset_seal_record(keyset_of(a), kek, &rec, &size));
        ASSERT_ERROR(keyset_open_record(rec, size, other, 0, &b), EBADMSG); /* another KEK */
        for (size_t i = 0; i < size; i++) {
                if (i >= 20 && i < 32)
                        continue; /* the nonce: flipping it is caught as well, but changes the key stream only */
                rec[i] ^= 0x01;
                ASSERT_TRUE(keyset_open_record(rec, size, kek, 0, &b) < 0);
                rec[i] ^= 0x01;
        }
        ASSERT_ERROR(keyset_open_record(rec, size - 1, kek, 0, &b), EBADMSG); /* truncated */
        ASSERT_ERROR(keyset_open_record(rec, 10, kek, 0, &b), EBADMSG);
        ASSERT_NULL(b);
}

/* Authenticated, yet parsed as carefully as the rest: a relay name with a NUL inside its declared length (found by
 * fuzz-keyd-nv, which seals the plaintext it is given) is refused, not read as a shorter name. */
TEST(record_name_with_nul) {
        _cleanup_(secret_buffer_freep) SecretBuffer *a = make_set(1), *b = NULL;
        _cleanup_free_ uint8_t *rec = NULL, *plain = NULL;
        uint8_t *tag;
        size_t size, length;

        ASSERT_NOT_NULL(a);
        ASSERT_OK(keyset_seal_record(keyset_of(a), kek, &rec, &size));
        tag = rec + KEYD_RECORD_AAD_SIZE + KEYD_GCM_NONCE_SIZE;
        length = size - KEYD_RECORD_HEADER_SIZE;
        plain = malloc(length);
        ASSERT_NOT_NULL(plain);
        ASSERT_OK(keyd_aes_gcm(/* encrypt= */ false, kek, rec + KEYD_RECORD_AAD_SIZE, rec, KEYD_RECORD_AAD_SIZE,
                               rec + KEYD_RECORD_HEADER_SIZE, length, plain, tag));
        /* count (2), type (1), name length (1), then the name */
        ASSERT_EQ(plain[3], 6);
        ASSERT_EQ(memcmp(plain + 4, "relay0", 6), 0);
        plain[4 + 5] = '\0';
        ASSERT_OK(keyd_aes_gcm(/* encrypt= */ true, kek, rec + KEYD_RECORD_AAD_SIZE, rec, KEYD_RECORD_AAD_SIZE, plain,
                               length, rec + KEYD_RECORD_HEADER_SIZE, tag));
        ASSERT_ERROR(keyset_open_record(rec, size, kek, 0, &b), EBADMSG);
        ASSERT_NULL(b);
        /* and the same bytes with the name intact open */
        plain[4 + 5] = '0';
        ASSERT_OK(keyd_aes_gcm(/* encrypt= */ true, kek, rec + KEYD_RECORD_AAD_SIZE, rec, KEYD_RECORD_AAD_SIZE, plain,
                               length, rec + KEYD_RECORD_HEADER_SIZE, tag));
        ASSERT_OK(keyset_open_record(rec, size, kek, 0, &b));
        ASSERT_STREQ(keyset_of(b)->entries[0].name, "relay0");
}

TEST(kek_record) {
        _cleanup_free_ uint8_t *rec = NULL;
        Tpm2SealedObject o = {}, back;
        uint8_t head[KEYD_HEAD_SIZE];
        size_t size;

        o.public.publicArea = (TPMT_PUBLIC) {
                .type = TPM2_ALG_KEYEDHASH,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA,
                .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
                .authPolicy.size = 32,
                .unique.keyedHash.size = 32,
        };
        o.private.size = 5;
        memcpy(o.private.buffer, "\x00\x03" "abc", 5);

        /* Built with an empty head: nothing stored yet. */
        ASSERT_OK(kek_record_build(&o, &rec, &size));
        ASSERT_OK(kek_record_parse(rec, size, &back, head));
        ASSERT_EQ(back.private.size, 5);
        ASSERT_EQ(head[0], 0);
        /* A head naming slot 1 (2) parses; one naming a third slot does not. */
        rec[size - KEYD_HEAD_SIZE] = 2;
        memset(rec + size - KEYD_HEAD_SIZE + 1, 0xab, KEYD_HEAD_SIZE - 1);
        ASSERT_OK(kek_record_parse(rec, size, &back, head));
        ASSERT_EQ(head[0], 2);
        ASSERT_EQ(head[KEYD_HEAD_SIZE - 1], 0xab);
        rec[size - KEYD_HEAD_SIZE] = 3;
        ASSERT_ERROR(kek_record_parse(rec, size, &back, head), EBADMSG);
        rec[size - KEYD_HEAD_SIZE] = 0;
        /* Without the head, or with a byte too many inside: refused. */
        ASSERT_ERROR(kek_record_parse(rec, size - KEYD_HEAD_SIZE, &back, head), EBADMSG);
        ASSERT_ERROR(kek_record_parse(rec, size - 1, &back, head), EBADMSG);
        ASSERT_ERROR(kek_record_parse(rec, KEYD_HEAD_SIZE + 1, &back, head), EBADMSG);
        rec[1]++; /* the public part's length */
        ASSERT_ERROR(kek_record_parse(rec, size, &back, head), EBADMSG);
}

TEST(set_operations) {
        _cleanup_(secret_buffer_freep) SecretBuffer *a = make_set(3);
        uint8_t keys[KEYD_RELAY_KEYS_SIZE] = {};
        KeySet *s = keyset_of(a);

        ASSERT_ERROR(keyset_add(s, "relay1", keys), EEXIST);
        ASSERT_ERROR(keyset_add(s, "", keys), EINVAL);
        ASSERT_ERROR(keyset_add(s, "abcdefghijklmnopqrst", keys), EINVAL); /* 20 > 19 */
        ASSERT_OK(keyset_add(s, "more1", keys));
        ASSERT_OK(keyset_add(s, "more2", keys));
        ASSERT_ERROR(keyset_add(s, "more3", keys), ENOSPC); /* capacity 5 */
        ASSERT_OK(keyset_remove(s, "relay0"));
        ASSERT_STREQ(s->entries[0].name, "relay1");
        ASSERT_ERROR(keyset_remove(s, "relay0"), ENOENT);
        ASSERT_EQ(s->n_entries, 4);
}

DEFINE_TEST_MAIN
