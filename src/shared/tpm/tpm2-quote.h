/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

/* Verification of a TPM2_Quote on the server side, in software with OpenSSL (TPM 2.0 Part 2 §10.12
 * TPMS_ATTEST, Part 3 TPM2_Quote). */

/* Checks a quote, in this order, each failure with its own error:
 *
 *   -EINVAL       the caller's expectations are unusable: mask empty or beyond PCR 23, a bank we do not
 *                 know, a nonce empty or longer than a TPM2B_DATA, n_values not the number of PCRs in
 *                 mask, or a claimed value whose size is not the bank's digest size (the values come from
 *                 the peer: checked before anything is hashed)
 *   -EPERM, -EOPNOTSUPP  the AK public area is not an attestation key we verify (tpm2_ak_check_public())
 *   -EPROTO       magic (the first 4 bytes) is not TPM_GENERATED_VALUE: no TPM produced this structure
 *   -EBADMSG      attest is not exactly one well-formed TPMS_ATTEST (truncated, trailing bytes, bad sizes)
 *   -EKEYREJECTED the signature is not a valid signature of the AK over SHA-256(attest): another key,
 *                 another scheme or hash than the AK's (RSASSA-SHA256, ECDSA-P256-SHA256), altered bytes;
 *                 or the AK's public key itself is not a valid key (a point off the curve)
 *   -ENOMSG       type is not TPM_ST_ATTEST_QUOTE (a certification, a time attestation, …)
 *   -ESTALE       extraData is not the nonce: a replayed quote (compared in constant time)
 *   -ECHRNG       the quoted PCR selection is not exactly the requested bank and mask
 *   -EUCLEAN      pcrDigest is not SHA-256 of the claimed values, concatenated in ascending PCR order:
 *                 the values are not the ones the TPM quoted
 *
 * Not a failure: clockInfo.safe == 0. A TPM clears it when its clock may have repeated values after an
 * unorderly shutdown (a power cut) — common on relays, and no sign of a forged quote. It is in
 * ret_attest->clockInfo.safe for the caller to record; resetCount and restartCount, also there, are what
 * must never go down between two quotes of one node.
 *
 * ak has been checked by tpm2_ak_check_public(); it is checked again here, cheaply. The hash of pcrDigest is
 * the AK's signing hash, SHA-256 for every AK we accept, whatever the bank. ret_attest (may be NULL)
 * receives the parsed structure on success only. */
int tpm2_quote_verify(const TPM2B_PUBLIC *ak, const void *attest, size_t attest_size,
                      const TPMT_SIGNATURE *signature, const void *nonce, size_t nonce_size,
                      TPMI_ALG_HASH bank, uint32_t mask, const TPM2B_DIGEST *values, size_t n_values,
                      TPMS_ATTEST *ret_attest);

/* Verifies a TPMT_SIGNATURE by the AK over SHA-256(data). -EKEYREJECTED if it is not valid,
 * -EOPNOTSUPP for an AK of another type. */
int tpm2_signature_verify(const TPMT_PUBLIC *ak, const void *data, size_t size,
                          const TPMT_SIGNATURE *signature);

/* The qualified name of a primary key (TPM 2.0 Part 1 §16): nameAlg || H_nameAlg(u32(hierarchy) || name),
 * as a TPM writes it into qualifiedSigner for a key created with CreatePrimary in that hierarchy (patela's
 * AK: TPM2_RH_ENDORSEMENT). -EINVAL for a malformed name, -EOPNOTSUPP for an unknown nameAlg. */
int tpm2_qualified_name_primary(TPM2_HANDLE hierarchy, const TPM2B_NAME *name, TPM2B_NAME *ret);

/* SHA-256 over the concatenated PCR values, as TPM2_Quote's pcrDigest with a SHA-256 signing scheme.
 * -EINVAL if there are more than TPM2_PCRS_MAX values or one is larger than a digest. */
int tpm2_quote_pcr_digest(const TPM2B_DIGEST *values, size_t n_values, TPM2B_DIGEST *ret);
