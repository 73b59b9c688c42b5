/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between tpm2-pcrlock-policy.c (parsing, digests) and tpm2-pcrlock.c (the TPM side). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tpm2-pcrlock.h"


#define SHA256_SIZE 32U
#define UNSEAL_ATTEMPTS 8U
/* Bounds for the base64 fields: a TPM2B_PUBLIC, a TPM2B_PRIVATE, and an ESYS_TR serialization (handle,
 * TPM2B_NAME, resource type, TPM2B_PUBLIC) fit in these with room to spare. */
#define BLOB_MAX 4096U
/* IESYS_KEY_RSRC, IESYS_NV_RSRC: Esys_TR_Serialize's format, in tpm2-util.h. */
/* What make-policy defines (tpm2_define_policy_nv_index()): an ordinary index written only through its
 * policy (PolicySigned with a key derived from the recovery PIN), read by the owner, holding a TPMT_HA. */
#define NV_REQUIRED (TPMA_NV_POLICYWRITE | TPMA_NV_WRITEALL | TPMA_NV_OWNERREAD)
#define NV_FORBIDDEN                                                                                  \
        (TPMA_NV_PPWRITE | TPMA_NV_OWNERWRITE | TPMA_NV_AUTHWRITE | TPMA_NV_TPM2_NT_MASK |            \
         TPMA_NV_CLEAR_STCLEAR)
#define NV_DATA_SIZE (2U + SHA256_SIZE)
/* The sealed object: only its policy authorizes the user role. */
/* What keyd seals: noDA, since its security rests on the PCR policy and no authValue is ever used, and the TPM
 * then does not count a power cut after an unseal as a failed authorization. Objects sealed before noDA was
 * set (SEALED_ATTRIBUTES_V1) are still accepted. */
#define SEALED_ATTRIBUTES (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA)
#define SEALED_ATTRIBUTES_V1 (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)

bool pcrlock_names_equal(const TPM2B_NAME *a, const TPM2B_NAME *b);
int pcrlock_nv_public_name(const TPMS_NV_PUBLIC *nv, TPM2B_NAME *ret);
TPM2B_DIGEST pcrlock_zero_digest(void);
int pcrlock_policy_or_extend(TPM2B_DIGEST *digest, const TPML_DIGEST *branches);
uint32_t pcrlock_single_value_mask(const Tpm2PcrlockPolicy *p);
int pcrlock_policy_single_pcrs(const Tpm2PcrlockPolicy *p, uint32_t mask, TPM2B_DIGEST *digest);
int pcrlock_policy_branches(const Tpm2PcrlockPolicy *p, unsigned pcr, const TPM2B_DIGEST *digest,
                            TPML_DIGEST *ret);
