/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "tpm2-templates.h"
#include "tpm2-util.h"

/* The TPM side of attestd: which EK and AK, loaded once per process, flushed when it exits. */

typedef struct AttestKeys {
        Tpm2KeyType ek_type;
        TPM2B_PUBLIC ek_public;
        TPM2B_NAME ek_name;
        Tpm2Handle *ek;
        TPM2_HANDLE ek_persistent; /* 0 if the EK was created from the template */
        uint8_t *ek_certificate;
        size_t ek_certificate_size;
        bool ek_nv_listed;      /* ek_nv_present is the TPM's list of the EK NV indices */
        uint64_t ek_nv_present; /* bit i: index TPM2_EK_CERT_NV_RSA2048 + i exists */

        Tpm2KeyType ak_type;
        TPM2B_PUBLIC ak_public;
        TPM2B_NAME ak_name;
        Tpm2Handle *ak;

        char *fingerprint;
} AttestKeys;

/* ek_type: the EK to use, or _TPM2_KEY_TYPE_INVALID for "the type whose certificate is in NV, else RSA". */
int attest_keys_load(Tpm2Context *c, Tpm2KeyType ek_type, Tpm2KeyType ak_type, AttestKeys **ret);
AttestKeys *attest_keys_free(AttestKeys *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(AttestKeys *, attest_keys_free);

/* TPM2_ActivateCredential through the EK's policy session, salted with the EK, so the secret is encrypted on
 * the bus (3 commands: StartAuthSession, PolicySecret, ActivateCredential).
 * -EBADMSG if the TPM rejects the credential (made for another EK or AK name, or altered). */
int attest_activate_credential(Tpm2Context *c, AttestKeys *k, const TPM2B_ID_OBJECT *blob,
                               const TPM2B_ENCRYPTED_SECRET *secret, TPM2B_DIGEST *ret);

typedef struct AttestQuote {
        TPM2B_ATTEST quoted;
        TPMT_SIGNATURE signature;
        TPMI_ALG_HASH bank;
        uint32_t mask;
        unsigned n_values;
        TPM2B_DIGEST values[TPM2_PCRS_MAX]; /* in ascending PCR order */
} AttestQuote;

/* Quotes the PCRs in mask over nonce and reads their values; retries if a PCR changed in between, so that
 * the values returned are the ones the quote covers. -EOPNOTSUPP if the bank is not allocated. */
int attest_quote(Tpm2Context *c, AttestKeys *k, TPMI_ALG_HASH bank, uint32_t mask, const TPM2B_DATA *nonce,
                 AttestQuote *ret);
