/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "tpm2-credential.h"
#include "tpm2-marshal.h"
#include "tpm2-quote.h"
#include "tpm2-software.h"
#include "tpm2-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);

#define SEED_SIZE 32U

SoftwareKey *software_key_free(SoftwareKey *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        free(k);
        return NULL;
}

static int rsa_modulus_from_evp_pkey(EVP_PKEY *k, TPM2B_PUBLIC_KEY_RSA *ret) {
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        TPM2B_PUBLIC_KEY_RSA modulus = { .size = 256 };

        if (!EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_get_bits(k) != 2048)
                return -EOPNOTSUPP;
        if (!EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) ||
            !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e))
                return -EIO;
        /* The templates say exponent 0, which means 65537. */
        if (!BN_is_word(e, 65537))
                return -EOPNOTSUPP;
        if (BN_bn2binpad(n, modulus.buffer, 256) != 256)
                return -EIO;
        *ret = modulus;
        return 0;
}

static int software_key_new(Tpm2KeyType type, bool ek, EVP_PKEY *pkey, SoftwareKey **ret) {
        _cleanup_(software_key_freep) SoftwareKey *k = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        TPMT_PUBLIC *p;
        size_t size;
        int r;

        if (type != TPM2_KEY_RSA2048 && type != TPM2_KEY_ECC_P256)
                return -EOPNOTSUPP;

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->type = type;
        if (pkey) {
                if (!EVP_PKEY_up_ref(pkey))
                        return -EIO;
                k->pkey = pkey;
        } else {
                k->pkey = type == TPM2_KEY_RSA2048 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048)
                                                   : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
                if (!k->pkey)
                        return -EIO;
        }

        if (ek)
                tpm2_ek_template(type, &k->public);
        else
                tpm2_ak_template(type, &k->public);
        p = &k->public.publicArea;

        if (type == TPM2_KEY_RSA2048)
                r = rsa_modulus_from_evp_pkey(k->pkey, &p->unique.rsa);
        else
                r = tpm2_ecc_point_from_evp_pkey(k->pkey, &p->unique.ecc);
        if (r < 0)
                return r;

        /* The size a TPM reports in the TPM2B. */
        r = tpm2_marshal_TPMT_PUBLIC(p, &buf, &size);
        if (r < 0)
                return r;
        k->public.size = (uint16_t) size;

        r = tpm2_public_name(p, &k->name);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(k);
        return 0;
}

int software_ek_new(Tpm2KeyType type, EVP_PKEY *pkey, SoftwareKey **ret) {
        return software_key_new(type, /* ek= */ true, pkey, ret);
}

int software_ak_new(Tpm2KeyType type, EVP_PKEY *pkey, SoftwareKey **ret) {
        return software_key_new(type, /* ek= */ false, pkey, ret);
}

/* ---- TPM2_ActivateCredential ------------------------------------------------------------------------ */

static int rsa_recover_seed(EVP_PKEY *ek, const TPM2B_ENCRYPTED_SECRET *encrypted, uint8_t *ret) {
        static const char label[] = "IDENTITY";
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        uint8_t seed[256];
        size_t size = sizeof(seed);
        int r = 0;
        const OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                                 (char *) OSSL_PKEY_RSA_PAD_MODE_OAEP, 0),
                OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, (char *) "SHA256", 0),
                OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, (char *) "SHA256", 0),
                OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, (void *) label,
                                                  sizeof(label)),
                OSSL_PARAM_construct_end(),
        };

        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL);
        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_decrypt_init_ex(ctx, params) <= 0)
                return -EIO;
        if (EVP_PKEY_decrypt(ctx, seed, &size, encrypted->secret, encrypted->size) <= 0) {
                ERR_clear_error();
                r = -EBADMSG;
        } else if (size != SEED_SIZE)
                r = -EBADMSG;
        else
                memcpy(ret, seed, SEED_SIZE);
        explicit_bzero(seed, sizeof(seed));
        return r;
}

static int ecc_recover_seed(const SoftwareKey *ek, const TPM2B_ENCRYPTED_SECRET *encrypted, uint8_t *ret) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *peer = NULL;
        TPMT_PUBLIC ephemeral = ek->public.publicArea;
        size_t off = 0;
        int r;

        /* The encrypted secret is the ephemeral point, marshalled, and nothing else. */
        ephemeral.unique.ecc = (TPMS_ECC_POINT) {};
        if (Tss2_MU_TPMS_ECC_POINT_Unmarshal(encrypted->secret, encrypted->size, &off,
                                             &ephemeral.unique.ecc) != TSS2_RC_SUCCESS ||
            off != encrypted->size)
                return -EBADMSG;
        /* Through the same decoding as any public area: only a point on P-256 becomes a key. */
        r = tpm2_public_to_evp_pkey(&ephemeral, &peer);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        return tpm2_ecc_identity_seed(ek->pkey, peer, &ephemeral.unique.ecc.x,
                                      &ek->public.publicArea.unique.ecc.x, ret);
}

int software_activate_credential(const SoftwareKey *ek, const TPM2B_NAME *name, const TPM2B_ID_OBJECT *blob,
                                 const TPM2B_ENCRYPTED_SECRET *encrypted_secret, TPM2B_DIGEST *ret) {
        uint8_t seed[SEED_SIZE];
        int r;

        if (encrypted_secret->size > sizeof(encrypted_secret->secret) ||
            blob->size > sizeof(blob->credential))
                return -EBADMSG;

        if (ek->type == TPM2_KEY_RSA2048)
                r = rsa_recover_seed(ek->pkey, encrypted_secret, seed);
        else
                r = ecc_recover_seed(ek, encrypted_secret, seed);
        if (r >= 0)
                r = tpm2_credential_unwrap(seed, sizeof(seed), name, blob, ret);
        explicit_bzero(seed, sizeof(seed));
        return r;
}

/* ---- TPM2_Quote --------------------------------------------------------------------------------------- */

int software_sign(const SoftwareKey *ak, const void *data, size_t size, TPMT_SIGNATURE *ret) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *ecdsa = NULL;
        TPMT_SIGNATURE s = {};
        uint8_t sig[256];
        size_t n = sizeof(sig);
        const uint8_t *p = sig;

        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, ak->pkey, NULL) != 1 ||
            EVP_DigestSign(ctx, sig, &n, data, size) != 1)
                return -EIO;

        if (ak->type == TPM2_KEY_RSA2048) {
                if (n != 256)
                        return -EIO;
                s.sigAlg = TPM2_ALG_RSASSA;
                s.signature.rsassa.hash = TPM2_ALG_SHA256;
                s.signature.rsassa.sig.size = (uint16_t) n;
                memcpy(s.signature.rsassa.sig.buffer, sig, n);
        } else {
                const BIGNUM *r, *sv;

                ecdsa = d2i_ECDSA_SIG(NULL, &p, (long) n);
                if (!ecdsa)
                        return -EIO;
                ECDSA_SIG_get0(ecdsa, &r, &sv);
                s.sigAlg = TPM2_ALG_ECDSA;
                s.signature.ecdsa.hash = TPM2_ALG_SHA256;
                s.signature.ecdsa.signatureR.size = 32;
                s.signature.ecdsa.signatureS.size = 32;
                if (BN_bn2binpad(r, s.signature.ecdsa.signatureR.buffer, 32) != 32 ||
                    BN_bn2binpad(sv, s.signature.ecdsa.signatureS.buffer, 32) != 32)
                        return -EIO;
        }
        *ret = s;
        return 0;
}

int software_quote(const SoftwareKey *ak, const SoftwareQuoteClock *clock, const void *nonce,
                   size_t nonce_size, TPMI_ALG_HASH bank, uint32_t mask, const TPM2B_DIGEST *values,
                   size_t n_values, uint8_t **ret_attest, size_t *ret_attest_size,
                   TPMT_SIGNATURE *ret_signature) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t digest_size = tpm2_hash_alg_digest_size(bank), size;
        TPMS_ATTEST a = {
                .magic = TPM2_GENERATED_VALUE,
                .type = TPM2_ST_ATTEST_QUOTE,
                .clockInfo.safe = TPM2_YES,
        };
        TPMT_SIGNATURE sig;
        int r;

        if (digest_size == 0 || mask == 0 || mask >= (1U << TPM2_PCRS_MAX) || (nonce_size > 0 && !nonce) ||
            nonce_size > sizeof(a.extraData.buffer) || n_values != (size_t) __builtin_popcount(mask) ||
            !values)
                return -EINVAL;
        for (size_t i = 0; i < n_values; i++)
                if (values[i].size != digest_size)
                        return -EINVAL;

        r = tpm2_qualified_name_primary(TPM2_RH_ENDORSEMENT, &ak->name, &a.qualifiedSigner);
        if (r < 0)
                return r;
        a.extraData.size = (uint16_t) nonce_size;
        if (nonce_size > 0)
                memcpy(a.extraData.buffer, nonce, nonce_size);
        if (clock) {
                a.clockInfo = clock->clock_info;
                a.firmwareVersion = clock->firmware_version;
        }
        tpm2_pcr_selection_from_mask(bank, mask, &a.attested.quote.pcrSelect);
        /* pcrDigest uses the signing scheme's hash: SHA-256 for both AK types. */
        r = tpm2_quote_pcr_digest(values, n_values, &a.attested.quote.pcrDigest);
        if (r < 0)
                return r;

        r = tpm2_marshal_TPMS_ATTEST(&a, &buf, &size);
        if (r < 0)
                return r;
        r = software_sign(ak, buf, size, &sig);
        if (r < 0)
                return r;

        *ret_attest = TAKE_PTR(buf);
        *ret_attest_size = size;
        *ret_signature = sig;
        return 0;
}
