/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "io.patela.Attest.h"

static SD_VARLINK_DEFINE_STRUCT_TYPE(
                PcrValue,
                SD_VARLINK_FIELD_COMMENT("PCR index, 0…23"),
                SD_VARLINK_DEFINE_FIELD(index, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("The PCR's value in the quoted bank, lower-case hex"),
                SD_VARLINK_DEFINE_FIELD(value, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_METHOD(
                GetIdentity,
                SD_VARLINK_FIELD_COMMENT("Type of the endorsement key: rsa2048 or ecc-p256"),
                SD_VARLINK_DEFINE_OUTPUT(ekType, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("EK public area, marshalled TPM2B_PUBLIC, base64"),
                SD_VARLINK_DEFINE_OUTPUT(ekPublic, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("EK name (nameAlg || digest of the public area), hex"),
                SD_VARLINK_DEFINE_OUTPUT(ekName, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("EK certificate from the TCG NV index, DER as stored, base64; null if the TPM has none"),
                SD_VARLINK_DEFINE_OUTPUT(ekCertificate, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Persistent handle of the EK if the TPM holds one there, else null (the EK was derived from the template)"),
                SD_VARLINK_DEFINE_OUTPUT(ekHandle, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Type of the attestation key: rsa2048 or ecc-p256"),
                SD_VARLINK_DEFINE_OUTPUT(akType, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("AK public area, marshalled TPM2B_PUBLIC, base64"),
                SD_VARLINK_DEFINE_OUTPUT(akPublic, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("AK name, hex; what a make_credential challenge must be bound to. A verifier computes it itself from akPublic"),
                SD_VARLINK_DEFINE_OUTPUT(akName, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("Short fingerprint of EK and AK (XXXX-XXXX-XXXX-XXXX) that the operator compares with the server before enabling the node"),
                SD_VARLINK_DEFINE_OUTPUT(fingerprint, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_METHOD(
                ActivateCredential,
                SD_VARLINK_FIELD_COMMENT("credentialBlob of a make_credential for this EK and AK name, marshalled TPM2B_ID_OBJECT, base64 (sensitive)"),
                SD_VARLINK_DEFINE_INPUT(credentialBlob, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The seed encrypted to the EK, marshalled TPM2B_ENCRYPTED_SECRET, base64 (sensitive)"),
                SD_VARLINK_DEFINE_INPUT(encryptedSecret, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The recovered credential, at most 64 bytes, base64 (sensitive)"),
                SD_VARLINK_DEFINE_OUTPUT(secret, SD_VARLINK_STRING, 0));

static SD_VARLINK_DEFINE_METHOD(
                Quote,
                SD_VARLINK_FIELD_COMMENT("Verifier's nonce (qualifyingData), 1…64 bytes, base64"),
                SD_VARLINK_DEFINE_INPUT(nonce, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("PCR indexes to quote, each 0…23, at least one"),
                SD_VARLINK_DEFINE_INPUT(pcrs, SD_VARLINK_INT, SD_VARLINK_ARRAY),
                SD_VARLINK_FIELD_COMMENT("PCR bank: sha1, sha256 (default), sha384 or sha512"),
                SD_VARLINK_DEFINE_INPUT(bank, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The signed TPMS_ATTEST as the TPM produced it (the message tpm2_checkquote -m takes), base64"),
                SD_VARLINK_DEFINE_OUTPUT(quoted, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("AK signature over quoted, marshalled TPMT_SIGNATURE, base64"),
                SD_VARLINK_DEFINE_OUTPUT(signature, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The PCR bank quoted"),
                SD_VARLINK_DEFINE_OUTPUT(bank, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("Values of the quoted PCRs, ascending; their digest equals the pcrDigest inside quoted"),
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(pcrValues, PcrValue, SD_VARLINK_ARRAY));

static SD_VARLINK_DEFINE_METHOD(
                GetEventLogs,
                SD_VARLINK_FIELD_COMMENT("Firmware event log (TCG PC Client binary format), base64; null if this machine has none"),
                SD_VARLINK_DEFINE_OUTPUT(firmwareLog, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("systemd's userspace measurement log (CEL-JSON-SEQ, tpm2-measure.log), base64; null if absent"),
                SD_VARLINK_DEFINE_OUTPUT(userspaceLog, SD_VARLINK_STRING, SD_VARLINK_NULLABLE));

static SD_VARLINK_DEFINE_ERROR(
                TpmUnavailable,
                SD_VARLINK_FIELD_COMMENT("Why the TPM could not be opened"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                TpmLockout,
                SD_VARLINK_FIELD_COMMENT("The TPM's dictionary-attack counters and when one failure is forgotten"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                TpmFailure,
                SD_VARLINK_FIELD_COMMENT("The TPM command that failed and the decoded TPM response code"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(CredentialRejected);
static SD_VARLINK_DEFINE_ERROR(
                PcrBankUnavailable,
                SD_VARLINK_FIELD_COMMENT("The bank that the TPM has not allocated"),
                SD_VARLINK_DEFINE_FIELD(bank, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                EventLogUnreadable,
                SD_VARLINK_FIELD_COMMENT("Path of the log"),
                SD_VARLINK_DEFINE_FIELD(path, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("Why it could not be read (e.g. larger than the 4 MiB limit)"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));

SD_VARLINK_DEFINE_INTERFACE(
                io_patela_Attest,
                "io.patela.Attest",
                SD_VARLINK_INTERFACE_COMMENT("patela-attestd: the node's TPM identity (EK, AK), credential activation and quotes."),
                SD_VARLINK_SYMBOL_COMMENT("One quoted PCR"),
                &vl_type_PcrValue,
                SD_VARLINK_SYMBOL_COMMENT("Returns the node's identity: EK public part and certificate, AK public part and name, and the fingerprint to compare."),
                &vl_method_GetIdentity,
                SD_VARLINK_SYMBOL_COMMENT("Runs TPM2_ActivateCredential with the AK and EK and returns the secret. Fails with CredentialRejected if the challenge was made for another EK or AK name."),
                &vl_method_ActivateCredential,
                SD_VARLINK_SYMBOL_COMMENT("Quotes the selected PCRs over the nonce with the AK and returns the PCR values that the quote covers."),
                &vl_method_Quote,
                SD_VARLINK_SYMBOL_COMMENT("Returns the firmware and userspace measurement logs a verifier replays against a quote."),
                &vl_method_GetEventLogs,
                SD_VARLINK_SYMBOL_COMMENT("The TPM device could not be opened."),
                &vl_error_TpmUnavailable,
                SD_VARLINK_SYMBOL_COMMENT("The TPM is in dictionary-attack lockout and refused a DA-protected key (an AK made before patela set noDA)."),
                &vl_error_TpmLockout,
                SD_VARLINK_SYMBOL_COMMENT("A TPM command failed."),
                &vl_error_TpmFailure,
                SD_VARLINK_SYMBOL_COMMENT("The TPM refused the credential: it was made for another EK or another AK name, or it was altered."),
                &vl_error_CredentialRejected,
                SD_VARLINK_SYMBOL_COMMENT("The requested PCR bank is not allocated in this TPM."),
                &vl_error_PcrBankUnavailable,
                SD_VARLINK_SYMBOL_COMMENT("An event log exists but could not be read."),
                &vl_error_EventLogUnreadable);
