/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "digest-util.h"
#include "macro.h"
#include "tpm2-marshal.h"
#include "tpm2-util.h"

#define TPM2_DEFINE_MU(type)                                                                 \
        static bool tpm2_reencodes_to_##type(const type *v, const void *buf, size_t size) {  \
                uint8_t out[sizeof(type) + 16];                                              \
                size_t off = 0;                                                              \
                                                                                             \
                return Tss2_MU_##type##_Marshal(v, out, sizeof(out), &off) == TSS2_RC_SUCCESS && \
                       off == size && memcmp(out, buf, size) == 0;                           \
        }                                                                                    \
        int tpm2_marshal_##type(const type *src, uint8_t **ret, size_t *ret_size) {         \
                _cleanup_free_ uint8_t *buf = NULL;                                          \
                size_t off = 0;                                                              \
                                                                                             \
                buf = malloc(sizeof(type) + 16);                                             \
                if (!buf)                                                                    \
                        return -ENOMEM;                                                      \
                if (Tss2_MU_##type##_Marshal(src, buf, sizeof(type) + 16, &off) != TSS2_RC_SUCCESS) \
                        return -EINVAL;                                                      \
                *ret = TAKE_PTR(buf);                                                        \
                *ret_size = off;                                                             \
                return 0;                                                                    \
        }                                                                                    \
        int tpm2_unmarshal_##type(const void *buf, size_t size, type *ret) {                \
                type tmp = {};                                                               \
                size_t off = 0;                                                              \
                                                                                             \
                if (!buf || size == 0 || size > sizeof(type) + 16)                           \
                        return -EBADMSG;                                                     \
                if (Tss2_MU_##type##_Unmarshal(buf, size, &off, &tmp) != TSS2_RC_SUCCESS)    \
                        return -EBADMSG;                                                     \
                if (off != size)                                                             \
                        return -EBADMSG;                                                     \
                /* Canonical encodings only: tss2-mu does not check every TPM2B size prefix  \
                 * against its structure (found by fuzz-tpm2-unmarshal). */                  \
                if (!tpm2_reencodes_to_##type(&tmp, buf, size))                              \
                        return -EBADMSG;                                                     \
                *ret = tmp;                                                                  \
                return 0;                                                                    \
        }

TPM2_DEFINE_MU(TPM2B_PUBLIC)
TPM2_DEFINE_MU(TPMT_PUBLIC)
TPM2_DEFINE_MU(TPM2B_ID_OBJECT)
TPM2_DEFINE_MU(TPM2B_ENCRYPTED_SECRET)
TPM2_DEFINE_MU(TPM2B_ATTEST)
TPM2_DEFINE_MU(TPMS_ATTEST)
TPM2_DEFINE_MU(TPMT_SIGNATURE)
TPM2_DEFINE_MU(TPML_PCR_SELECTION)

int tpm2_digest(TPMI_ALG_HASH alg, const void *data, size_t size, uint8_t *ret, size_t *ret_size) {
        const EVP_MD *md = digest_md(tpm2_hash_alg_to_string(alg));
        unsigned n = 0;

        if (!md)
                return -EOPNOTSUPP;
        if (EVP_Digest(data, size, ret, &n, md, NULL) != 1)
                return -EIO;
        *ret_size = n;
        return 0;
}

int tpm2_public_name(const TPMT_PUBLIC *p, TPM2B_NAME *ret) {
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t digest[64];
        size_t size, dsize;
        int r;

        r = tpm2_marshal_TPMT_PUBLIC(p, &buf, &size);
        if (r < 0)
                return r;
        r = tpm2_digest(p->nameAlg, buf, size, digest, &dsize);
        if (r < 0)
                return r;

        ret->size = (uint16_t) (2 + dsize);
        ret->name[0] = (uint8_t) (p->nameAlg >> 8);
        ret->name[1] = (uint8_t) (p->nameAlg & 0xFF);
        memcpy(ret->name + 2, digest, dsize);
        return 0;
}
