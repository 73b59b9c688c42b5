/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <tss2/tss2_mu.h>

#include "hexdecoct.h"
#include "tests.h"
#include "tpm2-credential.h"
#include "tpm2-marshal.h"
#include "tpm2-quote.h"
#include "tpm2-software.h"
#include "tpm2-util.h"

/* Key pairs are slow to make (RSA-2048 above all): one set for the whole test program. */
static SoftwareKey *keys[2][4]; /* [type][ek, ak, other ek, other ak] */
enum { EK, AK, OTHER_EK, OTHER_AK };

static SoftwareKey *key(Tpm2KeyType t, int which) {
        if (!keys[t][which]) {
                int r = (which == EK || which == OTHER_EK) ? software_ek_new(t, NULL, &keys[t][which])
                                                           : software_ak_new(t, NULL, &keys[t][which]);
                if (r < 0)
                        TEST_FAIL("Failed to make a %s software key: %s", tpm2_key_type_to_string(t),
                                  strerror(-r));
        }
        return keys[t][which];
}

__attribute__((destructor)) static void keys_free(void) {
        for (size_t t = 0; t < ELEMENTSOF(keys); t++)
                for (size_t i = 0; i < ELEMENTSOF(keys[t]); i++)
                        keys[t][i] = software_key_free(keys[t][i]);
}

static void *unhex(const char *s, size_t *ret_size) {
        void *p = NULL;
        if (unhexmem(s, 4096, &p, ret_size) < 0)
                TEST_FAIL("bad hex in the test: %s", s);
        return p;
}

/* ---- KDFs ------------------------------------------------------------------------------------------- */

TEST(kdfa_known_answer) {
        /* The KDFa self-test vector of the TCG TPM 2.0 reference implementation (TPM 2.0 Library Part 4,
         * KdfTestData.h: c_kdfTestKeyIn, c_kdfTestLabel "KDFSELFTESTLABEL" with its NUL, c_kdfTestContextU,
         * c_kdfTestContextV, 160 bits out; c_kdfTestKeyOut for each hash), as shipped in libtpms,
         * src/tpm2/KdfTestData.h. */
        static const struct {
                TPMI_ALG_HASH alg;
                const char *out;
        } vectors[] = {
                { TPM2_ALG_SHA1, "55b5a7184aa07423c47dae766c26a2377d7cf851" },
                { TPM2_ALG_SHA256, "bb0259e1c8ba607e6a2cd704b69a902e9ade84c4" },
                { TPM2_ALG_SHA384, "1dce70c9113eb2dba47bd9cfc72bf46f45b09312" },
                { TPM2_ALG_SHA512, "8be2c1b85b78569b9fa759f5857c56d684810fd3" },
        };
        _cleanup_free_ uint8_t *k = NULL, *u = NULL, *v = NULL;
        size_t ks, us, vs;

        k = unhex("271fa08bbdc5060ec3dfa928ff9b73123a12da0c", &ks);
        u = unhex("ce244f395dca7391", &us);
        v = unhex("da504031ddf12e83", &vs);

        for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
                _cleanup_free_ char *hex = NULL;
                uint8_t out[20];

                ASSERT_OK(tpm2_kdfa(vectors[i].alg, k, ks, "KDFSELFTESTLABEL", u, us, v, vs, 160, out));
                hex = hexmem(out, sizeof(out));
                ASSERT_STREQ(hex, vectors[i].out);
        }
}

TEST(kdfa_contexts_and_arguments) {
        uint8_t a[32], b[32], key_bytes[32] = { 1, 2, 3 };

        /* The two contexts are concatenated: where the split falls does not matter. */
        ASSERT_OK(tpm2_kdfa(TPM2_ALG_SHA256, key_bytes, 32, "STORAGE", "abcd", 4, NULL, 0, 256, a));
        ASSERT_OK(tpm2_kdfa(TPM2_ALG_SHA256, key_bytes, 32, "STORAGE", "ab", 2, "cd", 2, 256, b));
        ASSERT_MEMEQ(a, b, 32);
        /* The label and the requested length are inputs, not only a truncation. */
        ASSERT_OK(tpm2_kdfa(TPM2_ALG_SHA256, key_bytes, 32, "INTEGRITY", "abcd", 4, NULL, 0, 256, b));
        ASSERT_TRUE(memcmp(a, b, 32) != 0);
        ASSERT_OK(tpm2_kdfa(TPM2_ALG_SHA256, key_bytes, 32, "STORAGE", "abcd", 4, NULL, 0, 128, b));
        ASSERT_TRUE(memcmp(a, b, 16) != 0);

        ASSERT_ERROR(tpm2_kdfa(TPM2_ALG_SHA256, key_bytes, 32, "STORAGE", NULL, 0, NULL, 0, 0, a), EINVAL);
        ASSERT_ERROR(tpm2_kdfa(TPM2_ALG_SHA256, key_bytes, 32, "STORAGE", NULL, 0, NULL, 0, 7, a), EINVAL);
        ASSERT_ERROR(tpm2_kdfa(TPM2_ALG_SHA256, key_bytes, 0, "STORAGE", NULL, 0, NULL, 0, 128, a), EINVAL);
        ASSERT_ERROR(tpm2_kdfa(TPM2_ALG_SHA256, key_bytes, 32, "", NULL, 0, NULL, 0, 128, a), EINVAL);
        ASSERT_ERROR(tpm2_kdfa(TPM2_ALG_SM3_256, key_bytes, 32, "STORAGE", NULL, 0, NULL, 0, 128, a),
                     EOPNOTSUPP);
}

/* KDFe against an independent implementation of the same SP 800-56 construction, OpenSSL's SSKDF:
 * H(counter || Z || FixedInfo), FixedInfo = label || 0x00 || PartyUInfo || PartyVInfo. */
static void sskdf(const uint8_t *z, size_t z_size, const uint8_t *info, size_t info_size, uint8_t *out,
                  size_t size) {
        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SSKDF", NULL);
        EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) z, z_size),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) info, info_size),
                OSSL_PARAM_construct_end(),
        };
        int ok = ctx && EVP_KDF_derive(ctx, out, size, params) > 0;

        EVP_KDF_CTX_free(ctx);
        EVP_KDF_free(kdf);
        ASSERT_TRUE(ok);
}

TEST(kdfe_is_the_concatenation_kdf) {
        uint8_t z[32], u[32], v[32], info[9 + 64], ours[80], theirs[80];

        for (size_t i = 0; i < 32; i++) {
                z[i] = (uint8_t) (i * 7 + 1);
                u[i] = (uint8_t) (i * 13 + 2);
                v[i] = (uint8_t) (255 - i);
        }
        memcpy(info, "IDENTITY", 9);
        memcpy(info + 9, u, 32);
        memcpy(info + 9 + 32, v, 32);

        /* 256 bits, the seed; 640 bits, three rounds of the counter. */
        for (size_t bytes = 32; bytes <= 80; bytes += 48) {
                ASSERT_OK(tpm2_kdfe(TPM2_ALG_SHA256, z, 32, "IDENTITY", u, 32, v, 32, bytes * 8, ours));
                sskdf(z, 32, info, sizeof(info), theirs, bytes);
                ASSERT_MEMEQ(ours, theirs, bytes);
        }
        ASSERT_ERROR(tpm2_kdfe(TPM2_ALG_SHA256, z, 0, "IDENTITY", u, 32, v, 32, 256, ours), EINVAL);
        ASSERT_ERROR(tpm2_kdfe(TPM2_ALG_SHA256, z, 32, "IDENTITY", u, 32, v, 32, 12, ours), EINVAL);
}

/* ---- make_credential / activate ------------------------------------------------------------------- */

static void round_trip(Tpm2KeyType t) {
        SoftwareKey *ek = key(t, EK), *ak = key(t, AK);
        uint8_t secret[TPM2_CREDENTIAL_SECRET_MAX];

        for (size_t i = 0; i < sizeof(secret); i++)
                secret[i] = (uint8_t) (0xa5 ^ i);

        for (size_t size = 1; size <= sizeof(secret); size += 31) {
                TPM2B_ENCRYPTED_SECRET es;
                TPM2B_ID_OBJECT blob;
                TPM2B_DIGEST got;

                ASSERT_OK(tpm2_make_credential(&ek->public, &ak->name, secret, size, &blob, &es));
                /* u16(32) || HMAC || encrypted u16(size) || secret */
                ASSERT_EQ(blob.size, 2 + 32 + 2 + size);
                ASSERT_EQ(es.size, t == TPM2_KEY_RSA2048 ? 256 : 2 + 32 + 2 + 32);

                ASSERT_OK(software_activate_credential(ek, &ak->name, &blob, &es, &got));
                ASSERT_EQ(got.size, size);
                ASSERT_MEMEQ(got.buffer, secret, size);
        }
}

TEST(credential_round_trip_rsa) {
        round_trip(TPM2_KEY_RSA2048);
}

TEST(credential_round_trip_ecc) {
        round_trip(TPM2_KEY_ECC_P256);
}

TEST(credential_is_randomized) {
        for (int t = 0; t < _TPM2_KEY_TYPE_MAX; t++) {
                const TPM2B_PUBLIC *ek = &key(t, EK)->public;
                const TPM2B_NAME *name = &key(t, AK)->name;
                TPM2B_ENCRYPTED_SECRET es1, es2;
                TPM2B_ID_OBJECT b1, b2;

                ASSERT_OK(tpm2_make_credential(ek, name, "0123456789", 10, &b1, &es1));
                ASSERT_OK(tpm2_make_credential(ek, name, "0123456789", 10, &b2, &es2));
                ASSERT_TRUE(memcmp(es1.secret, es2.secret, es1.size) != 0);
                ASSERT_TRUE(memcmp(b1.credential, b2.credential, b1.size) != 0);
        }
}

static void credential_rejections(Tpm2KeyType t) {
        SoftwareKey *ek = key(t, EK), *ak = key(t, AK);
        TPM2B_ENCRYPTED_SECRET es, bad_es;
        TPM2B_ID_OBJECT blob, bad_blob;
        TPM2B_NAME other_name = ak->name;
        TPM2B_DIGEST got;

        ASSERT_OK(tpm2_make_credential(&ek->public, &ak->name, "secret", 6, &blob, &es));

        /* Bound to the AK name. */
        other_name.name[5] ^= 0x01;
        ASSERT_ERROR(software_activate_credential(ek, &other_name, &blob, &es, &got), EBADMSG);
        ASSERT_ERROR(software_activate_credential(ek, &key(t, OTHER_AK)->name, &blob, &es, &got), EBADMSG);
        ASSERT_OK(tpm2_make_credential(&ek->public, &other_name, "secret", 6, &bad_blob, &bad_es));
        ASSERT_ERROR(software_activate_credential(ek, &ak->name, &bad_blob, &bad_es, &got), EBADMSG);

        /* Bound to the EK. */
        ASSERT_ERROR(software_activate_credential(key(t, OTHER_EK), &ak->name, &blob, &es, &got), EBADMSG);

        /* Every byte of the blob counts: the integrity size, the HMAC, the encrypted size and secret. */
        for (size_t i = 0; i < blob.size; i++) {
                bad_blob = blob;
                bad_blob.credential[i] ^= 0x40;
                ASSERT_ERROR(software_activate_credential(ek, &ak->name, &bad_blob, &es, &got), EBADMSG);
        }
        bad_blob = blob;
        bad_blob.size--;
        ASSERT_ERROR(software_activate_credential(ek, &ak->name, &bad_blob, &es, &got), EBADMSG);

        /* The encrypted seed: an altered OAEP ciphertext or ephemeral point; a truncated one. */
        for (size_t i = 0; i < es.size; i += 17) {
                bad_es = es;
                bad_es.secret[i] ^= 0x01;
                ASSERT_ERROR(software_activate_credential(ek, &ak->name, &blob, &bad_es, &got), EBADMSG);
        }
        bad_es = es;
        bad_es.size--;
        ASSERT_ERROR(software_activate_credential(ek, &ak->name, &blob, &bad_es, &got), EBADMSG);

        /* Still fine after all that. */
        ASSERT_OK(software_activate_credential(ek, &ak->name, &blob, &es, &got));
        ASSERT_EQ(got.size, 6);
        ASSERT_MEMEQ(got.buffer, "secret", 6);
}

TEST(credential_rejections_rsa) {
        credential_rejections(TPM2_KEY_RSA2048);
}

TEST(credential_rejections_ecc) {
        credential_rejections(TPM2_KEY_ECC_P256);
}

TEST(make_credential_checks_its_input) {
        SoftwareKey *ek = key(TPM2_KEY_ECC_P256, EK), *ak = key(TPM2_KEY_ECC_P256, AK);
        uint8_t big[TPM2_CREDENTIAL_SECRET_MAX + 1] = {};
        TPM2B_ENCRYPTED_SECRET es;
        TPM2B_ID_OBJECT blob;
        TPM2B_PUBLIC p;
        TPM2B_NAME name;

        ASSERT_ERROR(tpm2_make_credential(&ek->public, &ak->name, big, sizeof(big), &blob, &es), EINVAL);
        ASSERT_ERROR(tpm2_make_credential(&ek->public, &ak->name, big, 0, &blob, &es), EINVAL);
        name = (TPM2B_NAME) {};
        ASSERT_ERROR(tpm2_make_credential(&ek->public, &name, "x", 1, &blob, &es), EINVAL);

        p = ek->public;
        p.publicArea.nameAlg = TPM2_ALG_SHA384;
        ASSERT_ERROR(tpm2_make_credential(&p, &ak->name, "x", 1, &blob, &es), EOPNOTSUPP);
        p = ek->public;
        p.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 256;
        ASSERT_ERROR(tpm2_make_credential(&p, &ak->name, "x", 1, &blob, &es), EOPNOTSUPP);
        p = ek->public;
        p.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CBC;
        ASSERT_ERROR(tpm2_make_credential(&p, &ak->name, "x", 1, &blob, &es), EOPNOTSUPP);
        p = ek->public;
        p.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
        ASSERT_ERROR(tpm2_make_credential(&p, &ak->name, "x", 1, &blob, &es), EOPNOTSUPP);
        p = ek->public;
        p.publicArea.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
        ASSERT_ERROR(tpm2_make_credential(&p, &ak->name, "x", 1, &blob, &es), EPERM);
        /* An AK is no storage key (its symmetric algorithm is NULL). */
        ASSERT_ERROR(tpm2_make_credential(&ak->public, &ak->name, "x", 1, &blob, &es), EOPNOTSUPP);

        /* A point that is not on the curve, coordinates not padded to 32 bytes. */
        p = ek->public;
        p.publicArea.unique.ecc.y.buffer[31] ^= 0x01;
        ASSERT_ERROR(tpm2_make_credential(&p, &ak->name, "x", 1, &blob, &es), EBADMSG);
        p = ek->public;
        p.publicArea.unique.ecc.x.size = 31;
        ASSERT_ERROR(tpm2_make_credential(&p, &ak->name, "x", 1, &blob, &es), EBADMSG);
        /* The default template's all-zero unique is not a key either. */
        tpm2_ek_template(TPM2_KEY_ECC_P256, &p);
        ASSERT_ERROR(tpm2_make_credential(&p, &ak->name, "x", 1, &blob, &es), EBADMSG);
        tpm2_ek_template(TPM2_KEY_RSA2048, &p);
        ASSERT_ERROR(tpm2_make_credential(&p, &ak->name, "x", 1, &blob, &es), EBADMSG);
}

TEST(public_to_evp_pkey) {
        SoftwareKey *rsa = key(TPM2_KEY_RSA2048, EK);
        EVP_PKEY *k = NULL;
        BIGNUM *e = NULL;
        TPMT_PUBLIC p;

        /* Exponent 0 in the public area means 65537. */
        ASSERT_EQ(rsa->public.publicArea.parameters.rsaDetail.exponent, 0);
        ASSERT_OK(tpm2_public_to_evp_pkey(&rsa->public.publicArea, &k));
        ASSERT_TRUE(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e));
        ASSERT_TRUE(BN_is_word(e, 65537));
        ASSERT_TRUE(EVP_PKEY_eq(k, rsa->pkey) == 1);
        BN_free(e);
        EVP_PKEY_free(k);
        k = NULL;

        ASSERT_OK(tpm2_public_to_evp_pkey(&key(TPM2_KEY_ECC_P256, AK)->public.publicArea, &k));
        ASSERT_TRUE(EVP_PKEY_eq(k, key(TPM2_KEY_ECC_P256, AK)->pkey) == 1);
        EVP_PKEY_free(k);

        /* A coordinate without its leading zero bytes is the same point; none at all, or too long, is not. */
        for (int i = 0;; i++) {
                EVP_PKEY *g = EVP_EC_gen("P-256");
                TPMS_ECC_POINT pt;

                ASSERT_NOT_NULL(g);
                ASSERT_OK(tpm2_ecc_point_from_evp_pkey(g, &pt));
                if (pt.x.buffer[0] != 0) {
                        EVP_PKEY_free(g);
                        ASSERT_TRUE(i < 10000);
                        continue;
                }
                p = key(TPM2_KEY_ECC_P256, AK)->public.publicArea;
                p.unique.ecc = pt;
                p.unique.ecc.x.size = 31;
                memmove(p.unique.ecc.x.buffer, pt.x.buffer + 1, 31);
                ASSERT_OK(tpm2_public_to_evp_pkey(&p, &k));
                ASSERT_TRUE(EVP_PKEY_eq(k, g) == 1);
                EVP_PKEY_free(k);
                k = NULL;
                p.unique.ecc.x.size = 0;
                ASSERT_ERROR(tpm2_public_to_evp_pkey(&p, &k), EBADMSG);
                p.unique.ecc.x.size = 33;
                ASSERT_ERROR(tpm2_public_to_evp_pkey(&p, &k), EBADMSG);
                EVP_PKEY_free(g);
                break;
        }

        p = rsa->public.publicArea;
        p.parameters.rsaDetail.keyBits = 3072;
        ASSERT_ERROR(tpm2_public_to_evp_pkey(&p, &k), EOPNOTSUPP);
        p = rsa->public.publicArea;
        p.unique.rsa.size = 255;
        ASSERT_ERROR(tpm2_public_to_evp_pkey(&p, &k), EBADMSG);
        p.type = TPM2_ALG_KEYEDHASH;
        ASSERT_ERROR(tpm2_public_to_evp_pkey(&p, &k), EOPNOTSUPP);
}

static void *thread_key_of_other_thread(void *p) {
        EVP_PKEY *k = NULL;

        /* Another thread's key: not this one's, and it holds the point asked for; freed when the thread ends
         * (the sanitizer build's leak check would find it otherwise). */
        ASSERT_OK(tpm2_ecc_public_to_thread_key(&key(TPM2_KEY_ECC_P256, OTHER_AK)->public.publicArea, &k));
        ASSERT_TRUE(k != p);
        ASSERT_TRUE(EVP_PKEY_eq(k, key(TPM2_KEY_ECC_P256, OTHER_AK)->pkey) == 1);
        return k;
}

TEST(ecc_public_to_thread_key) {
        const TPMT_PUBLIC *ak = &key(TPM2_KEY_ECC_P256, AK)->public.publicArea,
                          *other = &key(TPM2_KEY_ECC_P256, OTHER_AK)->public.publicArea;
        EVP_PKEY *k = NULL, *again = NULL;
        pthread_t thread;
        void *theirs;
        TPMT_PUBLIC p;

        /* One key per thread, its point the last one asked for. */
        ASSERT_OK(tpm2_ecc_public_to_thread_key(ak, &k));
        ASSERT_TRUE(EVP_PKEY_eq(k, key(TPM2_KEY_ECC_P256, AK)->pkey) == 1);
        ASSERT_OK(tpm2_ecc_public_to_thread_key(other, &again));
        ASSERT_TRUE(again == k);
        ASSERT_TRUE(EVP_PKEY_eq(k, key(TPM2_KEY_ECC_P256, OTHER_AK)->pkey) == 1);
        ASSERT_TRUE(EVP_PKEY_eq(k, key(TPM2_KEY_ECC_P256, AK)->pkey) != 1);

        /* A point off the curve is refused, and the next call's point is taken as it should be. */
        p = *ak;
        p.unique.ecc.y.buffer[31] ^= 0x01;
        ASSERT_ERROR(tpm2_ecc_public_to_thread_key(&p, &again), EBADMSG);
        p.unique.ecc.x.size = 0;
        ASSERT_ERROR(tpm2_ecc_public_to_thread_key(&p, &again), EBADMSG);
        ASSERT_OK(tpm2_ecc_public_to_thread_key(ak, &again));
        ASSERT_TRUE(again == k);
        ASSERT_TRUE(EVP_PKEY_eq(k, key(TPM2_KEY_ECC_P256, AK)->pkey) == 1);

        /* Not for RSA. */
        ASSERT_ERROR(tpm2_ecc_public_to_thread_key(&key(TPM2_KEY_RSA2048, AK)->public.publicArea, &again),
                     EOPNOTSUPP);

        ASSERT_EQ(pthread_create(&thread, NULL, thread_key_of_other_thread, k), 0);
        ASSERT_EQ(pthread_join(thread, &theirs), 0);
        ASSERT_TRUE(theirs != k);
        /* This thread's key did not move. */
        ASSERT_TRUE(EVP_PKEY_eq(k, key(TPM2_KEY_ECC_P256, AK)->pkey) == 1);
}

TEST(software_keys_look_like_tpm_keys) {
        for (int t = 0; t < _TPM2_KEY_TYPE_MAX; t++) {
                _cleanup_free_ uint8_t *buf = NULL;
                TPM2B_PUBLIC q;
                size_t size;

                ASSERT_TRUE(tpm2_public_is_default_ek(&key(t, EK)->public.publicArea));
                ASSERT_OK(tpm2_ak_check_public(&key(t, AK)->public.publicArea));
                ASSERT_EQ(tpm2_key_type_of_public(&key(t, AK)->public.publicArea), t);
                ASSERT_OK(tpm2_marshal_TPM2B_PUBLIC(&key(t, AK)->public, &buf, &size));
                ASSERT_EQ(key(t, AK)->public.size, size - 2);
                ASSERT_OK(tpm2_unmarshal_TPM2B_PUBLIC(buf, size, &q));
        }
}

/* ---- quotes ----------------------------------------------------------------------------------------- */

typedef struct Quote {
        uint8_t *attest;
        size_t size;
        TPMT_SIGNATURE sig;
        TPM2B_DIGEST values[3];
} Quote;

static void quote_done(Quote *q) {
        free(q->attest);
}

static const char nonce[] = "a nonce of thirty-one bytes ...";
#define MASK ((1U << 0) | (1U << 7) | (1U << 16))

static void make_quote(SoftwareKey *ak, const SoftwareQuoteClock *clock, Quote *ret) {
        *ret = (Quote) {};
        for (size_t i = 0; i < ELEMENTSOF(ret->values); i++) {
                ret->values[i].size = 32;
                memset(ret->values[i].buffer, (int) (0x10 + i), 32);
        }
        ASSERT_OK(software_quote(ak, clock, nonce, sizeof(nonce), TPM2_ALG_SHA256, MASK, ret->values, 3,
                                 &ret->attest, &ret->size, &ret->sig));
}

/* The quote q checked against other expectations than the ones it was made for. */
static int verify_as(SoftwareKey *ak, const Quote *q, const void *n, size_t n_size, TPMI_ALG_HASH bank,
                     uint32_t mask, const TPM2B_DIGEST *values, size_t n_values) {
        return tpm2_quote_verify(&ak->public, q->attest, q->size, &q->sig, n, n_size, bank, mask, values,
                                 n_values, NULL);
}

static int verify(SoftwareKey *ak, const Quote *q) {
        return verify_as(ak, q, nonce, sizeof(nonce), TPM2_ALG_SHA256, MASK, q->values, 3);
}

/* Marshals an attestation structure, signs it with the AK: past the signature check, to the next one. */
static int verify_resigned(SoftwareKey *ak, const TPMS_ATTEST *a, const TPM2B_DIGEST *values) {
        _cleanup_free_ uint8_t *buf = NULL;
        TPMT_SIGNATURE sig;
        size_t size;

        ASSERT_OK(tpm2_marshal_TPMS_ATTEST(a, &buf, &size));
        ASSERT_OK(software_sign(ak, buf, size, &sig));
        return tpm2_quote_verify(&ak->public, buf, size, &sig, nonce, sizeof(nonce), TPM2_ALG_SHA256, MASK,
                                 values, 3, NULL);
}

static void quote_checks(Tpm2KeyType t) {
        SoftwareKey *ak = key(t, AK);
        const SoftwareQuoteClock clock = {
                .clock_info = { .clock = 123456789, .resetCount = 7, .restartCount = 3, .safe = TPM2_YES },
                .firmware_version = 0x2000100000000ULL,
        };
        _cleanup_(quote_done) Quote q = {};
        TPM2B_DIGEST other[3], sha1_values[3] = {};
        TPMS_ATTEST a, parsed;
        TPM2B_NAME qn;
        Quote m;

        make_quote(ak, &clock, &q);
        ASSERT_OK(tpm2_quote_verify(&ak->public, q.attest, q.size, &q.sig, nonce, sizeof(nonce),
                                    TPM2_ALG_SHA256, MASK, q.values, 3, &parsed));
        ASSERT_EQ(parsed.clockInfo.clock, 123456789);
        ASSERT_EQ(parsed.clockInfo.resetCount, 7);
        ASSERT_EQ(parsed.clockInfo.restartCount, 3);
        ASSERT_EQ(parsed.clockInfo.safe, TPM2_YES);
        ASSERT_TRUE(parsed.firmwareVersion == 0x2000100000000ULL);
        ASSERT_OK(tpm2_qualified_name_primary(TPM2_RH_ENDORSEMENT, &ak->name, &qn));
        ASSERT_EQ(parsed.qualifiedSigner.size, qn.size);
        ASSERT_MEMEQ(parsed.qualifiedSigner.name, qn.name, qn.size);

        /* Another nonce: a replay. */
        ASSERT_ERROR(verify_as(ak, &q, "another nonce", 13, TPM2_ALG_SHA256, MASK, q.values, 3), ESTALE);
        /* Another AK of the same type, or of the other type. */
        ASSERT_ERROR(verify(key(t, OTHER_AK), &q), EKEYREJECTED);
        ASSERT_ERROR(verify(key(!t, AK), &q), EKEYREJECTED);
        /* A flipped signature bit, at the start and at the end; another hash. */
        m = q;
        if (t == TPM2_KEY_RSA2048)
                m.sig.signature.rsassa.sig.buffer[0] ^= 0x01;
        else
                m.sig.signature.ecdsa.signatureR.buffer[0] ^= 0x01;
        ASSERT_ERROR(verify(ak, &m), EKEYREJECTED);
        m = q;
        if (t == TPM2_KEY_RSA2048)
                m.sig.signature.rsassa.sig.buffer[255] ^= 0x80;
        else
                m.sig.signature.ecdsa.signatureS.buffer[31] ^= 0x80;
        ASSERT_ERROR(verify(ak, &m), EKEYREJECTED);
        m = q;
        m.sig.signature.any.hashAlg = TPM2_ALG_SHA384;
        ASSERT_ERROR(verify(ak, &m), EKEYREJECTED);
        /* A flipped bit in the signed data. */
        m = q;
        m.attest = calloc(1, q.size + 1);
        ASSERT_NOT_NULL(m.attest);
        memcpy(m.attest, q.attest, q.size);
        m.attest[q.size - 1] ^= 0x01;
        ASSERT_ERROR(verify(ak, &m), EKEYREJECTED);
        /* Truncated, or a byte too many. */
        memcpy(m.attest, q.attest, q.size);
        m.size = q.size - 1;
        ASSERT_ERROR(verify(ak, &m), EBADMSG);
        m.size = q.size + 1;
        ASSERT_ERROR(verify(ak, &m), EBADMSG);
        free(m.attest);

        /* Another PCR value than the quoted one. */
        memcpy(other, q.values, sizeof(other));
        other[1].buffer[31] ^= 0x01;
        ASSERT_ERROR(verify_as(ak, &q, nonce, sizeof(nonce), TPM2_ALG_SHA256, MASK, other, 3), EUCLEAN);
        /* Another PCR selection of the same size, another bank. */
        ASSERT_ERROR(verify_as(ak, &q, nonce, sizeof(nonce), TPM2_ALG_SHA256, MASK ^ (1U << 16) ^ (1U << 17),
                               q.values, 3),
                     ECHRNG);
        for (size_t i = 0; i < 3; i++)
                sha1_values[i].size = 20;
        ASSERT_ERROR(verify_as(ak, &q, nonce, sizeof(nonce), TPM2_ALG_SHA1, MASK, sha1_values, 3), ECHRNG);

        /* Structures the AK signed but that are no quote of a TPM: re-signed after the change. */
        ASSERT_OK(tpm2_unmarshal_TPMS_ATTEST(q.attest, q.size, &a));
        ASSERT_OK(verify_resigned(ak, &a, q.values));
        a.magic ^= 1;
        ASSERT_ERROR(verify_resigned(ak, &a, q.values), EPROTO);
        ASSERT_OK(tpm2_unmarshal_TPMS_ATTEST(q.attest, q.size, &a));
        a.type = TPM2_ST_ATTEST_CERTIFY;
        a.attested.certify = (TPMS_CERTIFY_INFO) { .name = ak->name, .qualifiedName = ak->name };
        ASSERT_ERROR(verify_resigned(ak, &a, q.values), ENOMSG);
        /* A selection with a second, empty bank is not "exactly the requested one". */
        ASSERT_OK(tpm2_unmarshal_TPMS_ATTEST(q.attest, q.size, &a));
        a.attested.quote.pcrSelect.count = 2;
        a.attested.quote.pcrSelect.pcrSelections[1] =
                (TPMS_PCR_SELECTION) { .hash = TPM2_ALG_SHA1, .sizeofSelect = 3 };
        ASSERT_ERROR(verify_resigned(ak, &a, q.values), ECHRNG);
        /* An unsafe clock is reported, not refused. */
        ASSERT_OK(tpm2_unmarshal_TPMS_ATTEST(q.attest, q.size, &a));
        a.clockInfo.safe = TPM2_NO;
        ASSERT_OK(verify_resigned(ak, &a, q.values));

        /* The caller's side: values of the wrong size or number, no nonce, no PCRs; an EK is no AK. */
        memcpy(other, q.values, sizeof(other));
        other[2].size = 20;
        ASSERT_ERROR(verify_as(ak, &q, nonce, sizeof(nonce), TPM2_ALG_SHA256, MASK, other, 3), EINVAL);
        ASSERT_ERROR(verify_as(ak, &q, nonce, sizeof(nonce), TPM2_ALG_SHA256, MASK, q.values, 2), EINVAL);
        ASSERT_ERROR(verify_as(ak, &q, nonce, 0, TPM2_ALG_SHA256, MASK, q.values, 3), EINVAL);
        ASSERT_ERROR(verify_as(ak, &q, nonce, sizeof(nonce), TPM2_ALG_SHA256, 0, q.values, 0), EINVAL);
        ASSERT_ERROR(verify_as(ak, &q, nonce, sizeof(nonce), TPM2_ALG_SHA256, 1U << 24, q.values, 1),
                     EINVAL);
        ASSERT_ERROR(verify(key(t, EK), &q), EPERM);
}

TEST(quote_rsa) {
        quote_checks(TPM2_KEY_RSA2048);
}

TEST(quote_ecc) {
        quote_checks(TPM2_KEY_ECC_P256);
}

/* The verification's key is the thread's, whose point changes from one call to the next: a quote verifies with its
 * own AK whatever the call before was about (another AK, a refused point), and with no other. */
TEST(quote_ecc_after_other_keys) {
        const SoftwareQuoteClock clock = { .clock_info = { .clock = 1, .safe = TPM2_YES } };
        SoftwareKey *ak = key(TPM2_KEY_ECC_P256, AK), *other = key(TPM2_KEY_ECC_P256, OTHER_AK);
        _cleanup_(quote_done) Quote q = {}, qo = {};
        TPM2B_PUBLIC off_curve;

        make_quote(ak, &clock, &q);
        make_quote(other, &clock, &qo);
        for (int i = 0; i < 3; i++) {
                ASSERT_OK(verify(ak, &q));
                ASSERT_ERROR(verify(other, &q), EKEYREJECTED);
                ASSERT_OK(verify(other, &qo));
                ASSERT_ERROR(verify(ak, &qo), EKEYREJECTED);
        }
        off_curve = ak->public;
        off_curve.publicArea.unique.ecc.x.buffer[0] ^= 0x40;
        ASSERT_ERROR(tpm2_quote_verify(&off_curve, q.attest, q.size, &q.sig, nonce, sizeof(nonce), TPM2_ALG_SHA256,
                                       MASK, q.values, 3, NULL),
                     EKEYREJECTED);
        ASSERT_OK(verify(ak, &q));
        ASSERT_ERROR(tpm2_quote_verify(&off_curve, q.attest, q.size, &q.sig, nonce, sizeof(nonce), TPM2_ALG_SHA256,
                                       MASK, q.values, 3, NULL),
                     EKEYREJECTED);
        ASSERT_OK(verify(other, &qo));
}

TEST(quote_all_pcrs_other_banks) {
        static const TPMI_ALG_HASH banks[] = {
                TPM2_ALG_SHA1, TPM2_ALG_SHA256, TPM2_ALG_SHA384, TPM2_ALG_SHA512,
        };
        SoftwareKey *ak = key(TPM2_KEY_ECC_P256, AK);
        uint32_t all = (1U << TPM2_PCRS_MAX) - 1;

        for (size_t b = 0; b < ELEMENTSOF(banks); b++) {
                _cleanup_(quote_done) Quote q = {};
                TPM2B_DIGEST values[TPM2_PCRS_MAX];

                for (size_t i = 0; i < TPM2_PCRS_MAX; i++) {
                        values[i].size = (uint16_t) tpm2_hash_alg_digest_size(banks[b]);
                        memset(values[i].buffer, (int) i, values[i].size);
                }
                ASSERT_OK(software_quote(ak, NULL, nonce, 8, banks[b], all, values, TPM2_PCRS_MAX, &q.attest,
                                         &q.size, &q.sig));
                ASSERT_OK(verify_as(ak, &q, nonce, 8, banks[b], all, values, TPM2_PCRS_MAX));
                ASSERT_ERROR(verify_as(ak, &q, nonce, 8, banks[b], all >> 1, values, TPM2_PCRS_MAX - 1),
                             ECHRNG);
        }
}

DEFINE_TEST_MAIN
