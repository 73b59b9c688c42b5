/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

/* The verifier's check of an EK certificate (TCG EK Credential Profile): the TPM's manufacturer certifies
 * that this EK lives in a genuine TPM. What TPMs store is parsed leniently — real ones put a TCG NV header
 * (tag 0x1001, size) in front, pad the NV index with 0xFF after the DER, or wrap the DER in an OCTET
 * STRING — and then verified strictly. Nothing here logs. */

#define EK_CERTIFICATE_TAG 0x1001U
/* tcg-kp-EKCertificate, the extended key usage of EK certificates */
#define EK_CERTIFICATE_EKU_OID "2.23.133.8.1"

/* The certificate's DER inside data (a pointer into it). -EBADMSG if there is none, or if anything but
 * 0xFF/0x00 padding follows it. */
int ek_certificate_der(const uint8_t *data, size_t size, const uint8_t **ret, size_t *ret_size);

/* The roots and intermediates of a directory: every *.pem and *.crt file, each with one or more PEM
 * certificates. -ENOENT if the directory does not exist; ret_n may be 0. */
int ek_roots_load(const char *directory, X509_STORE **ret, unsigned *ret_n);

/* Verifies the certificate in data for the EK public area ek:
 *   -EBADMSG      not a certificate (after the leniency above), reason says why
 *   -EXDEV        its key is not this EK's
 *   -EPERM        an extended key usage without tcg-kp-EKCertificate
 *   -EKEYREJECTED no chain to the roots (reason: OpenSSL's error)
 * On success ret_issuer (may be NULL) gets the issuer's name, one line (free() it). A certificate's dates
 * are not checked: it binds the EK to its TPM at manufacture, and the EK does not expire. Certificates in
 * the store are trust anchors, intermediates included (partial chains): the operator puts what the
 * manufacturer publishes there. */
int ek_certificate_verify(const uint8_t *data, size_t size, const TPMT_PUBLIC *ek, X509_STORE *roots,
                          char **ret_issuer, char *reason, size_t reason_size);
