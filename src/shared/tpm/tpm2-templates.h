/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <tss2/tss2_tpm2_types.h>

#include "macro.h"

/* The TCG EK Credential Profile's default ("low range") EK templates, and patela's AK template. */

typedef enum Tpm2KeyType {
        TPM2_KEY_RSA2048,
        TPM2_KEY_ECC_P256,
        _TPM2_KEY_TYPE_MAX,
        _TPM2_KEY_TYPE_INVALID = -EINVAL,
} Tpm2KeyType;

const char *tpm2_key_type_to_string(Tpm2KeyType t) _const_;
Tpm2KeyType tpm2_key_type_from_string(const char *s) _pure_;
/* RSA-2048 or ECC P-256 from a public area; _TPM2_KEY_TYPE_INVALID for anything else. */
Tpm2KeyType tpm2_key_type_of_public(const TPMT_PUBLIC *p) _pure_;

/* TCG EK Credential Profile 2.x, low range. */
#define TPM2_EK_CERT_NV_RSA2048 0x01C00002U
#define TPM2_EK_NONCE_NV_RSA2048 0x01C00003U
#define TPM2_EK_TEMPLATE_NV_RSA2048 0x01C00004U
#define TPM2_EK_CERT_NV_ECC_P256 0x01C0000AU
#define TPM2_EK_NONCE_NV_ECC_P256 0x01C0000BU
#define TPM2_EK_TEMPLATE_NV_ECC_P256 0x01C0000CU
/* Customary persistent EK handles (TCG TPM v2.0 Provisioning Guidance). */
#define TPM2_EK_PERSISTENT_RSA2048 0x81010001U
#define TPM2_EK_PERSISTENT_ECC_P256 0x81010002U

TPM2_HANDLE tpm2_ek_cert_nv_index(Tpm2KeyType t) _const_;
TPM2_HANDLE tpm2_ek_persistent_handle(Tpm2KeyType t) _const_;
void tpm2_ek_template(Tpm2KeyType t, TPM2B_PUBLIC *ret);
/* Applies an EK nonce (from NV) to the template's unique field, as the profile prescribes. */
int tpm2_ek_template_apply_nonce(TPM2B_PUBLIC *template, const void *nonce, size_t size);
/* Does this public area have the attributes, policy and parameters of the TCG default EK template? */
bool tpm2_public_is_default_ek(const TPMT_PUBLIC *p) _pure_;

/* patela's AK: a restricted signing primary key in the endorsement hierarchy (ECDSA-P256-SHA256 or
 * RSASSA-2048-SHA256). A primary key is derived from the hierarchy seed and the template, so the same TPM
 * gives the same AK after every restart without storing anything. */
void tpm2_ak_template(Tpm2KeyType t, TPM2B_PUBLIC *ret);

/* The checks a verifier makes on a peer's AK public area: restricted, sign, fixedTPM, fixedParent,
 * sensitiveDataOrigin, not decrypt, SHA-256 name and scheme, RSA-2048 or ECC P-256. -EPERM if it is not an
 * attestation key, -EOPNOTSUPP for an algorithm we do not verify. */
int tpm2_ak_check_public(const TPMT_PUBLIC *p);
