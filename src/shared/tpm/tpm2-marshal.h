/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

/* TPM wire format for the structures that cross a process or network boundary. Unmarshalling is strict:
 * the buffer must hold exactly one structure, no trailing bytes; anything else is -EBADMSG. */

#define TPM2_DECLARE_MU(type)                                                                \
        int tpm2_marshal_##type(const type *src, uint8_t **ret, size_t *ret_size);          \
        int tpm2_unmarshal_##type(const void *buf, size_t size, type *ret)

TPM2_DECLARE_MU(TPM2B_PUBLIC);
TPM2_DECLARE_MU(TPMT_PUBLIC);
TPM2_DECLARE_MU(TPM2B_ID_OBJECT);
TPM2_DECLARE_MU(TPM2B_ENCRYPTED_SECRET);
TPM2_DECLARE_MU(TPM2B_ATTEST);
TPM2_DECLARE_MU(TPMS_ATTEST);
TPM2_DECLARE_MU(TPMT_SIGNATURE);
TPM2_DECLARE_MU(TPML_PCR_SELECTION);

/* Name of an object: u16(nameAlg) || H_nameAlg(marshalled TPMT_PUBLIC). Computed here, never taken from a
 * peer. -EOPNOTSUPP for a nameAlg we do not know. */
int tpm2_public_name(const TPMT_PUBLIC *p, TPM2B_NAME *ret);

/* Digest of data with a TPM hash algorithm, via OpenSSL. ret must hold 64 bytes. */
int tpm2_digest(TPMI_ALG_HASH alg, const void *data, size_t size, uint8_t *ret, size_t *ret_size);
