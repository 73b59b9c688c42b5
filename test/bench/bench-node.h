/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "bench-boot.h"
#include "bench-http.h"
#include "bench-identity.h"
#include "protocol.h"
#include "tpm2-software.h"

/* The node's side of the server protocol, as patela-attestd and the node's client speak it
 * (test/integration/lib-server.sh shows it with a real TPM), for software identities. */

/* {"ekPublic": base64 TPM2B_PUBLIC, "akPublic": base64 TPM2B_PUBLIC}. */
int bench_enroll_body(const SoftwareKey *ek, const SoftwareKey *ak, char **ret);

/* The emulated nodes' PCR values: PCR i holds digest_size bytes of value i + 1. Any fixed values do: the
 * server records them, it does not judge them. values must hold TPM2_PCRS_MAX entries. */
size_t bench_pcr_values(TPMI_ALG_HASH bank, uint32_t mask, TPM2B_DIGEST *values);

/* From the reply to POST /v1/enroll of an enabled node ({challenge, credentialBlob, encryptedSecret, nonce,
 * pcrs, bank}) to the body of POST /v1/attest: TPM2_ActivateCredential with the EK for the AK's name (not for a
 * quote-only challenge, which has no credential: the answer has no secret then), then TPM2_Quote by the AK over
 * the nonce and the requested PCRs — boot's values and event logs with them if boot is not NULL,
 * bench_pcr_values() and no logs otherwise. With name_logs, the answer to a quote-only challenge names the logs
 * by their SHA-256 instead (*ret_named, if not NULL, says whether it did). -EBADMSG for a reply that is not a
 * well-formed challenge, or a credential that does not activate. */
int bench_answer_challenge(const SoftwareKey *ek, const SoftwareKey *ak, const BenchBoot *boot, bool name_logs,
                           const char *reply, size_t size, char **ret_body, bool *ret_named);

/* A session token in base64, as the server issues it and a node sends it back (Authorization: Bearer), with
 * its NUL. */
#define BENCH_TOKEN_B64_SIZE (4U * ((PROTO_TOKEN_SIZE + 2U) / 3U) + 1U)

/* The reply to POST /v1/attest carries a session token: PROTO_TOKEN_SIZE bytes in base64. -EBADMSG if not.
 * ret_token, if not NULL, receives the token as sent, in BENCH_TOKEN_B64_SIZE bytes. */
int bench_parse_token(const char *reply, size_t size, char *ret_token);

/* From the reply to POST /v1/enroll of an identity the server does not know yet (200 {state: "prove",
 * fingerprint, challenge, credentialBlob, encryptedSecret}) to the body of POST /v1/enroll/proof:
 * TPM2_ActivateCredential with the EK for the AK's name. -EBADMSG for a reply that is not a proof challenge, or
 * a credential that does not activate. ret_body holds the secret: erase_and_free_sized() it. */
int bench_answer_proof(const SoftwareKey *ek, const SoftwareKey *ak, long status, const char *reply, size_t size,
                       char **ret_body);

/* A new node's enrolment over h: POST /v1/enroll (a proof challenge), the proof, POST /v1/enroll/proof. 0 once
 * the node is pending (202); each failure reported with bench_report_failure(). */
int bench_enrol(BenchHttp *h, const BenchIdentity *id);

/* Whether bench_authenticate() asks for quote-only challenges ("Prefer: quote-only", as configd does; the
 * default) or, false, gets a credential in every challenge (as a node of the previous version). */
void bench_set_quote_only(bool quote_only);

/* One full authentication of one node over h: POST /v1/enroll (a challenge), the answer, POST /v1/attest (a
 * token, in ret_token as with bench_parse_token()). 0 with a token, -EPROTO for a refusal, -EIO for transport trouble, other
 * errors of the node's side; each failure reported with bench_report_failure(). */
int bench_authenticate(BenchHttp *h, BenchIdentity *id, const BenchBoot *boot, char *ret_token);
