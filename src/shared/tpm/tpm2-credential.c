/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "digest-util.h"
#include "macro.h"
#include "tpm2-credential.h"
#include "tpm2-templates.h"
#include "tpm2-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF_CTX *, EVP_KDF_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);

#define SEED_SIZE 32U         /* SHA-256, the EK's nameAlg */
#define SYM_KEY_SIZE 16U      /* AES-128 */
#define INTEGRITY_SIZE 32U    /* HMAC-SHA256 */
#define KDF_OUTPUT_MAX 256U   /* bytes; far more than any TPM key derivation asks for */
#define KDF_CONTEXT_MAX 1024U /* both contexts together; TPMs pass names and nonces */

/* "IDENTITY" with its NUL: the label of the RSA-OAEP seed encryption and of KDFe (Part 1 §24.4). */
static const char identity_label[] = "IDENTITY";

/* ---- public areas as OpenSSL keys ---------------------------------------------------------------- */

static int pkey_from_params(const char *type, const OSSL_PARAM *params, EVP_PKEY **ret) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *k = NULL;

        ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_fromdata_init(ctx) <= 0)
                return -EIO;
        /* For EC this decodes the point, which fails unless it is on the curve. The reasons OpenSSL
         * queues are about the peer's input, not ours to keep. */
        if (EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *) params) <= 0) {
                ERR_clear_error();
                return -EBADMSG;
        }
        *ret = k;
        return 0;
}

static int rsa_public_to_evp_pkey(const TPMT_PUBLIC *p, EVP_PKEY **ret) {
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        const TPM2B_PUBLIC_KEY_RSA *modulus = &p->unique.rsa;
        uint32_t exponent = p->parameters.rsaDetail.exponent != 0 ? p->parameters.rsaDetail.exponent : 65537;

        /* A 2048-bit modulus is 256 bytes with the top bit set, and odd. */
        if (modulus->size != 256 || !(modulus->buffer[0] & 0x80) || !(modulus->buffer[255] & 1))
                return -EBADMSG;
        if (exponent < 3 || !(exponent & 1))
                return -EBADMSG;

        n = BN_bin2bn(modulus->buffer, modulus->size, NULL);
        e = BN_new();
        bld = OSSL_PARAM_BLD_new();
        if (!n || !e || !bld || !BN_set_word(e, exponent))
                return -ENOMEM;
        if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
                return -ENOMEM;
        params = OSSL_PARAM_BLD_to_param(bld);
        if (!params)
                return -ENOMEM;
        return pkey_from_params("RSA", params, ret);
}

/* P-256's domain parameters, made once per process. A key made from them and a point skips what
 * EVP_PKEY_fromdata() does for every key — look the algorithm and the curve up by name, under OpenSSL's
 * locks, and build the curve — which cost the server ~25 µs per key with two threads (micro-benchmark, one
 * thread: 7.3 → 4.5 µs). Kept for the process's life. */
static EVP_PKEY *p256_params;
static pthread_once_t p256_once = PTHREAD_ONCE_INIT;
/* Each thread's P-256 key of tpm2_ecc_public_to_thread_key(), freed when the thread ends. */
static pthread_key_t p256_thread_key;
static bool p256_thread_key_made;

static void thread_key_free(void *k) {
        EVP_PKEY_free(k);
}

static void p256_params_make(void) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        const OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *) "prime256v1", 0),
                OSSL_PARAM_construct_end(),
        };

        if (ctx && EVP_PKEY_fromdata_init(ctx) > 0)
                (void) EVP_PKEY_fromdata(ctx, &p256_params, EVP_PKEY_KEY_PARAMETERS, (OSSL_PARAM *) params);
        EVP_PKEY_CTX_free(ctx);
        p256_thread_key_made = pthread_key_create(&p256_thread_key, thread_key_free) == 0;
}

static const EVP_PKEY *p256(void) {
        (void) pthread_once(&p256_once, p256_params_make);
        return p256_params;
}

/* The uncompressed encoding of a P-256 public area's point. */
static int ecc_point_encode(const TPMT_PUBLIC *p, uint8_t encoded[static 1 + 32 + 32]) {
        const TPMS_ECC_POINT *point = &p->unique.ecc;

        /* TPMs pad both coordinates to the size of the curve, but a coordinate is a number: tools that
         * build points with BN_bn2bin() (tpm2_makecredential's ephemeral key, 1 in 128 times) drop leading
         * zero bytes, and the TPM accepts that. So: 1 to 32 bytes, right-aligned. */
        if (point->x.size < 1 || point->x.size > 32 || point->y.size < 1 || point->y.size > 32)
                return -EBADMSG;
        memset(encoded, 0, 1 + 32 + 32);
        encoded[0] = 0x04; /* uncompressed */
        memcpy(encoded + 1 + 32 - point->x.size, point->x.buffer, point->x.size);
        memcpy(encoded + 1 + 64 - point->y.size, point->y.buffer, point->y.size);
        return 0;
}

/* Sets k's public key; k has P-256's parameters. Decodes the point, which fails unless it is on the curve; the
 * reasons OpenSSL queues are about the peer's input, not ours to keep. */
static int ecc_set_point(EVP_PKEY *k, const uint8_t encoded[static 1 + 32 + 32]) {
        if (EVP_PKEY_set1_encoded_public_key(k, encoded, 1 + 32 + 32) != 1) {
                ERR_clear_error();
                return -EBADMSG;
        }
        return 0;
}

static int ecc_public_to_evp_pkey(const TPMT_PUBLIC *p, EVP_PKEY **ret) {
        uint8_t encoded[1 + 32 + 32];
        int r;

        r = ecc_point_encode(p, encoded);
        if (r < 0)
                return r;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = EVP_PKEY_new();
        if (!k || !p256() || EVP_PKEY_copy_parameters(k, (EVP_PKEY *) p256()) != 1)
                return -ENOMEM;
        r = ecc_set_point(k, encoded);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(k);
        return 0;
}

int tpm2_ecc_public_to_thread_key(const TPMT_PUBLIC *p, EVP_PKEY **ret) {
        uint8_t encoded[1 + 32 + 32];
        EVP_PKEY *k;
        int r;

        if (tpm2_key_type_of_public(p) != TPM2_KEY_ECC_P256)
                return -EOPNOTSUPP;
        r = ecc_point_encode(p, encoded);
        if (r < 0)
                return r;
        if (!p256() || !p256_thread_key_made)
                return -ENOMEM;
        /* The thread's key keeps its copy of the curve from one call to the next: only the point changes. A key
         * made once per thread, where making one per call (copying the parameters) cost the server ~10 µs per
         * attestation with two request threads (perf, 10,000 nodes). */
        k = pthread_getspecific(p256_thread_key);
        if (!k) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *n = EVP_PKEY_new();

                if (!n || EVP_PKEY_copy_parameters(n, (EVP_PKEY *) p256()) != 1 ||
                    pthread_setspecific(p256_thread_key, n) != 0)
                        return -ENOMEM;
                k = TAKE_PTR(n);
        }
        r = ecc_set_point(k, encoded);
        if (r < 0)
                return r;
        *ret = k;
        return 0;
}

int tpm2_public_to_evp_pkey(const TPMT_PUBLIC *p, EVP_PKEY **ret) {
        switch (tpm2_key_type_of_public(p)) {
        case TPM2_KEY_RSA2048:
                return rsa_public_to_evp_pkey(p, ret);
        case TPM2_KEY_ECC_P256:
                return ecc_public_to_evp_pkey(p, ret);
        default:
                return -EOPNOTSUPP;
        }
}

int tpm2_ecc_point_from_evp_pkey(EVP_PKEY *k, TPMS_ECC_POINT *ret) {
        _cleanup_(BN_freep) BIGNUM *x = NULL, *y = NULL;
        TPMS_ECC_POINT point = { .x.size = 32, .y.size = 32 };
        uint8_t encoded[1 + 32 + 32];
        size_t size = 0;
        char group[32];

        if (!EVP_PKEY_is_a(k, "EC") ||
            !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) ||
            !streq(group, "prime256v1"))
                return -EOPNOTSUPP;

        /* The encoded point is the cheap way (a third of the time of two BIGNUMs); it is uncompressed
         * unless the key says otherwise. */
        if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, encoded, sizeof(encoded), &size) &&
            size == sizeof(encoded) && encoded[0] == 0x04) {
                memcpy(point.x.buffer, encoded + 1, 32);
                memcpy(point.y.buffer, encoded + 1 + 32, 32);
                *ret = point;
                return 0;
        }
        if (!EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
            !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y))
                return -EIO;
        if (BN_bn2binpad(x, point.x.buffer, 32) != 32 || BN_bn2binpad(y, point.y.buffer, 32) != 32)
                return -EIO;
        *ret = point;
        return 0;
}

/* ---- key derivation -------------------------------------------------------------------------------- */

int tpm2_kdfa(TPMI_ALG_HASH alg, const void *key, size_t key_size, const char *label,
              const void *context_u, size_t context_u_size, const void *context_v, size_t context_v_size,
              size_t bits, uint8_t *ret) {
        _cleanup_(EVP_KDF_CTX_freep) EVP_KDF_CTX *ctx = NULL;
        const char *digest = tpm2_hash_alg_to_string(alg);
        uint8_t context[KDF_CONTEXT_MAX], out[KDF_OUTPUT_MAX];
        size_t context_size = context_u_size + context_v_size;
        EVP_KDF *kdf;
        int ok;

        if (!digest)
                return -EOPNOTSUPP;
        if (!key || key_size == 0 || isempty(label) || bits == 0 || bits % 8 != 0 ||
            bits / 8 > sizeof(out) || context_u_size > sizeof(context) ||
            context_v_size > sizeof(context) - context_u_size ||
            (context_u_size > 0 && !context_u) || (context_v_size > 0 && !context_v))
                return -EINVAL;

        if (context_u_size > 0)
                memcpy(context, context_u, context_u_size);
        if (context_v_size > 0)
                memcpy(context + context_u_size, context_v, context_v_size);

        kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
        if (!kdf)
                return -EOPNOTSUPP;
        ctx = EVP_KDF_CTX_new(kdf);
        EVP_KDF_free(kdf);
        if (!ctx)
                return -ENOMEM;

        /* SP 800-108 counter mode as the TPM does it: a 32-bit big-endian counter first (KBKDF's default
         * "r" is 32), the label ("salt" to KBKDF) followed by a 0x00 separator — the TPM's label NUL —,
         * the context ("info"), and L as a 32-bit big-endian number of bits. */
        int one = 1;
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *) "COUNTER", 0),
                OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *) "HMAC", 0),
                OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) digest, 0),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) key, key_size),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) label, strlen(label)),
                OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_SEPARATOR, &one),
                OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_L, &one),
                /* An empty context is left out: KBKDF does not take a zero-length octet string. */
                context_size > 0 ?
                        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, context, context_size) :
                        OSSL_PARAM_construct_end(),
                OSSL_PARAM_construct_end(),
        };

        ok = EVP_KDF_derive(ctx, out, bits / 8, params);
        explicit_bzero(context, sizeof(context));
        if (ok <= 0) {
                explicit_bzero(out, sizeof(out));
                return -EIO;
        }
        memcpy(ret, out, bits / 8);
        explicit_bzero(out, sizeof(out));
        return 0;
}

int tpm2_kdfe(TPMI_ALG_HASH alg, const void *z, size_t z_size, const char *label, const void *party_u,
              size_t party_u_size, const void *party_v, size_t party_v_size, size_t bits, uint8_t *ret) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        const EVP_MD *md = digest_md(tpm2_hash_alg_to_string(alg));
        uint8_t out[KDF_OUTPUT_MAX + EVP_MAX_MD_SIZE];
        size_t done = 0, bytes = bits / 8;
        int r = 0;

        if (!md)
                return -EOPNOTSUPP;
        if (!z || z_size == 0 || isempty(label) || bits == 0 || bits % 8 != 0 || bytes > KDF_OUTPUT_MAX ||
            (party_u_size > 0 && !party_u) || (party_v_size > 0 && !party_v))
                return -EINVAL;

        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;

        /* K(i) = H(counter || Z || label || 0x00 || PartyUInfo || PartyVInfo), counter from 1. */
        for (uint32_t counter = 1; done < bytes; counter++) {
                const uint8_t c[4] = { counter >> 24, counter >> 16, counter >> 8, counter };
                unsigned n = 0;

                if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, c, sizeof(c)) != 1 ||
                    EVP_DigestUpdate(ctx, z, z_size) != 1 ||
                    EVP_DigestUpdate(ctx, label, strlen(label) + 1) != 1 ||
                    (party_u_size > 0 && EVP_DigestUpdate(ctx, party_u, party_u_size) != 1) ||
                    (party_v_size > 0 && EVP_DigestUpdate(ctx, party_v, party_v_size) != 1) ||
                    EVP_DigestFinal_ex(ctx, out + done, &n) != 1) {
                        r = -EIO;
                        break;
                }
                done += n;
        }
        if (r >= 0)
                memcpy(ret, out, bytes);
        explicit_bzero(out, sizeof(out));
        return r;
}

int tpm2_ecc_identity_seed(EVP_PKEY *priv, EVP_PKEY *peer, const TPM2B_ECC_PARAMETER *ephemeral_x,
                           const TPM2B_ECC_PARAMETER *ek_x, uint8_t *ret) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        uint8_t z[32];
        size_t z_size = sizeof(z);
        int r;

        if (ephemeral_x->size > sizeof(ephemeral_x->buffer) || ek_x->size > sizeof(ek_x->buffer))
                return -EINVAL;

        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_derive_init(ctx) <= 0)
                return -EIO;
        /* No second validation of the peer: both callers made it with EVP_PKEY_fromdata() or generated it,
         * so it is a point on P-256 (prime order, cofactor 1), which is all that ECDH needs here. */
        if (EVP_PKEY_derive_set_peer_ex(ctx, peer, /* validate_peer= */ 0) <= 0)
                return -EBADMSG;
        /* OpenSSL's ECDH result is the x coordinate of the shared point, padded to the field size: Z. */
        if (EVP_PKEY_derive(ctx, z, &z_size) <= 0 || z_size != sizeof(z)) {
                explicit_bzero(z, sizeof(z));
                return -EIO;
        }

        r = tpm2_kdfe(TPM2_ALG_SHA256, z, sizeof(z), identity_label, ephemeral_x->buffer, ephemeral_x->size,
                      ek_x->buffer, ek_x->size, SEED_SIZE * 8, ret);
        explicit_bzero(z, sizeof(z));
        return r;
}

/* ---- credential blob -------------------------------------------------------------------------------- */

typedef struct CredentialKeys {
        uint8_t sym[SYM_KEY_SIZE];
        uint8_t hmac[INTEGRITY_SIZE];
} CredentialKeys;

static void credential_keys_wipe(CredentialKeys *k) {
        explicit_bzero(k, sizeof(*k));
}

static int credential_keys_derive(const uint8_t *seed, size_t seed_size, const TPM2B_NAME *name,
                                  CredentialKeys *ret) {
        int r;

        /* Part 1 §24.4 (protection key) and §24.5 (HMAC key), with the EK's nameAlg. */
        r = tpm2_kdfa(TPM2_ALG_SHA256, seed, seed_size, "STORAGE", name->name, name->size, NULL, 0,
                      SYM_KEY_SIZE * 8, ret->sym);
        if (r < 0)
                return r;
        return tpm2_kdfa(TPM2_ALG_SHA256, seed, seed_size, "INTEGRITY", NULL, 0, NULL, 0, INTEGRITY_SIZE * 8,
                         ret->hmac);
}

static int aes_128_cfb(const uint8_t *key, bool encrypt, const uint8_t *in, size_t size, uint8_t *out) {
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
        static const uint8_t iv[16] = {};
        int n = 0, m = 0;

        ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return -ENOMEM;
        /* Full-block CFB (CFB128), as the TPM's TPM_ALG_CFB; a zero IV because each key is used once. */
        if (EVP_CipherInit_ex2(ctx, EVP_aes_128_cfb128(), key, iv, encrypt, NULL) != 1 ||
            EVP_CipherUpdate(ctx, out, &n, in, (int) size) != 1 ||
            EVP_CipherFinal_ex(ctx, out + n, &m) != 1 || (size_t) n + (size_t) m != size)
                return -EIO;
        return 0;
}

/* outerHMAC = HMAC(hmacKey, encIdentity || name). */
static int credential_integrity(const uint8_t *hmac_key, const uint8_t *enc, size_t enc_size,
                                const TPM2B_NAME *name, uint8_t *ret) {
        uint8_t data[2 + TPM2_CREDENTIAL_SECRET_MAX + sizeof(name->name)];
        size_t out_size = 0;

        if (enc_size > 2 + TPM2_CREDENTIAL_SECRET_MAX || name->size > sizeof(name->name))
                return -EINVAL;
        memcpy(data, enc, enc_size);
        memcpy(data + enc_size, name->name, name->size);
        if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, hmac_key, INTEGRITY_SIZE, data,
                       enc_size + name->size, ret, INTEGRITY_SIZE, &out_size) ||
            out_size != INTEGRITY_SIZE)
                return -EIO;
        return 0;
}

static bool name_size_valid(const TPM2B_NAME *name) {
        return name->size > 0 && name->size <= sizeof(name->name);
}

int tpm2_credential_wrap(const uint8_t *seed, size_t seed_size, const TPM2B_NAME *name, const void *secret,
                         size_t secret_size, TPM2B_ID_OBJECT *ret) {
        _cleanup_(credential_keys_wipe) CredentialKeys keys = {};
        uint8_t plain[2 + TPM2_CREDENTIAL_SECRET_MAX];
        size_t enc_size = 2 + secret_size;
        TPM2B_ID_OBJECT blob = {};
        uint8_t *integrity = blob.credential + 2, *enc = blob.credential + 2 + INTEGRITY_SIZE;
        int r;

        if (!seed || seed_size == 0 || !name_size_valid(name) || !secret || secret_size == 0 ||
            secret_size > TPM2_CREDENTIAL_SECRET_MAX)
                return -EINVAL;

        r = credential_keys_derive(seed, seed_size, name, &keys);
        if (r < 0)
                return r;

        /* The credential is a marshalled TPM2B_DIGEST. */
        plain[0] = (uint8_t) (secret_size >> 8);
        plain[1] = (uint8_t) secret_size;
        memcpy(plain + 2, secret, secret_size);
        r = aes_128_cfb(keys.sym, /* encrypt= */ true, plain, enc_size, enc);
        explicit_bzero(plain, sizeof(plain));
        if (r < 0)
                return r;

        r = credential_integrity(keys.hmac, enc, enc_size, name, integrity);
        if (r < 0)
                return r;
        blob.credential[0] = 0;
        blob.credential[1] = INTEGRITY_SIZE;
        blob.size = (uint16_t) (2 + INTEGRITY_SIZE + enc_size);

        *ret = blob;
        return 0;
}

int tpm2_credential_unwrap(const uint8_t *seed, size_t seed_size, const TPM2B_NAME *name,
                           const TPM2B_ID_OBJECT *blob, TPM2B_DIGEST *ret) {
        _cleanup_(credential_keys_wipe) CredentialKeys keys = {};
        uint8_t integrity[INTEGRITY_SIZE], plain[2 + TPM2_CREDENTIAL_SECRET_MAX];
        const uint8_t *enc = blob->credential + 2 + INTEGRITY_SIZE;
        size_t enc_size, size;
        TPM2B_DIGEST d = {};
        int r;

        if (!seed || seed_size == 0 || !name_size_valid(name))
                return -EINVAL;
        /* u16(32) || integrity || encIdentity, where encIdentity holds a TPM2B_DIGEST of 1…32 bytes. */
        if (blob->size > sizeof(blob->credential) || blob->size < 2 + INTEGRITY_SIZE + 2 + 1 ||
            blob->credential[0] != 0 || blob->credential[1] != INTEGRITY_SIZE)
                return -EBADMSG;
        enc_size = blob->size - 2 - INTEGRITY_SIZE;
        if (enc_size > sizeof(plain))
                return -EBADMSG;

        r = credential_keys_derive(seed, seed_size, name, &keys);
        if (r < 0)
                return r;
        r = credential_integrity(keys.hmac, enc, enc_size, name, integrity);
        if (r < 0)
                return r;
        /* Integrity before decryption, like the TPM (TPM_RC_INTEGRITY): nothing of an altered blob or a
         * blob for another name is ever decrypted. */
        if (CRYPTO_memcmp(integrity, blob->credential + 2, INTEGRITY_SIZE) != 0)
                return -EBADMSG;

        r = aes_128_cfb(keys.sym, /* encrypt= */ false, enc, enc_size, plain);
        if (r < 0)
                goto finish;
        size = (size_t) plain[0] << 8 | plain[1];
        if (size != enc_size - 2) {
                r = -EBADMSG;
                goto finish;
        }
        d.size = (uint16_t) size;
        memcpy(d.buffer, plain + 2, size);
        *ret = d;
        r = 0;
finish:
        explicit_bzero(plain, sizeof(plain));
        explicit_bzero(&d, sizeof(d));
        return r;
}

/* ---- TPM2_MakeCredential ---------------------------------------------------------------------------- */

static int check_ek(const TPMT_PUBLIC *p) {
        const TPMT_SYM_DEF_OBJECT *sym;

        if (p->nameAlg != TPM2_ALG_SHA256)
                return -EOPNOTSUPP;
        switch (tpm2_key_type_of_public(p)) {
        case TPM2_KEY_RSA2048:
                sym = &p->parameters.rsaDetail.symmetric;
                break;
        case TPM2_KEY_ECC_P256:
                sym = &p->parameters.eccDetail.symmetric;
                break;
        default:
                return -EOPNOTSUPP;
        }
        if (sym->algorithm != TPM2_ALG_AES || sym->keyBits.aes != 128 || sym->mode.aes != TPM2_ALG_CFB)
                return -EOPNOTSUPP;
        /* ActivateCredential takes a storage key: restricted, decrypt, not sign. */
        if (!(p->objectAttributes & TPMA_OBJECT_RESTRICTED) ||
            !(p->objectAttributes & TPMA_OBJECT_DECRYPT) || (p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT))
                return -EPERM;
        return 0;
}

static int rsa_seed(EVP_PKEY *ek, uint8_t *seed, TPM2B_ENCRYPTED_SECRET *ret) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        size_t size = sizeof(ret->secret);
        const OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                                 (char *) OSSL_PKEY_RSA_PAD_MODE_OAEP, 0),
                OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, (char *) "SHA256", 0),
                OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, (char *) "SHA256", 0),
                OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, (void *) identity_label,
                                                  sizeof(identity_label)),
                OSSL_PARAM_construct_end(),
        };

        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL);
        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_encrypt_init_ex(ctx, params) <= 0)
                return -EIO;
        if (RAND_bytes(seed, SEED_SIZE) != 1)
                return -EIO;
        if (EVP_PKEY_encrypt(ctx, ret->secret, &size, seed, SEED_SIZE) <= 0)
                return -EIO;
        ret->size = (uint16_t) size;
        return 0;
}

static int ecc_seed(EVP_PKEY *ek, const TPMT_PUBLIC *ek_public, uint8_t *seed, TPM2B_ENCRYPTED_SECRET *ret) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ephemeral = NULL;
        TPMS_ECC_POINT point;
        size_t off = 0;
        int r;

        {
                _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = p256() ? EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *) p256(), NULL) : NULL;
                if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &ephemeral) <= 0)
                        return -EIO;
        }
        r = tpm2_ecc_point_from_evp_pkey(ephemeral, &point);
        if (r < 0)
                return r;
        r = tpm2_ecc_identity_seed(ephemeral, ek, &point.x, &ek_public->unique.ecc.x, seed);
        if (r < 0)
                return r;
        /* The encrypted secret of an ECC EK is the ephemeral public point, marshalled. */
        if (Tss2_MU_TPMS_ECC_POINT_Marshal(&point, ret->secret, sizeof(ret->secret), &off) !=
            TSS2_RC_SUCCESS)
                return -EINVAL;
        ret->size = (uint16_t) off;
        return 0;
}

int tpm2_make_credential(const TPM2B_PUBLIC *ek, const TPM2B_NAME *name, const void *secret,
                         size_t secret_size, TPM2B_ID_OBJECT *ret_blob,
                         TPM2B_ENCRYPTED_SECRET *ret_encrypted_secret) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        TPM2B_ENCRYPTED_SECRET encrypted = {};
        TPM2B_ID_OBJECT blob;
        uint8_t seed[SEED_SIZE];
        int r;

        if (!secret || secret_size == 0 || secret_size > TPM2_CREDENTIAL_SECRET_MAX ||
            !name_size_valid(name))
                return -EINVAL;
        r = check_ek(&ek->publicArea);
        if (r < 0)
                return r;
        r = tpm2_public_to_evp_pkey(&ek->publicArea, &key);
        if (r < 0)
                return r;

        if (ek->publicArea.type == TPM2_ALG_RSA)
                r = rsa_seed(key, seed, &encrypted);
        else
                r = ecc_seed(key, &ek->publicArea, seed, &encrypted);
        if (r >= 0)
                r = tpm2_credential_wrap(seed, sizeof(seed), name, secret, secret_size, &blob);
        explicit_bzero(seed, sizeof(seed));
        if (r < 0)
                return r;

        *ret_blob = blob;
        *ret_encrypted_secret = encrypted;
        return 0;
}
