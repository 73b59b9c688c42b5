/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

/* The verifier's half of the TPM's credential protection (TPM 2.0 Part 1 §24, "Credential Protection";
 * Part 3 TPM2_MakeCredential), in software with OpenSSL: no TPM, no ESAPI. The server encrypts a secret
 * to a node's EK, bound to the name of its AK; only the TPM holding that EK, with that AK loaded, gets the
 * secret back out (TPM2_ActivateCredential). */

/* The largest credential: a TPM2B_DIGEST of the EK's nameAlg, which must be SHA-256. */
#define TPM2_CREDENTIAL_SECRET_MAX 32U

/* TPM2_MakeCredential for an RSA-2048 or ECC P-256 EK with nameAlg SHA-256 and an AES-128-CFB symmetric
 * definition (the TCG default EK templates). name is the name of the key to bind to (the AK's, computed
 * by the caller from its public area); secret is 1…TPM2_CREDENTIAL_SECRET_MAX bytes.
 * -EINVAL for a secret or name of a bad size; -EOPNOTSUPP for another key type, curve, nameAlg or
 * symmetric algorithm; -EPERM if the EK is not a restricted decryption key; -EBADMSG if its public key is
 * not a valid key (point not on the curve, modulus of the wrong size). */
int tpm2_make_credential(const TPM2B_PUBLIC *ek, const TPM2B_NAME *name, const void *secret,
                         size_t secret_size, TPM2B_ID_OBJECT *ret_blob,
                         TPM2B_ENCRYPTED_SECRET *ret_encrypted_secret);

/* The public key of an RSA-2048 (exponent 0 meaning 65537) or ECC P-256 public area as an OpenSSL key.
 * -EOPNOTSUPP for other key types and sizes, -EBADMSG if the key material is malformed (a unique field of
 * the wrong size, a point that is not on the curve). */
int tpm2_public_to_evp_pkey(const TPMT_PUBLIC *p, EVP_PKEY **ret);

/* The same for an ECC P-256 public area only (-EOPNOTSUPP for any other), into a key of the calling thread's
 * that is not the caller's: not to be freed, shared with another thread nor kept, and valid until this thread
 * calls again (which changes its public key) or ends. For verifying, where a key per call costs more than the
 * verification's own work outside the curve arithmetic. */
int tpm2_ecc_public_to_thread_key(const TPMT_PUBLIC *p, EVP_PKEY **ret);

/* ---- Building blocks, shared with the software TPM (tpm2-software.c) and tested on their own ---- */

/* KDFa (TPM 2.0 Part 1 §11.4.10.2): SP 800-108 counter-mode KDF with HMAC-alg, i.e.
 * HMAC(key, u32(i) || label || 0x00 || context_u || context_v || u32(bits)) for i = 1, 2, …, truncated to
 * bits, which must be a non-zero multiple of 8. label is a non-empty C string; its terminating NUL is part
 * of the input, as the specification says. Via OpenSSL's KBKDF. */
int tpm2_kdfa(TPMI_ALG_HASH alg, const void *key, size_t key_size, const char *label,
              const void *context_u, size_t context_u_size, const void *context_v, size_t context_v_size,
              size_t bits, uint8_t *ret);

/* KDFe (TPM 2.0 Part 1 §11.4.10.3): the SP 800-56A concatenation KDF,
 * H(u32(i) || Z || label || 0x00 || party_u || party_v) for i = 1, 2, …, truncated to bits (a non-zero
 * multiple of 8). */
int tpm2_kdfe(TPMI_ALG_HASH alg, const void *z, size_t z_size, const char *label, const void *party_u,
              size_t party_u_size, const void *party_v, size_t party_v_size, size_t bits, uint8_t *ret);

/* The public point of an ECC P-256 key, coordinates padded to 32 bytes as a TPM writes them.
 * -EOPNOTSUPP for another key type or curve. */
int tpm2_ecc_point_from_evp_pkey(EVP_PKEY *k, TPMS_ECC_POINT *ret);

/* The seed of a credential for an ECC P-256 EK: Z = x of ECDH(priv, peer),
 * seed = KDFe(SHA-256, Z, "IDENTITY", ephemeral.x, ek.x, 256). The verifier passes (ephemeral private,
 * EK public), the TPM side (EK private, ephemeral public); both get the same seed. ret must hold 32
 * bytes. peer must be a point on P-256, as EVP_PKEY_fromdata() or key generation make them: it is not
 * validated a second time. */
int tpm2_ecc_identity_seed(EVP_PKEY *priv, EVP_PKEY *peer, const TPM2B_ECC_PARAMETER *ephemeral_x,
                           const TPM2B_ECC_PARAMETER *ek_x, uint8_t *ret);

/* From a seed to the credential blob and back, with SHA-256 and AES-128-CFB:
 * symKey = KDFa(seed, "STORAGE", name, -, 128), hmacKey = KDFa(seed, "INTEGRITY", -, -, 256),
 * encIdentity = AES-128-CFB(symKey, IV 0, u16(size) || secret),
 * blob = u16(32) || HMAC(hmacKey, encIdentity || name) || encIdentity.
 * Unwrapping checks the integrity first, in constant time, then decrypts: -EBADMSG if the HMAC does not
 * match (another name, another seed, an altered blob) or the blob is malformed. */
int tpm2_credential_wrap(const uint8_t *seed, size_t seed_size, const TPM2B_NAME *name, const void *secret,
                         size_t secret_size, TPM2B_ID_OBJECT *ret);
int tpm2_credential_unwrap(const uint8_t *seed, size_t seed_size, const TPM2B_NAME *name,
                           const TPM2B_ID_OBJECT *blob, TPM2B_DIGEST *ret);
