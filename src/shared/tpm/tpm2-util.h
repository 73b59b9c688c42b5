/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <tss2/tss2_esys.h>

#include "macro.h"

/* One ESAPI context over one TCTI. TSS2_RC values stop here: tpm2_check() turns them into a negative
 * errno and keeps the decoded text in the context, for the caller's log message. */
typedef struct Tpm2Context {
        TSS2_TCTI_CONTEXT *tcti;
        TSS2_TCTI_CONTEXT *startup; /* in front of tcti: TPM2_Startup only if needed (tpm2-startup.h) */
        ESYS_CONTEXT *esys;
        TSS2_RC last_rc;
        char last_error[256];
        unsigned n_commands; /* TPM commands issued through tpm2_check(), for reports and tests */

        /* The TPM's fixed properties (TPM2_PT_FIXED + 0…63), read by one GetCapability on first use: see
         * tpm2_get_property() in tpm2-nv.h. */
        bool fixed_read;
        bool fixed_more; /* the TPM had more than it returned */
        uint64_t fixed_present;
        uint32_t fixed[64];
} Tpm2Context;

int tpm2_context_new(const char *tcti, Tpm2Context **ret);
Tpm2Context *tpm2_context_free(Tpm2Context *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Tpm2Context *, tpm2_context_free);

/* errno for a TSS2_RC; 0 for TSS2_RC_SUCCESS. Policy and authorization failures → -EPERM,
 * integrity failures (wrong credential, tampered blob) → -EBADMSG, bad sizes or values → -EINVAL,
 * missing handles → -ENOENT, transport failures → -EIO, retryable → -EAGAIN. */
int tpm2_rc_to_errno(TSS2_RC rc) _const_;
/* Records rc for the message and counts the command; returns tpm2_rc_to_errno(rc). */
int tpm2_check(Tpm2Context *c, TSS2_RC rc, const char *what);
/* True if the TPM executes an ordinary command (it is not in failure mode). */
bool tpm2_is_responsive(Tpm2Context *c);
/* The decoded message of the last failure, e.g. "Esys_ActivateCredential: tpm:parameter(1):integrity check failed". */
const char *tpm2_last_error(const Tpm2Context *c);

/* An ESYS_TR that is flushed (transient objects and sessions) or closed (persistent and NV) on free. */
typedef struct Tpm2Handle {
        Tpm2Context *context;
        ESYS_TR tr;
        bool flush;
} Tpm2Handle;

int tpm2_handle_new(Tpm2Context *c, ESYS_TR tr, bool flush, Tpm2Handle **ret);
Tpm2Handle *tpm2_handle_free(Tpm2Handle *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Tpm2Handle *, tpm2_handle_free);

/* Esys_TR_Serialize()'s format (tpm2-tss IESYS_RESOURCE, the bytes of tpm2-tools' ".tr" files): TPM handle,
 * TPM2B_NAME, resource type and the public area of that type. systemd computes the same bytes itself
 * (tpm2_calculate_serialize()). */
#define IESYS_KEY_RSRC 1U
#define IESYS_NV_RSRC 2U

/* Looks up a persistent or NV handle (one ReadPublic or NV_ReadPublic). -ENOENT if nothing is there. */
int tpm2_handle_from_tpm(Tpm2Context *c, TPM2_HANDLE handle, Tpm2Handle **ret);
/* The public area that tpm2_handle_from_tpm() read, as ESAPI keeps it: no TPM command. What the TPM
 * answered, unchecked: verify it as a second ReadPublic would have to be verified. -EINVAL if the handle is
 * not an object (resp. not an NV index). */
int tpm2_handle_public(const Tpm2Handle *h, TPM2B_PUBLIC *ret);
int tpm2_handle_nv_public(const Tpm2Handle *h, TPM2B_NV_PUBLIC *ret);
/* For a session whose continueSession was clear, after the command it authorized succeeded: the TPM has
 * flushed it, so it is only forgotten here (no FlushContext). */
void tpm2_session_consumed(Tpm2Handle *h);

/* Which of the handles first … first + n - 1 (n ≤ 64) exist, as bits of *ret (bit i: first + i), from one
 * GetCapability. -EAGAIN if the TPM did not list the whole range: look them up one by one. */
int tpm2_handles_present(Tpm2Context *c, TPM2_HANDLE first, unsigned n, uint64_t *ret);

/* Reads the whole of an NV index that its own (empty) auth or the owner (empty auth) may read: one
 * NV_ReadPublic, then one NV_Read per TPM2_PT_NV_BUFFER_MAX bytes (asked once per context, and only for an
 * index larger than 512 bytes, a size every TPM reads at once). -ENOENT if the index does not exist, -E2BIG
 * if larger than max_size, -ENODATA if never written. ret_public (may be NULL): the public area the TPM
 * answered, with no further command — who may write the index and under which policy. */
int tpm2_nv_read_all(Tpm2Context *c, TPM2_HANDLE index, size_t max_size, uint8_t **ret, size_t *ret_size,
                     TPM2B_NV_PUBLIC *ret_public);

/* A policy session with PolicySecret(TPM_RH_ENDORSEMENT): what the TCG EK templates' authPolicy asks.
 * salt_key: a key to salt the session with (ESYS_TR_NONE: unsalted); attributes: those the session has
 * when it authorizes a command (TPMA_SESSION_*; without CONTINUESESSION the TPM flushes it after that
 * command succeeded: tpm2_session_consumed()). */
int tpm2_start_endorsement_policy_session(Tpm2Context *c, ESYS_TR salt_key, TPMA_SESSION attributes,
                                          Tpm2Handle **ret);

/* PCR selection helpers. bank is TPM2_ALG_SHA256 etc.; mask has bit i set for PCR i (0..23). */
#define TPM2_PCRS_MAX 24U
void tpm2_pcr_selection_from_mask(TPMI_ALG_HASH bank, uint32_t mask, TPML_PCR_SELECTION *ret);
/* Reads the PCRs in mask from bank into ret[0…popcount(mask)-1], ascending (one PCR_Read per 8 PCRs).
 * -EOPNOTSUPP if the bank is not allocated. */
int tpm2_pcr_read(Tpm2Context *c, TPMI_ALG_HASH bank, uint32_t mask, TPM2B_DIGEST ret[static TPM2_PCRS_MAX]);
/* "0,1,2,7" or "0-5,7,9" → bit mask; -EINVAL for anything else or a PCR > 23. */
int tpm2_parse_pcr_list(const char *s, uint32_t *ret);
int tpm2_hash_alg_from_string(const char *s) _pure_;
const char *tpm2_hash_alg_to_string(TPMI_ALG_HASH alg) _const_;
size_t tpm2_hash_alg_digest_size(TPMI_ALG_HASH alg) _const_;
