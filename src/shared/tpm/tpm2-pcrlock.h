/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-json.h>
#include <tss2/tss2_tpm2_types.h>

#include "alloc-util.h"
#include "macro.h"
#include "tpm2-util.h"

/* A secret (the KEK) sealed to systemd-pcrlock's policy.
 *
 * `systemd-pcrlock make-policy` predicts the PCR values of the next boots, turns them into one policy
 * digest ("PolicyPCR over the PCRs with one allowed value, then per PCR with 2–8 allowed values a
 * PolicyPCR + PolicyOR over them") and writes that digest into an NV index it owns. What it knows is in
 * its pcrlock.json. The secret is sealed once, with authPolicy = PolicyAuthorizeNV(name of that NV index):
 * whatever policy the index holds today authorizes it. A new prediction rewrites the index and never
 * touches the sealed object.
 *
 * Unseal replays the policy for the current PCR values exactly as systemd does, in one salted policy
 * session with response encryption, then PolicyAuthorizeNV (authorized as owner, empty owner auth).
 *
 * Nothing here logs above debug level; the tpm2_pcrlock_* functions return these errors:
 *
 *   -EPERM         the current PCR values are not among those the policy allows ("PCRs do not satisfy
 *                  the pcrlock policy"): PolicyOR (TPM_RC_VALUE, 0x1c4), PolicyAuthorizeNV (TPM_RC_VALUE,
 *                  0x84: the index holds another policy) or Unseal (TPM_RC_POLICY_FAIL, 0x99d) refused.
 *                  tpm2_pcrlock_check_pcrs() says which PCRs differ.
 *   -EACCES        the owner hierarchy has an authorization value: PolicyAuthorizeNV reads the index as
 *                  owner with empty auth (systemd-pcrlock itself fails the same way).
 *   -ENOENT        the NV index does not exist (or, without srkHandle, nothing is at 0x81000001).
 *   -ENXIO         the NV index exists but is not the one in nvPublic (redefined, e.g. by a make-policy
 *                  that ran without the old pcrlock.json), or the SRK is not the one in srkHandle.
 *   -ENODATA       the NV index was defined but never written.
 *   -EKEYREJECTED  the sealed object belongs to another policy: its authPolicy is not
 *                  PolicyAuthorizeNV(nvName) of this one, or its attributes are not ours.
 *   -EBADMSG       the TPM rejected the private part (another TPM, a cleared owner hierarchy, tampering).
 *   -ESTALE        a PCR changed during every attempt (TPM_RC_PCR_CHANGED).
 *   -E2BIG         a secret larger than TPM2_PCRLOCK_SECRET_MAX.
 *   -EINVAL        sealing to a policy that covers no PCR.
 *   other          tpm2_rc_to_errno() of the failing command (-EIO transport, -ENOSPC TPM memory, ...).
 */

#define TPM2_PCRLOCK_JSON_MAX (64U * 1024U)
/* PolicyOR takes at most 8 branches: systemd-pcrlock refuses more alternatives per PCR. */
#define TPM2_PCRLOCK_VALUES_MAX 8U
/* MAX_SYM_DATA: the most a sealed data object holds. Seal a key, not the keys. */
#define TPM2_PCRLOCK_SECRET_MAX 128U
/* Where systemd (systemd-tpm2-setup, systemd-pcrlock make-policy) keeps the SRK. */
#define TPM2_SRK_HANDLE 0x81000001U

typedef struct Tpm2PcrlockPolicy {
        TPMI_ALG_HASH bank;                         /* "pcrBank" */
        uint32_t pcr_mask;                          /* the PCRs "pcrValues" lists */
        /* "pcrValues": per PCR 1–8 allowed values, in the order stored, which is the PolicyOR branch
         * order (the digest in the NV index depends on it). */
        uint8_t n_values[TPM2_PCRS_MAX];
        TPM2B_DIGEST values[TPM2_PCRS_MAX][TPM2_PCRLOCK_VALUES_MAX];
        TPM2_HANDLE nv_index;                       /* "nvIndex" */
        TPM2B_NV_PUBLIC nv_public;                  /* "nvPublic", as defined (TPMA_NV_WRITTEN clear) */
        /* "srkHandle" is not a handle but an ESYS_TR serialization (handle, name, public area); without
         * it the SRK is looked up at TPM2_SRK_HANDLE. */
        bool have_srk;
        TPM2_HANDLE srk_handle;
        TPM2B_PUBLIC srk_public;
        uint8_t *srk_serialized;
        size_t srk_serialized_size;
        /* "nvHandle", "pinPublic", "pinPrivate" are checked but not used here: make-policy needs them (the
         * recovery PIN, sealed to this same policy) to rewrite the index. */
        bool have_nv_handle;
        bool have_pin;
} Tpm2PcrlockPolicy;

/* The sealed object: marshalled, these are what `tpm2_create -u/-r` writes and `tpm2_load` reads. */
typedef struct Tpm2SealedObject {
        TPM2B_PUBLIC public;
        TPM2B_PRIVATE private;
} Tpm2SealedObject;

Tpm2PcrlockPolicy *tpm2_pcrlock_policy_free(Tpm2PcrlockPolicy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Tpm2PcrlockPolicy *, tpm2_pcrlock_policy_free);

/* Parses pcrlock.json as systemd-pcrlock (≥ 255) writes it. Strict: the eight fields systemd writes and
 * nothing else; "pcrBank", "pcrValues", "nvIndex" and "nvPublic" are required, the others optional (an
 * unseal needs no more) but checked when present; PCRs in ascending order, each once, with 1–8 distinct
 * values of the bank's digest size; nvPublic must describe a policy-written index of the kind
 * make-policy defines; srkHandle/nvHandle must be self-consistent ESYS_TR serializations of a persistent
 * storage key / of nvIndex; pinPublic's authPolicy must be tpm2_pcrlock_auth_policy() (systemd seals its
 * recovery PIN to the same PolicyAuthorizeNV). -EBADMSG for anything else, -E2BIG past
 * TPM2_PCRLOCK_JSON_MAX. */
int tpm2_pcrlock_policy_parse(const char *text, Tpm2PcrlockPolicy **ret);
int tpm2_pcrlock_policy_from_json(sd_json_variant *v, Tpm2PcrlockPolicy **ret);
int tpm2_pcrlock_policy_load(const char *path, Tpm2PcrlockPolicy **ret);

/* The PCRs the policy covers. make-policy silently drops a PCR whose log it cannot match: compare this
 * with the PCRs you require and refuse a policy that lost one. */
uint32_t tpm2_pcrlock_pcr_mask(const Tpm2PcrlockPolicy *p) _pure_;

/* Name of the NV index as it is once make-policy wrote it (TPMA_NV_WRITTEN set). */
int tpm2_pcrlock_nv_name(const Tpm2PcrlockPolicy *p, TPM2B_NAME *ret);
/* The sealed object's authPolicy: SHA-256 PolicyAuthorizeNV(nv name) from a zero digest. */
int tpm2_pcrlock_auth_policy(const Tpm2PcrlockPolicy *p, TPM2B_DIGEST *ret);
/* The PCR policy digest make-policy writes into the NV index (as the digest of a TPMT_HA). */
int tpm2_pcrlock_pcr_policy(const Tpm2PcrlockPolicy *p, TPM2B_DIGEST *ret);

/* Seals 1–TPM2_PCRLOCK_SECRET_MAX bytes under the SRK (srkHandle, else TPM2_SRK_HANDLE; it is not
 * created here: make-policy created it) as a keyed-hash object with fixedTPM|fixedParent, no userWithAuth
 * and authPolicy = tpm2_pcrlock_auth_policy(). Checks that the NV index exists and is the policy's. The
 * secret crosses the bus encrypted (HMAC session salted with the SRK, parameter encryption). */
int tpm2_pcrlock_seal(Tpm2Context *c, const Tpm2PcrlockPolicy *p, const void *secret, size_t size,
                      Tpm2SealedObject *ret);
/* Unseals with the current PCR values; the secret comes back response-encrypted, into a SecretBuffer. The
 * SRK (with srkHandle) and the NV index come from the policy, not from the TPM: Load, StartAuthSession, the
 * policy replay, PolicyAuthorizeNV, Unseal and one FlushContext (8 commands with one multi-valued PCR). The
 * TPM refuses a wrong SRK or index by itself; only after a refusal is the index looked up, for the error. */
int tpm2_pcrlock_unseal(Tpm2Context *c, const Tpm2PcrlockPolicy *p, const Tpm2SealedObject *o,
                        SecretBuffer **ret);
/* NV indices that only this policy may write: POLICYWRITE with authPolicy = tpm2_pcrlock_auth_policy() (the
 * sealed object's), neither OWNERWRITE nor AUTHWRITE, so whoever holds the owner hierarchy can remove such an
 * index and define one like it, but never write it without booting what the policy allows. keyd keeps its
 * sealed key, its store's head and its copy of pcrlock.json in such indices (keyd-kek.c). The owner reads
 * them; NO_DA. (TPMA_NV_POLICY_DELETE, which would also stop the removal, needs the platform hierarchy:
 * swtpm answers an owner's define with TPM_RC_ATTRIBUTES.) */
#define TPM2_PCRLOCK_NV_ATTRIBUTES (TPMA_NV_POLICYWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA)

/* Defines index (size bytes) so; owner-authorised, like every define. -EEXIST if it exists. */
int tpm2_pcrlock_nv_define(Tpm2Context *c, const Tpm2PcrlockPolicy *p, TPM2_HANDLE index, size_t size);
/* Writes data at offset into such an index: the index's NV_ReadPublic, then per TPM2_PT_NV_BUFFER_MAX bytes
 * one policy session (StartAuthSession, the PCR replay, PolicyAuthorizeNV) and NV_Write. Each NV_Write is
 * atomic; the first sets TPMA_NV_WRITTEN. -EPERM if the current PCRs do not satisfy the policy. */
int tpm2_pcrlock_nv_write(Tpm2Context *c, const Tpm2PcrlockPolicy *p, TPM2_HANDLE index, size_t offset,
                          const void *data, size_t size);
/* Whether pub (from the TPM) is such an index of this policy: 1 written, 0 defined but never written;
 * -EACCES if its attributes let something else write it (or its nameAlg is not SHA-256), -EKEYREJECTED if it
 * is written only through another policy. No TPM command. */
int tpm2_pcrlock_nv_check(const Tpm2PcrlockPolicy *p, const TPM2B_NV_PUBLIC *pub);

/* After -EPERM, for the log: reads the policy's PCRs and returns those whose current value is not among
 * the allowed ones (0 if they all match now). */
int tpm2_pcrlock_check_pcrs(Tpm2Context *c, const Tpm2PcrlockPolicy *p, uint32_t *ret_mismatch);

/* Marshalled TPM2B_PUBLIC / TPM2B_PRIVATE, strict (one canonical structure each, -EBADMSG otherwise). */
int tpm2_sealed_object_marshal(const Tpm2SealedObject *o, uint8_t **ret_public, size_t *ret_public_size,
                               uint8_t **ret_private, size_t *ret_private_size);
int tpm2_sealed_object_unmarshal(const void *public, size_t public_size, const void *private,
                                 size_t private_size, Tpm2SealedObject *ret);
