/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tpm2-util.h"

/* Owner-authorised NV indices holding non-secret or already-encrypted data (empty owner auth, as
 * systemd-pcrlock also needs it). Reading back: tpm2_nv_read_all() in tpm2-util.h. */

/* Defines index with size bytes and OWNERWRITE|OWNERREAD|NO_DA. -EEXIST if it exists, -ENOSPC if the TPM's
 * NV memory is full. */
int tpm2_nv_define(Tpm2Context *c, TPM2_HANDLE index, size_t size);
/* The same with other attributes and an authPolicy (e.g. POLICYWRITE: written only through that policy).
 * Defining is owner-authorised whatever the attributes. */
int tpm2_nv_define_with_policy(Tpm2Context *c, TPM2_HANDLE index, size_t size, TPMA_NV attributes,
                               const TPM2B_DIGEST *auth_policy);
/* Removes the index; -ENOENT if there is none. */
int tpm2_nv_undefine(Tpm2Context *c, TPM2_HANDLE index);
/* Writes data at offset 0 in chunks of the TPM's NV buffer size. */
int tpm2_nv_write_all(Tpm2Context *c, TPM2_HANDLE index, const void *data, size_t size);
/* The index's data size (one NV_ReadPublic); -ENOENT if it does not exist. */
int tpm2_nv_size(Tpm2Context *c, TPM2_HANDLE index, size_t *ret);
/* The index's public area (one NV_ReadPublic): attributes, authPolicy, size. -ENOENT if it does not exist. */
int tpm2_nv_public(Tpm2Context *c, TPM2_HANDLE index, TPM2B_NV_PUBLIC *ret);

/* A TPM property, e.g. the largest NV index (TPM2_PT_NV_INDEX_MAX) and the largest NV_Read/NV_Write
 * (TPM2_PT_NV_BUFFER_MAX). The fixed ones (TPM2_PT_FIXED group) come from one GetCapability per context,
 * issued at the first such call; the others are asked each time. -EOPNOTSUPP if the TPM has none. */
int tpm2_get_property(Tpm2Context *c, TPM2_PT property, uint32_t *ret);

/* The TPM's dictionary-attack state: whether it is in lockout, failed authorizations counted and allowed, and
 * the seconds after which one failure is forgotten and after which lockoutAuth may be used again. */
typedef struct Tpm2DaState {
        bool in_lockout;
        uint32_t failed_tries;
        uint32_t max_tries;
        uint32_t recovery_interval_sec;
        uint32_t lockout_recovery_sec;
} Tpm2DaState;
int tpm2_da_state(Tpm2Context *c, Tpm2DaState *ret);
