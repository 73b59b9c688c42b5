/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hexdecoct.h"
#include "tests.h"
#include "tpm2-marshal.h"
#include "tpm2-templates.h"

/* The ECC AK template, marshalled by hand from TPM 2.0 Part 2 (TPMT_PUBLIC): type ECC, nameAlg SHA-256,
 * attributes 0x00050072, empty authPolicy, symmetric NULL, scheme ECDSA/SHA-256, curve P-256, kdf NULL,
 * empty x and y. Its name is 000b || SHA-256 of those 24 bytes (computed independently with sha256sum). */
/* objectAttributes 0x00050472: fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, noDA, restricted, sign */
static const char ak_ecc_hex[] = "0018" "0023000b000504720000001000180 00b000300100000 0000";
static const char ak_ecc_name[] = "000bde15b4e9ae0e65b0a921a2b997aebf6ae6aab464e4d07720ab16e2663c741e58";

static void strip_spaces(char *s) {
        char *w = s;
        for (char *r = s; *r; r++)
                if (*r != ' ')
                        *w++ = *r;
        *w = '\0';
}

TEST(ak_template_marshals_to_spec_bytes) {
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_free_ char *hex = NULL, *name_hex = NULL;
        char expected[sizeof(ak_ecc_hex)];
        TPM2B_PUBLIC ak;
        TPM2B_NAME name;
        size_t size;

        memcpy(expected, ak_ecc_hex, sizeof(ak_ecc_hex));
        strip_spaces(expected);

        tpm2_ak_template(TPM2_KEY_ECC_P256, &ak);
        ASSERT_OK(tpm2_marshal_TPM2B_PUBLIC(&ak, &buf, &size));
        hex = hexmem(buf, size);
        ASSERT_STREQ(hex, expected);

        ASSERT_OK(tpm2_public_name(&ak.publicArea, &name));
        name_hex = hexmem(name.name, name.size);
        ASSERT_STREQ(name_hex, ak_ecc_name);
}

static void round_trip(const TPM2B_PUBLIC *p) {
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        size_t as, bs;
        TPM2B_PUBLIC q;
        TPM2B_NAME n1, n2;

        ASSERT_OK(tpm2_marshal_TPM2B_PUBLIC(p, &a, &as));
        ASSERT_OK(tpm2_unmarshal_TPM2B_PUBLIC(a, as, &q));
        ASSERT_OK(tpm2_marshal_TPM2B_PUBLIC(&q, &b, &bs));
        ASSERT_EQ(as, bs);
        ASSERT_MEMEQ(a, b, as);
        ASSERT_OK(tpm2_public_name(&p->publicArea, &n1));
        ASSERT_OK(tpm2_public_name(&q.publicArea, &n2));
        ASSERT_EQ(n1.size, 34);
        ASSERT_MEMEQ(n1.name, n2.name, n1.size);
}

TEST(templates_round_trip) {
        TPM2B_PUBLIC p;

        for (int t = 0; t < _TPM2_KEY_TYPE_MAX; t++) {
                tpm2_ek_template((Tpm2KeyType) t, &p);
                round_trip(&p);
                ASSERT_TRUE(tpm2_public_is_default_ek(&p.publicArea));
                ASSERT_EQ(tpm2_key_type_of_public(&p.publicArea), t);
                tpm2_ak_template((Tpm2KeyType) t, &p);
                round_trip(&p);
                ASSERT_FALSE(tpm2_public_is_default_ek(&p.publicArea));
        }
}

TEST(ek_rsa_template_bytes) {
        _cleanup_free_ uint8_t *buf = NULL;
        TPM2B_PUBLIC ek;
        size_t size;

        /* TCG EK Credential Profile, template L-1: the header is fixed; unique is 256 zero bytes. */
        tpm2_ek_template(TPM2_KEY_RSA2048, &ek);
        ASSERT_OK(tpm2_marshal_TPM2B_PUBLIC(&ek, &buf, &size));
        ASSERT_EQ(size, 2 + 2 + 2 + 4 + 2 + 32 + 6 + 2 + 2 + 4 + 2 + 256);
        ASSERT_MEMEQ(buf + 2, "\x00\x01\x00\x0b\x00\x03\x00\xb2\x00\x20\x83\x71\x97\x67", 14);
        ASSERT_MEMEQ(buf + 2 + 42, "\x00\x06\x00\x80\x00\x43\x00\x10\x08\x00\x00\x00\x00\x00\x01\x00", 16);
}

TEST(unmarshal_is_strict) {
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t longer[512];
        TPM2B_PUBLIC p, q;
        size_t size;

        tpm2_ek_template(TPM2_KEY_ECC_P256, &p);
        ASSERT_OK(tpm2_marshal_TPM2B_PUBLIC(&p, &buf, &size));

        memcpy(longer, buf, size);
        longer[size] = 0;
        ASSERT_ERROR(tpm2_unmarshal_TPM2B_PUBLIC(longer, size + 1, &q), EBADMSG); /* trailing byte */
        ASSERT_ERROR(tpm2_unmarshal_TPM2B_PUBLIC(buf, size - 1, &q), EBADMSG);    /* truncated */
        ASSERT_ERROR(tpm2_unmarshal_TPM2B_PUBLIC(buf, 0, &q), EBADMSG);

        memcpy(longer, buf, size);
        longer[1] ^= 1; /* TPM2B size disagrees with the structure */
        ASSERT_ERROR(tpm2_unmarshal_TPM2B_PUBLIC(longer, size, &q), EBADMSG);

        memcpy(longer, buf, size);
        longer[1] = 0x10; /* a TPM2B size smaller than the structure that follows (tss2-mu accepts it) */
        ASSERT_ERROR(tpm2_unmarshal_TPM2B_PUBLIC(longer, size, &q), EBADMSG);

        memcpy(longer, buf, size);
        longer[2] = 0x77; /* unknown algorithm type */
        ASSERT_ERROR(tpm2_unmarshal_TPM2B_PUBLIC(longer, size, &q), EBADMSG);
}

TEST(ak_checks) {
        TPM2B_PUBLIC p;

        for (int t = 0; t < _TPM2_KEY_TYPE_MAX; t++) {
                tpm2_ak_template((Tpm2KeyType) t, &p);
                ASSERT_OK(tpm2_ak_check_public(&p.publicArea));
        }

        tpm2_ak_template(TPM2_KEY_ECC_P256, &p);
        p.publicArea.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
        ASSERT_ERROR(tpm2_ak_check_public(&p.publicArea), EPERM);

        tpm2_ak_template(TPM2_KEY_ECC_P256, &p);
        p.publicArea.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
        ASSERT_ERROR(tpm2_ak_check_public(&p.publicArea), EPERM);

        tpm2_ak_template(TPM2_KEY_ECC_P256, &p);
        p.publicArea.objectAttributes |= TPMA_OBJECT_DECRYPT;
        ASSERT_ERROR(tpm2_ak_check_public(&p.publicArea), EPERM);

        tpm2_ak_template(TPM2_KEY_RSA2048, &p);
        p.publicArea.objectAttributes &= ~TPMA_OBJECT_SENSITIVEDATAORIGIN;
        ASSERT_ERROR(tpm2_ak_check_public(&p.publicArea), EPERM);

        tpm2_ak_template(TPM2_KEY_RSA2048, &p);
        p.publicArea.nameAlg = TPM2_ALG_SHA1;
        ASSERT_ERROR(tpm2_ak_check_public(&p.publicArea), EOPNOTSUPP);

        /* An EK is not an AK. */
        tpm2_ek_template(TPM2_KEY_RSA2048, &p);
        ASSERT_ERROR(tpm2_ak_check_public(&p.publicArea), EPERM);
}

TEST(ek_nonce) {
        TPM2B_PUBLIC p;
        uint8_t big[300] = {};

        tpm2_ek_template(TPM2_KEY_RSA2048, &p);
        ASSERT_OK(tpm2_ek_template_apply_nonce(&p, "\x01\x02", 2));
        ASSERT_MEMEQ(p.publicArea.unique.rsa.buffer, "\x01\x02\x00", 3);
        ASSERT_ERROR(tpm2_ek_template_apply_nonce(&p, big, sizeof(big)), EINVAL);
}

DEFINE_TEST_MAIN
