/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "bench-boot.h"
#include "tpm2-software.h"

/* The node's side of the server protocol, as patela-attestd and the node's client speak it
 * (test/integration/lib-server.sh shows it with a real TPM), for software identities. */

/* {"ekPublic": base64 TPM2B_PUBLIC, "akPublic": base64 TPM2B_PUBLIC}. */
int bench_enroll_body(const SoftwareKey *ek, const SoftwareKey *ak, char **ret);

/* The emulated nodes' PCR values: PCR i holds digest_size bytes of value i + 1. Any fixed values do: the
 * server records them, it does not judge them. values must hold TPM2_PCRS_MAX entries. */
size_t bench_pcr_values(TPMI_ALG_HASH bank, uint32_t mask, TPM2B_DIGEST *values);

/* From the reply to POST /v1/enroll of an enabled node ({challenge, credentialBlob, encryptedSecret, nonce,
 * pcrs, bank}) to the body of POST /v1/attest: TPM2_ActivateCredential with the EK for the AK's name, then
 * TPM2_Quote by the AK over the nonce and the requested PCRs — boot's values and event logs with them if
 * boot is not NULL, bench_pcr_values() and no logs otherwise. -EBADMSG for a reply that is not a
 * well-formed challenge, or a credential that does not activate. */
int bench_answer_challenge(const SoftwareKey *ek, const SoftwareKey *ak, const BenchBoot *boot, const char *reply,
                           size_t size, char **ret_body);

/* The reply to POST /v1/attest carries a session token: 32 bytes in base64. -EBADMSG if not. */
int bench_check_token(const char *reply, size_t size);
