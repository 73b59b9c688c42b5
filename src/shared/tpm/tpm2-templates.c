/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "tpm2-templates.h"

/* PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256: the authPolicy of every default EK template. */
static const uint8_t ek_policy_sha256[32] = {
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
        0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

#define EK_ATTRIBUTES                                                                          \
        (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |    \
         TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)

/* noDA: the AK's authValue is empty, so the dictionary-attack counter protects nothing, and without noDA
 * every use of it marks the TPM, so that each power cut counts as a failed authorization: three cuts and the
 * TPM refused the AK for its recovery time (docs/attestation-keys.md). */
#define AK_ATTRIBUTES                                                                          \
        (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |    \
         TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

static const char *const key_type_table[_TPM2_KEY_TYPE_MAX] = {
        [TPM2_KEY_RSA2048] = "rsa2048",
        [TPM2_KEY_ECC_P256] = "ecc-p256",
};

const char *tpm2_key_type_to_string(Tpm2KeyType t) {
        return t >= 0 && t < _TPM2_KEY_TYPE_MAX ? key_type_table[t] : NULL;
}

Tpm2KeyType tpm2_key_type_from_string(const char *s) {
        for (int i = 0; i < _TPM2_KEY_TYPE_MAX; i++)
                if (s && strcmp(s, key_type_table[i]) == 0)
                        return (Tpm2KeyType) i;
        return _TPM2_KEY_TYPE_INVALID;
}

Tpm2KeyType tpm2_key_type_of_public(const TPMT_PUBLIC *p) {
        if (p->type == TPM2_ALG_RSA && p->parameters.rsaDetail.keyBits == 2048)
                return TPM2_KEY_RSA2048;
        if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256)
                return TPM2_KEY_ECC_P256;
        return _TPM2_KEY_TYPE_INVALID;
}

TPM2_HANDLE tpm2_ek_cert_nv_index(Tpm2KeyType t) {
        return t == TPM2_KEY_ECC_P256 ? TPM2_EK_CERT_NV_ECC_P256 : TPM2_EK_CERT_NV_RSA2048;
}

TPM2_HANDLE tpm2_ek_persistent_handle(Tpm2KeyType t) {
        return t == TPM2_KEY_ECC_P256 ? TPM2_EK_PERSISTENT_ECC_P256 : TPM2_EK_PERSISTENT_RSA2048;
}

void tpm2_ek_template(Tpm2KeyType t, TPM2B_PUBLIC *ret) {
        TPMT_PUBLIC *p = &ret->publicArea;

        *ret = (TPM2B_PUBLIC) {};
        p->nameAlg = TPM2_ALG_SHA256;
        p->objectAttributes = EK_ATTRIBUTES;
        p->authPolicy.size = sizeof(ek_policy_sha256);
        memcpy(p->authPolicy.buffer, ek_policy_sha256, sizeof(ek_policy_sha256));

        if (t == TPM2_KEY_ECC_P256) {
                p->type = TPM2_ALG_ECC;
                p->parameters.eccDetail = (TPMS_ECC_PARMS) {
                        .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB },
                        .scheme.scheme = TPM2_ALG_NULL,
                        .curveID = TPM2_ECC_NIST_P256,
                        .kdf.scheme = TPM2_ALG_NULL,
                };
                p->unique.ecc.x.size = 32;
                p->unique.ecc.y.size = 32;
        } else {
                p->type = TPM2_ALG_RSA;
                p->parameters.rsaDetail = (TPMS_RSA_PARMS) {
                        .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB },
                        .scheme.scheme = TPM2_ALG_NULL,
                        .keyBits = 2048,
                        .exponent = 0,
                };
                p->unique.rsa.size = 256;
        }
}

int tpm2_ek_template_apply_nonce(TPM2B_PUBLIC *template, const void *nonce, size_t size) {
        TPMT_PUBLIC *p = &template->publicArea;

        /* The nonce goes at the start of the unique field (the x coordinate for ECC); the rest stays 0. */
        if (p->type == TPM2_ALG_RSA) {
                if (size > p->unique.rsa.size)
                        return -EINVAL;
                memcpy(p->unique.rsa.buffer, nonce, size);
        } else {
                if (size > p->unique.ecc.x.size)
                        return -EINVAL;
                memcpy(p->unique.ecc.x.buffer, nonce, size);
        }
        return 0;
}

bool tpm2_public_is_default_ek(const TPMT_PUBLIC *p) {
        Tpm2KeyType t = tpm2_key_type_of_public(p);
        TPM2B_PUBLIC template;

        if (t < 0)
                return false;
        tpm2_ek_template(t, &template);
        if (p->nameAlg != template.publicArea.nameAlg ||
            p->objectAttributes != template.publicArea.objectAttributes ||
            p->authPolicy.size != template.publicArea.authPolicy.size ||
            memcmp(p->authPolicy.buffer, template.publicArea.authPolicy.buffer, p->authPolicy.size) != 0)
                return false;
        if (t == TPM2_KEY_RSA2048)
                return memcmp(&p->parameters.rsaDetail, &template.publicArea.parameters.rsaDetail,
                              sizeof(TPMS_RSA_PARMS)) == 0;
        return memcmp(&p->parameters.eccDetail, &template.publicArea.parameters.eccDetail, sizeof(TPMS_ECC_PARMS)) == 0;
}

void tpm2_ak_template(Tpm2KeyType t, TPM2B_PUBLIC *ret) {
        TPMT_PUBLIC *p = &ret->publicArea;

        *ret = (TPM2B_PUBLIC) {};
        p->nameAlg = TPM2_ALG_SHA256;
        p->objectAttributes = AK_ATTRIBUTES;

        if (t == TPM2_KEY_RSA2048) {
                p->type = TPM2_ALG_RSA;
                p->parameters.rsaDetail = (TPMS_RSA_PARMS) {
                        .symmetric.algorithm = TPM2_ALG_NULL,
                        .scheme = { .scheme = TPM2_ALG_RSASSA, .details.rsassa.hashAlg = TPM2_ALG_SHA256 },
                        .keyBits = 2048,
                };
        } else {
                p->type = TPM2_ALG_ECC;
                p->parameters.eccDetail = (TPMS_ECC_PARMS) {
                        .symmetric.algorithm = TPM2_ALG_NULL,
                        .scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
                        .curveID = TPM2_ECC_NIST_P256,
                        .kdf.scheme = TPM2_ALG_NULL,
                };
        }
        /* unique stays empty: the template alone names the key within the endorsement hierarchy. */
}

int tpm2_ak_check_public(const TPMT_PUBLIC *p) {
        /* Whether the TPM counts failed authorizations of the AK is the node's business: an AK made before
         * patela set noDA is as good an attestation key. */
        const TPMA_OBJECT required = AK_ATTRIBUTES & ~(TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA);

        if ((p->objectAttributes & required) != required || (p->objectAttributes & TPMA_OBJECT_DECRYPT))
                return -EPERM;
        if (p->nameAlg != TPM2_ALG_SHA256)
                return -EOPNOTSUPP;

        switch (tpm2_key_type_of_public(p)) {
        case TPM2_KEY_RSA2048:
                if (p->parameters.rsaDetail.scheme.scheme != TPM2_ALG_RSASSA ||
                    p->parameters.rsaDetail.scheme.details.rsassa.hashAlg != TPM2_ALG_SHA256)
                        return -EOPNOTSUPP;
                return 0;
        case TPM2_KEY_ECC_P256:
                if (p->parameters.eccDetail.scheme.scheme != TPM2_ALG_ECDSA ||
                    p->parameters.eccDetail.scheme.details.ecdsa.hashAlg != TPM2_ALG_SHA256)
                        return -EOPNOTSUPP;
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}
