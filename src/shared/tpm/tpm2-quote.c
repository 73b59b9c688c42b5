/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

#include "macro.h"
#include "tpm2-credential.h"
#include "tpm2-marshal.h"
#include "tpm2-quote.h"
#include "tpm2-templates.h"
#include "tpm2-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free);

#define ECDSA_P256_DER_MAX 72U /* SEQUENCE { INTEGER r, INTEGER s }, each up to 33 bytes */

static uint32_t unaligned_read_be32(const void *p) {
        const uint8_t *b = p;
        return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
}

/* r and s → the DER SEQUENCE that OpenSSL verifies. */
static int ecdsa_signature_to_der(const TPMS_SIGNATURE_ECC *e, uint8_t *der, size_t *ret_size) {
        _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = NULL;
        BIGNUM *r, *s;
        uint8_t *p = der;
        int n;

        if (e->signatureR.size == 0 || e->signatureR.size > 32 || e->signatureS.size == 0 ||
            e->signatureS.size > 32)
                return -EKEYREJECTED;

        sig = ECDSA_SIG_new();
        r = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
        s = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
        if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
                BN_free(r);
                BN_free(s);
                return -ENOMEM;
        }
        n = i2d_ECDSA_SIG(sig, NULL);
        if (n <= 0 || (size_t) n > ECDSA_P256_DER_MAX)
                return -EKEYREJECTED;
        if (i2d_ECDSA_SIG(sig, &p) != n)
                return -EIO;
        *ret_size = (size_t) n;
        return 0;
}

static int signature_verify_key(Tpm2KeyType type, EVP_PKEY *key, const void *data, size_t size,
                                const TPMT_SIGNATURE *signature) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        uint8_t der[ECDSA_P256_DER_MAX];
        const uint8_t *sig;
        size_t sig_size;
        int r;

        /* The scheme must be the AK's: a restricted key signs with its own scheme only. */
        switch (type) {
        case TPM2_KEY_RSA2048:
                if (signature->sigAlg != TPM2_ALG_RSASSA ||
                    signature->signature.rsassa.hash != TPM2_ALG_SHA256 ||
                    signature->signature.rsassa.sig.size != 256)
                        return -EKEYREJECTED;
                sig = signature->signature.rsassa.sig.buffer;
                sig_size = signature->signature.rsassa.sig.size;
                break;
        case TPM2_KEY_ECC_P256:
                if (signature->sigAlg != TPM2_ALG_ECDSA ||
                    signature->signature.ecdsa.hash != TPM2_ALG_SHA256)
                        return -EKEYREJECTED;
                r = ecdsa_signature_to_der(&signature->signature.ecdsa, der, &sig_size);
                if (r < 0)
                        return r;
                sig = der;
                break;
        default:
                return -EOPNOTSUPP;
        }

        if (type == TPM2_KEY_ECC_P256) {
                _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pctx = NULL;
                uint8_t digest[32];
                size_t digest_size;

                /* ECDSA over the digest we make: the same verification as EVP_DigestVerify() with SHA-256, without
                 * its digest's fetch by name in every call. */
                r = tpm2_digest(TPM2_ALG_SHA256, data, size, digest, &digest_size);
                if (r < 0)
                        return r;
                pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
                if (!pctx)
                        return -ENOMEM;
                if (EVP_PKEY_verify_init(pctx) != 1)
                        return -EIO;
                r = EVP_PKEY_verify(pctx, sig, sig_size, digest, digest_size);
        } else {
                ctx = EVP_MD_CTX_new();
                if (!ctx)
                        return -ENOMEM;
                /* RSA keys default to PKCS#1 v1.5 padding: RSASSA. */
                if (EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) != 1)
                        return -EIO;
                r = EVP_DigestVerify(ctx, sig, sig_size, data, size);
        }
        if (r != 1) {
                /* A bad signature leaves reasons on OpenSSL's error queue; they are not ours to keep. */
                ERR_clear_error();
                return -EKEYREJECTED;
        }
        return 0;
}

/* The AK as an OpenSSL key: an ECC one in the thread's own key (tpm2_ecc_public_to_thread_key(), *ret_owned NULL),
 * an RSA one made for the call (*ret_owned, the caller's to free). */
static int ak_to_evp_pkey(const TPMT_PUBLIC *ak, EVP_PKEY **ret, EVP_PKEY **ret_owned) {
        int r;

        *ret_owned = NULL;
        if (tpm2_key_type_of_public(ak) == TPM2_KEY_ECC_P256)
                r = tpm2_ecc_public_to_thread_key(ak, ret);
        else {
                r = tpm2_public_to_evp_pkey(ak, ret);
                if (r >= 0)
                        *ret_owned = *ret;
        }
        return r == -EBADMSG ? -EKEYREJECTED : r;
}

int tpm2_signature_verify(const TPMT_PUBLIC *ak, const void *data, size_t size,
                          const TPMT_SIGNATURE *signature) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *owned = NULL;
        Tpm2KeyType type = tpm2_key_type_of_public(ak);
        EVP_PKEY *key;
        int r;

        if (type < 0)
                return -EOPNOTSUPP;
        r = ak_to_evp_pkey(ak, &key, &owned);
        if (r < 0)
                return r;
        return signature_verify_key(type, key, data, size, signature);
}

int tpm2_qualified_name_primary(TPM2_HANDLE hierarchy, const TPM2B_NAME *name, TPM2B_NAME *ret) {
        uint8_t buf[4 + sizeof(name->name)], digest[64];
        TPMI_ALG_HASH alg;
        TPM2B_NAME qn;
        size_t dsize;
        int r;

        if (name->size < 2 || name->size > sizeof(name->name))
                return -EINVAL;
        alg = (TPMI_ALG_HASH) (name->name[0] << 8 | name->name[1]);

        /* The qualified name of a hierarchy is its handle (Part 1 §16). */
        buf[0] = (uint8_t) (hierarchy >> 24);
        buf[1] = (uint8_t) (hierarchy >> 16);
        buf[2] = (uint8_t) (hierarchy >> 8);
        buf[3] = (uint8_t) hierarchy;
        memcpy(buf + 4, name->name, name->size);
        r = tpm2_digest(alg, buf, 4 + name->size, digest, &dsize);
        if (r < 0)
                return r;
        if (name->size != 2 + dsize)
                return -EINVAL;

        qn.size = name->size;
        memcpy(qn.name, name->name, 2);
        memcpy(qn.name + 2, digest, dsize);
        *ret = qn;
        return 0;
}

int tpm2_quote_pcr_digest(const TPM2B_DIGEST *values, size_t n_values, TPM2B_DIGEST *ret) {
        uint8_t buf[TPM2_PCRS_MAX * sizeof(values->buffer)];
        TPM2B_DIGEST d = {};
        size_t n = 0, dsize;
        int r;

        if (n_values > TPM2_PCRS_MAX || (n_values > 0 && !values))
                return -EINVAL;
        for (size_t i = 0; i < n_values; i++) {
                if (values[i].size > sizeof(values[i].buffer))
                        return -EINVAL;
                memcpy(buf + n, values[i].buffer, values[i].size);
                n += values[i].size;
        }
        r = tpm2_digest(TPM2_ALG_SHA256, buf, n, d.buffer, &dsize);
        if (r < 0)
                return r;
        d.size = (uint16_t) dsize;
        *ret = d;
        return 0;
}

/* Exactly one selection, of the bank, with exactly the PCRs in mask; whatever sizeofSelect the TPM chose. */
static bool pcr_selection_is(const TPML_PCR_SELECTION *sel, TPMI_ALG_HASH bank, uint32_t mask) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[0];
        uint32_t got = 0;

        if (sel->count != 1 || s->hash != bank || s->sizeofSelect > sizeof(s->pcrSelect))
                return false;
        for (unsigned i = 0; i < s->sizeofSelect; i++) {
                if (i * 8 >= TPM2_PCRS_MAX) {
                        if (s->pcrSelect[i] != 0)
                                return false;
                } else
                        got |= (uint32_t) s->pcrSelect[i] << (i * 8);
        }
        return got == mask;
}

int tpm2_quote_verify(const TPM2B_PUBLIC *ak, const void *attest, size_t attest_size,
                      const TPMT_SIGNATURE *signature, const void *nonce, size_t nonce_size,
                      TPMI_ALG_HASH bank, uint32_t mask, const TPM2B_DIGEST *values, size_t n_values,
                      TPMS_ATTEST *ret_attest) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *owned = NULL;
        size_t digest_size = tpm2_hash_alg_digest_size(bank);
        EVP_PKEY *key;
        TPM2B_DIGEST expected;
        TPMS_ATTEST a;
        int r;

        /* What the caller expects, and the sizes of the values the peer claims, before any parsing. */
        if (digest_size == 0 || mask == 0 || mask >= (1U << TPM2_PCRS_MAX) || !nonce || nonce_size == 0 ||
            nonce_size > sizeof(a.extraData.buffer) || n_values != (size_t) __builtin_popcount(mask) ||
            !values)
                return -EINVAL;
        for (size_t i = 0; i < n_values; i++)
                if (values[i].size != digest_size)
                        return -EINVAL;

        r = tpm2_ak_check_public(&ak->publicArea);
        if (r < 0)
                return r;
        r = ak_to_evp_pkey(&ak->publicArea, &key, &owned);
        if (r < 0)
                return r;

        /* Parsed before the signature is checked: the parser is strict and fuzzed, and a malformed
         * structure then has its own error whether or not its signature happens to be valid. The magic
         * comes first, on its own: tss2-mu refuses a structure without it as merely malformed. */
        if (!attest || attest_size < 4)
                return -EBADMSG;
        if (unaligned_read_be32(attest) != TPM2_GENERATED_VALUE)
                return -EPROTO;
        if (tpm2_unmarshal_TPMS_ATTEST(attest, attest_size, &a) < 0)
                return -EBADMSG;

        r = signature_verify_key(tpm2_key_type_of_public(&ak->publicArea), key, attest, attest_size,
                                 signature);
        if (r < 0)
                return r;

        if (a.type != TPM2_ST_ATTEST_QUOTE)
                return -ENOMSG;
        if (a.extraData.size != nonce_size || CRYPTO_memcmp(a.extraData.buffer, nonce, nonce_size) != 0)
                return -ESTALE;
        if (!pcr_selection_is(&a.attested.quote.pcrSelect, bank, mask))
                return -ECHRNG;

        r = tpm2_quote_pcr_digest(values, n_values, &expected);
        if (r < 0)
                return r;
        if (a.attested.quote.pcrDigest.size != expected.size ||
            CRYPTO_memcmp(a.attested.quote.pcrDigest.buffer, expected.buffer, expected.size) != 0)
                return -EUCLEAN;

        if (ret_attest)
                *ret_attest = a;
        return 0;
}
