/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hexdecoct.h"
#include "tests.h"
#include "tpm2-marshal.h"
#include "tpm2-pcrlock.h"

/* Written by systemd 257.13's `systemd-pcrlock make-policy --pcr=0+1+2+3+4+5+7` against swtpm 0.7.1 and a
 * synthetic firmware log (test/lib-pcrlock.sh). PCR 5 has two allowed values (exit-boot-services events
 * present or absent). The NV index then held TPMT_HA(sha256, PCR_POLICY) and tpm2-tools' trial session
 * (tpm2_policyauthorizenv -C o) reported AUTH_POLICY, which is also the authPolicy systemd gave
 * pinPublic. */
#define PCR_VALUES                                                                                          \
        "[{\"pcr\":0,\"values\":[\"7a29ae6e6deaa9b219b95a1efd1ce2b758e35b826b04cf94a18d7def6204e198\"]},"   \
        "{\"pcr\":1,\"values\":[\"9b7471d5ee0cfee63afd5388c051b2c23330adba8901c14d6eb9ccf61ebb5c72\"]},"    \
        "{\"pcr\":2,\"values\":[\"153320e272532705689ff88f95824a47042ad1e2c14444ed0a9d2afe6f2413e8\"]},"    \
        "{\"pcr\":3,\"values\":[\"3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969\"]},"    \
        "{\"pcr\":4,\"values\":[\"7f15044fa02bc35be5b99b48c19148996a6b2853ecd2e8dd5ab5b7d99ddcc4fd\"]},"    \
        "{\"pcr\":5,\"values\":[\"a5ceb755d043f32431d63e39f5161464620a3437280494b5850dc1b47cc074e0\","      \
        "\"3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969\"]},"                            \
        "{\"pcr\":7,\"values\":[\"3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969\"]}]"
#define NV_INDEX "27002244"
#define NV_HANDLE                                                                                           \
        "AZwFhAAiAAsLARgtWrXHw4KlwUhfghn+SamMN+XfIR6x46QF0s8mLAAAAAIALgGcBYQACyACEAgAIGzhjBFRJWRQ7BtwuXQeP7Ti" \
        "d/Ih9rmJub43WUYS/A1sACI="
#define NV_PUBLIC "AC4BnAWEAAsAAhAIACBs4YwRUSVkUOwbcLl0Hj+04nfyIfa5ibm+N1lGEvwNbAAi"
#define SRK_HANDLE                                                                                          \
        "gQAAAQAiAAvtBzYzRAPiNlB0LrZPRxGuGXnz4GKo00LENRoqq1W+NwAAAAEAWgAjAAsAAwRyAAAABgCAAEMAEAADABAAIBfFrG/5" \
        "ju0xUqzj7I+TcG/qHnfahHJrvTxUaZmtOnyTACAaxBICF+lCm5NBo95mHmCuswhrYpHcMjJsNEpg0NUPpw=="
#define PIN_PUBLIC                                                                                          \
        "AE4ACAALAAAAEgAgIwOXTDx7fSv2k3VWFdIRNQT5l8ISyJnaXpxdGdccXGQAEAAgEBCbxn49Dk6/0An3xPq7ZpCDOq78euPwWm4E" \
        "xyB1Dgk="
#define PIN_PRIVATE                                                                                         \
        "AJ4AID5ZHKBK0m/TtAIJH9bjQQHqZdlKHDjM4ol8YK746GbdABCrS0E0wv+dW3Gw/z6LZTmlzd0zhIG6pECAAjhWA1wtRZ5bOgZY" \
        "f+qfmlrVUY/oRkZdMUd4l8wVIPUCMf0nc3Z2NuC2Px2LDfeXzHTuhJkj1Su/i4o/714pMrXvMp54xyiuurXAKA/+IK/3VnDRTG62" \
        "IjCoYZtG364yEw=="
#define PCR_POLICY "35b2feeb79a1e8f806ad9fedb7dfb839a3ebc9a093c5d3bfc23f2f2d1fa4dd6c"
#define AUTH_POLICY "2303974c3c7b7d2bf693755615d2113504f997c212c899da5e9c5d19d71c5c64"
#define NV_NAME "000b0b01182d5ab5c7c382a5c1485f8219fe49a98c37e5df211eb1e3a405d2cf262c"

#define POLICY_JSON                                                                                         \
        "{\"pcrBank\":\"sha256\",\"pcrValues\":" PCR_VALUES ",\"nvIndex\":" NV_INDEX ",\"nvHandle\":\""        \
        NV_HANDLE "\",\"nvPublic\":\"" NV_PUBLIC "\",\"srkHandle\":\"" SRK_HANDLE "\",\"pinPublic\":\""       \
        PIN_PUBLIC "\",\"pinPrivate\":\"" PIN_PRIVATE "\"}"

/* The sample with one field's raw JSON replaced ("pcrValues", "nvIndex", ...), or removed (NULL), or an
 * extra field appended (name not in the sample). */
static char *policy_with(const char *field, const char *value) {
        static const char *const names[] = { "pcrBank", "pcrValues", "nvIndex", "nvHandle",
                                             "nvPublic", "srkHandle", "pinPublic", "pinPrivate" };
        const char *values[] = { "\"sha256\"", PCR_VALUES, NV_INDEX, "\"" NV_HANDLE "\"",
                                 "\"" NV_PUBLIC "\"", "\"" SRK_HANDLE "\"", "\"" PIN_PUBLIC "\"",
                                 "\"" PIN_PRIVATE "\"" };
        size_t size = 16 + strlen(field) + (value ? strlen(value) : 0);
        bool found = false;
        char *s, *p;

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                size += strlen(names[i]) + strlen(values[i]) + 4;
        s = p = malloc(size);
        if (!s)
                abort();
        p += sprintf(p, "{");
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const char *v = values[i];
                if (streq(names[i], field)) {
                        found = true;
                        if (!value)
                                continue;
                        v = value;
                }
                p += sprintf(p, "%s\"%s\":%s", p[-1] == '{' ? "" : ",", names[i], v);
        }
        if (!found)
                p += sprintf(p, ",\"%s\":%s", field, value);
        sprintf(p, "}");
        return s;
}

static int parse_with(const char *field, const char *value) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        _cleanup_free_ char *json = policy_with(field, value);
        return tpm2_pcrlock_policy_parse(json, &p);
}

static void assert_hex(const void *p, size_t size, const char *hex) {
        _cleanup_free_ char *h = hexmem(p, size);
        ASSERT_STREQ(h, hex);
}

TEST(parse_systemd_policy) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;

        ASSERT_OK(tpm2_pcrlock_policy_parse(POLICY_JSON, &p));
        ASSERT_EQ(p->bank, TPM2_ALG_SHA256);
        ASSERT_EQ(tpm2_pcrlock_pcr_mask(p), 0xBF); /* 0–5, 7 */
        ASSERT_EQ(p->n_values[0], 1);
        ASSERT_EQ(p->n_values[5], 2);
        ASSERT_EQ(p->n_values[6], 0);
        assert_hex(p->values[5][1].buffer, p->values[5][1].size,
                   "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969");
        ASSERT_EQ(p->nv_index, 27002244);
        ASSERT_EQ(p->nv_public.nvPublic.attributes,
                  TPMA_NV_POLICYWRITE | TPMA_NV_WRITEALL | TPMA_NV_OWNERREAD);
        ASSERT_TRUE(p->have_srk);
        ASSERT_EQ(p->srk_handle, TPM2_SRK_HANDLE);
        ASSERT_EQ(p->srk_public.publicArea.type, TPM2_ALG_ECC);
        ASSERT_TRUE(p->have_nv_handle);
        ASSERT_TRUE(p->have_pin);
        ASSERT_EQ(tpm2_pcrlock_pcr_mask(NULL), 0);
}

TEST(digests_match_systemd_and_the_tpm) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        _cleanup_free_ void *pin = NULL;
        TPM2B_PUBLIC pin_public;
        TPM2B_DIGEST d;
        TPM2B_NAME name;
        size_t size;

        ASSERT_OK(tpm2_pcrlock_policy_parse(POLICY_JSON, &p));
        ASSERT_OK(tpm2_pcrlock_nv_name(p, &name));
        assert_hex(name.name, name.size, NV_NAME);
        ASSERT_OK(tpm2_pcrlock_pcr_policy(p, &d));
        assert_hex(d.buffer, d.size, PCR_POLICY);
        ASSERT_OK(tpm2_pcrlock_auth_policy(p, &d));
        assert_hex(d.buffer, d.size, AUTH_POLICY);

        /* systemd sealed its recovery PIN with its own computation of the same digest. */
        ASSERT_OK(unbase64mem(PIN_PUBLIC, 1024, &pin, &size));
        ASSERT_OK(tpm2_unmarshal_TPM2B_PUBLIC(pin, size, &pin_public));
        ASSERT_EQ(pin_public.publicArea.authPolicy.size, d.size);
        ASSERT_MEMEQ(pin_public.publicArea.authPolicy.buffer, d.buffer, d.size);
}

TEST(order_of_branches_matters) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        TPM2B_DIGEST d, swapped;

        /* The NV index holds the digest of the branches in the stored order: swapping changes it. */
        ASSERT_OK(tpm2_pcrlock_policy_parse(POLICY_JSON, &p));
        ASSERT_OK(tpm2_pcrlock_pcr_policy(p, &d));
        TPM2B_DIGEST t = p->values[5][0];
        p->values[5][0] = p->values[5][1];
        p->values[5][1] = t;
        ASSERT_OK(tpm2_pcrlock_pcr_policy(p, &swapped));
        ASSERT_FALSE(memcmp(d.buffer, swapped.buffer, d.size) == 0);
}

TEST(optional_fields) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        _cleanup_free_ char *json = NULL;

        /* What an unseal needs: bank, values, index and its public area. */
        json = strdup("{\"pcrBank\":\"sha256\",\"pcrValues\":" PCR_VALUES ",\"nvIndex\":" NV_INDEX
                      ",\"nvPublic\":\"" NV_PUBLIC "\"}");
        ASSERT_OK(tpm2_pcrlock_policy_parse(json, &p));
        ASSERT_FALSE(p->have_srk);
        ASSERT_EQ(p->srk_handle, TPM2_SRK_HANDLE);
        ASSERT_FALSE(p->have_pin);
        ASSERT_FALSE(p->have_nv_handle);

        ASSERT_OK(parse_with("nvHandle", NULL));
        ASSERT_OK(parse_with("srkHandle", NULL));
        ASSERT_OK(parse_with("pcrValues", "[]")); /* parses; sealing to it is refused */
}

TEST(refused) {
        char big[TPM2_PCRLOCK_JSON_MAX + 2];
        _cleanup_free_ char *pin_public_other_policy = NULL, *b64 = NULL;
        _cleanup_free_ uint8_t *pin = NULL;
        Tpm2PcrlockPolicy *p = NULL;
        size_t size;

        /* systemd's PIN, sealed to another policy: one bit of its authPolicy flipped (the policy digest
         * is the last TPM2B before the parameters: offset 2 + 2 + 2 + 4 + 2). */
        ASSERT_OK(unbase64mem(PIN_PUBLIC, 1024, (void **) &pin, &size));
        pin[12] ^= 1;
        b64 = base64mem(pin, size);
        ASSERT_NOT_NULL(b64);
        ASSERT_TRUE(asprintf(&pin_public_other_policy, "\"%s\"", b64) > 0);

        /* Fields: required, unknown, duplicated, wrong types. */
        ASSERT_ERROR(parse_with("pcrBank", NULL), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", NULL), EBADMSG);
        ASSERT_ERROR(parse_with("nvIndex", NULL), EBADMSG);
        ASSERT_ERROR(parse_with("nvPublic", NULL), EBADMSG);
        ASSERT_ERROR(parse_with("extra", "1"), EBADMSG);
        ASSERT_ERROR(parse_with("nvindex", NV_INDEX), EBADMSG);
        ASSERT_ERROR(parse_with("pcrBank", "\"sha256\",\"pcrBank\":\"sha256\""), EBADMSG);
        ASSERT_ERROR(parse_with("nvIndex", "\"" NV_INDEX "\""), EBADMSG);
        ASSERT_ERROR(parse_with("nvIndex", "-1"), EBADMSG);
        ASSERT_ERROR(parse_with("nvIndex", "27002244.0"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrBank", "\"md5\""), EBADMSG);
        ASSERT_ERROR(parse_with("pcrBank", "null"), EBADMSG);

        /* pcrValues: ascending, each PCR once, 1–8 distinct values of the bank's size, nothing else. */
        ASSERT_ERROR(parse_with("pcrValues", "{}"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"pcr\":4,\"values\":[\"" PCR_POLICY "\"]},"
                                             "{\"pcr\":3,\"values\":[\"" PCR_POLICY "\"]}]"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"pcr\":4,\"values\":[\"" PCR_POLICY "\"]},"
                                             "{\"pcr\":4,\"values\":[\"" AUTH_POLICY "\"]}]"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"pcr\":24,\"values\":[\"" PCR_POLICY "\"]}]"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"pcr\":4,\"values\":[]}]"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues",
                                "[{\"pcr\":4,\"values\":[\"" PCR_POLICY "\",\"" PCR_POLICY "\"]}]"),
                     EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"pcr\":4,\"values\":[\"00\"]}]"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"pcr\":4,\"values\":[\"" PCR_POLICY "00\"]}]"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"pcr\":4,\"values\":[\"zz\"]}]"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"pcr\":4,\"values\":[1]}]"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"pcr\":4,\"values\":[\"" PCR_POLICY "\"],\"x\":1}]"),
                     EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[{\"values\":[\"" PCR_POLICY "\"]}]"), EBADMSG);
        ASSERT_ERROR(parse_with("pcrValues", "[[]]"), EBADMSG);

        /* The index: its number and its public area agree, it is policy-written, the blobs are canonical. */
        ASSERT_ERROR(parse_with("nvIndex", "27002245"), EBADMSG);
        /* a trailing byte; a truncated encoding */
        ASSERT_ERROR(parse_with("nvPublic",
                                "\"AC4BnAWEAAsAAhAIACBs4YwRUSVkUOwbcLl0Hj+04nfyIfa5ibm+N1lGEvwNbAAiAA==\""),
                     EBADMSG);
        ASSERT_ERROR(parse_with("nvPublic", "\"AC4BnAWEAAsAAhAIACBs4YwRUSVkUOwbcLl0Hj+04nfyIfa5ibm+N1lGEvwNbA==\""),
                     EBADMSG);
        /* the same index with AUTHWRITE (0x00021008 → 0x0002100c): anyone with its auth could write */
        ASSERT_ERROR(parse_with("nvPublic", "\"AC4BnAWEAAsAAhAMACBs4YwRUSVkUOwbcLl0Hj+04nfyIfa5ibm+N1lGEvwNbAAi\""),
                     EBADMSG);
        ASSERT_ERROR(parse_with("nvPublic", "\"not base64\""), EBADMSG);
        ASSERT_ERROR(parse_with("nvHandle", "\"" NV_PUBLIC "\""), EBADMSG);
        ASSERT_ERROR(parse_with("srkHandle", "\"" NV_HANDLE "\""), EBADMSG);
        ASSERT_ERROR(parse_with("srkHandle", "\"gQAAAQAiAAvtBzYz\""), EBADMSG);
        ASSERT_ERROR(parse_with("pinPublic", NULL), EBADMSG);
        ASSERT_ERROR(parse_with("pinPrivate", NULL), EBADMSG);
        ASSERT_ERROR(parse_with("pinPublic", "\"" PIN_PRIVATE "\""), EBADMSG);
        ASSERT_ERROR(parse_with("pinPublic", pin_public_other_policy), EBADMSG);

        /* Not JSON, not an object, too large. */
        ASSERT_ERROR(tpm2_pcrlock_policy_parse("{", &p), EBADMSG);
        ASSERT_ERROR(tpm2_pcrlock_policy_parse("[]", &p), EBADMSG);
        ASSERT_ERROR(tpm2_pcrlock_policy_parse("", &p), EBADMSG);
        memset(big, ' ', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        ASSERT_ERROR(tpm2_pcrlock_policy_parse(big, &p), E2BIG);
        ASSERT_NULL(p);
}

TEST(sealed_object_roundtrip) {
        _cleanup_free_ uint8_t *pub = NULL, *priv = NULL, *longer = NULL;
        Tpm2SealedObject o = {}, back;
        size_t pub_size, priv_size;

        o.public.publicArea = (TPMT_PUBLIC) {
                .type = TPM2_ALG_KEYEDHASH,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT,
                .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
                .authPolicy.size = 32,
                .unique.keyedHash.size = 32,
        };
        o.private.size = 5;
        memcpy(o.private.buffer, "\x00\x03" "abc", 5);
        ASSERT_OK(tpm2_sealed_object_marshal(&o, &pub, &pub_size, &priv, &priv_size));
        ASSERT_EQ(priv_size, 7);
        ASSERT_OK(tpm2_sealed_object_unmarshal(pub, pub_size, priv, priv_size, &back));
        ASSERT_EQ(back.private.size, 5);
        ASSERT_EQ(back.public.publicArea.objectAttributes, o.public.publicArea.objectAttributes);

        longer = malloc(priv_size + 1);
        ASSERT_NOT_NULL(longer);
        memcpy(longer, priv, priv_size);
        longer[priv_size] = 0;
        ASSERT_ERROR(tpm2_sealed_object_unmarshal(pub, pub_size, longer, priv_size + 1, &back), EBADMSG);
        ASSERT_ERROR(tpm2_sealed_object_unmarshal(pub, pub_size - 1, priv, priv_size, &back), EBADMSG);
        ASSERT_ERROR(tpm2_sealed_object_unmarshal(pub, pub_size, priv, 0, &back), EBADMSG);
}

/* The kind of NV index keyd keeps its sealed key in: written only through the policy. */
TEST(policy_written_nv_index) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        TPM2B_NV_PUBLIC pub = {
                .nvPublic = {
                        .nvIndex = 0x01300001,
                        .nameAlg = TPM2_ALG_SHA256,
                        .attributes = TPM2_PCRLOCK_NV_ATTRIBUTES,
                        .dataSize = 273,
                },
        };

        ASSERT_OK(tpm2_pcrlock_policy_parse(POLICY_JSON, &p));
        ASSERT_OK(tpm2_pcrlock_auth_policy(p, &pub.nvPublic.authPolicy));
        ASSERT_EQ(tpm2_pcrlock_nv_check(p, &pub), 0); /* defined, never written */
        pub.nvPublic.attributes |= TPMA_NV_WRITTEN;
        ASSERT_EQ(tpm2_pcrlock_nv_check(p, &pub), 1);

        /* What an owner can define and write itself, or another program's index. */
        pub.nvPublic.attributes |= TPMA_NV_OWNERWRITE;
        ASSERT_ERROR(tpm2_pcrlock_nv_check(p, &pub), EACCES);
        pub.nvPublic.attributes = TPMA_NV_POLICYWRITE | TPMA_NV_AUTHWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA;
        ASSERT_ERROR(tpm2_pcrlock_nv_check(p, &pub), EACCES);
        pub.nvPublic.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA | TPMA_NV_WRITTEN;
        ASSERT_ERROR(tpm2_pcrlock_nv_check(p, &pub), EACCES);
        pub.nvPublic.attributes = TPM2_PCRLOCK_NV_ATTRIBUTES | TPMA_NV_WRITTEN;
        pub.nvPublic.nameAlg = TPM2_ALG_SHA1;
        ASSERT_ERROR(tpm2_pcrlock_nv_check(p, &pub), EACCES);
        pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
        /* Written only through a policy, but another one: the attacker's own. */
        pub.nvPublic.authPolicy.buffer[0] ^= 1;
        ASSERT_ERROR(tpm2_pcrlock_nv_check(p, &pub), EKEYREJECTED);
        pub.nvPublic.authPolicy.size = 0;
        ASSERT_ERROR(tpm2_pcrlock_nv_check(p, &pub), EKEYREJECTED);
}

TEST(seal_refuses_without_a_tpm) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL, *empty = NULL;
        _cleanup_free_ char *json = policy_with("pcrValues", "[]");
        Tpm2Context fake = {};
        Tpm2SealedObject o;
        uint8_t secret[TPM2_PCRLOCK_SECRET_MAX + 1] = {};

        /* Argument checks come before any TPM command. */
        ASSERT_OK(tpm2_pcrlock_policy_parse(POLICY_JSON, &p));
        ASSERT_OK(tpm2_pcrlock_policy_parse(json, &empty));
        ASSERT_ERROR(tpm2_pcrlock_seal(&fake, p, secret, sizeof(secret), &o), E2BIG);
        ASSERT_ERROR(tpm2_pcrlock_seal(&fake, p, secret, 0, &o), EINVAL);
        ASSERT_ERROR(tpm2_pcrlock_seal(&fake, empty, secret, 32, &o), EINVAL);
        ASSERT_EQ(fake.n_commands, 0);
}

DEFINE_TEST_MAIN
