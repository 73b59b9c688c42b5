/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "macro.h"
#include "tpm2-templates.h"

/* A software stand-in for a node's TPM: an EK and an AK whose private keys live in OpenSSL, public areas
 * and names exactly as a TPM would report them, and the two TPM commands the server's protocol needs
 * (ActivateCredential, Quote). For the unit tests and for the server benchmark's load generator, which
 * emulates thousands of nodes. No daemon uses it: it offers none of a TPM's protection. */

typedef struct SoftwareKey {
        Tpm2KeyType type;
        EVP_PKEY *pkey;      /* private key */
        TPM2B_PUBLIC public; /* as TPM2_CreatePrimary would return it */
        TPM2B_NAME name;
} SoftwareKey;

/* An EK from the TCG default template (attributes, policy, AES-128-CFB), unique = the public key.
 * An AK from patela's AK template (tpm2_ak_template()), unique = the public key.
 * pkey: NULL generates a key pair — P-256 in well under a millisecond, RSA-2048 in tens to hundreds of
 * milliseconds —, else a private key of the given type, referenced, not copied (a load generator that
 * wants many RSA identities can share a few key pairs between them: the identity is the pair EK, AK).
 * -EOPNOTSUPP if pkey is of another type or size (or RSA with an exponent other than 65537). */
int software_ek_new(Tpm2KeyType type, EVP_PKEY *pkey, SoftwareKey **ret);
int software_ak_new(Tpm2KeyType type, EVP_PKEY *pkey, SoftwareKey **ret);
SoftwareKey *software_key_free(SoftwareKey *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(SoftwareKey *, software_key_free);

/* TPM2_ActivateCredential with the EK's private key, for a credential bound to name (the AK's): recovers
 * the seed (RSA-OAEP decryption, or ECDH with the ephemeral point), checks the integrity HMAC, then
 * decrypts. -EBADMSG like a TPM's TPM_RC_INTEGRITY/TPM_RC_VALUE: a credential for another name or EK, an
 * altered blob or encrypted secret, a point not on the curve. */
int software_activate_credential(const SoftwareKey *ek, const TPM2B_NAME *name, const TPM2B_ID_OBJECT *blob,
                                 const TPM2B_ENCRYPTED_SECRET *encrypted_secret, TPM2B_DIGEST *ret);

/* A TPMT_SIGNATURE with the AK's scheme (RSASSA-SHA256 or ECDSA-P256-SHA256, r and s padded to 32 bytes)
 * over SHA-256(data). Unlike a TPM's restricted key it signs anything: tests use it to sign altered
 * attestation structures. */
int software_sign(const SoftwareKey *ak, const void *data, size_t size, TPMT_SIGNATURE *ret);

/* The TPM state a quote reports besides the PCRs. */
typedef struct SoftwareQuoteClock {
        TPMS_CLOCK_INFO clock_info;
        uint64_t firmware_version;
} SoftwareQuoteClock;

/* TPM2_Quote by the AK: a TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE with magic TPM_GENERATED_VALUE,
 * qualifiedSigner = the AK's qualified name as a primary key of the endorsement hierarchy (where attestd
 * creates it), extraData = nonce, clock (NULL: all zero, safe), the selection of bank/mask and pcrDigest =
 * SHA-256 of values (ascending PCR order, each of the bank's digest size), marshalled and signed.
 * ret_attest is the marshalled TPMS_ATTEST (the TPM2B_ATTEST's contents), to be freed. -EINVAL for a nonce
 * longer than a TPM2B_DATA, an empty or out-of-range mask, or values that do not fit the mask and bank. */
int software_quote(const SoftwareKey *ak, const SoftwareQuoteClock *clock, const void *nonce,
                   size_t nonce_size, TPMI_ALG_HASH bank, uint32_t mask, const TPM2B_DIGEST *values,
                   size_t n_values, uint8_t **ret_attest, size_t *ret_attest_size,
                   TPMT_SIGNATURE *ret_signature);
