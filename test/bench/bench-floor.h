/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "bench-boot.h"
#include "bench-identity.h"

/* The crypto floor: what patela-server computes per full authentication and nothing else, in this process
 * on one thread: at enroll, the EK and AK names and the fingerprint (SHA-256), three random values,
 * tpm2_make_credential() and the secret's SHA-256; at attest, the secret's SHA-256 again,
 * tpm2_quote_verify() (which decodes the AK and hashes the quoted PCR values) and the session token with its
 * SHA-256. The node's half (activation, quote) runs in between, untimed, and every activation is checked. A
 * quote-only authentication (a node whose TPM proved its EK and AK before) has no credential: make_credential
 * and the secret's check are then measured but left out of total_nsec. */
typedef struct BenchFloor {
        unsigned iterations;
        bool quote_only;
        uint64_t total_nsec;
        uint64_t make_credential_nsec; /* in total_nsec unless quote_only */
        uint64_t quote_verify_nsec;
        uint64_t event_logs_nsec; /* with a boot: the verifier's work on the logs, bench_boot_explain() */
} BenchFloor;

/* The PCRs patela-server quotes by default (QuotePCRs=0-5,7,9,11,12), bank SHA-256. */
#define BENCH_DEFAULT_PCR_MASK                                                                              \
        ((1U << 0) | (1U << 1) | (1U << 2) | (1U << 3) | (1U << 4) | (1U << 5) | (1U << 7) | (1U << 9) |  \
         (1U << 11) | (1U << 12))

/* Cycles through the identities; with boot, its PCR values are quoted and its logs judged as the server's
 * verifier does (bench_boot_explain()) in every authentication. -EBADMSG if an activation, a quote
 * verification or the logs fail. */
int bench_floor_measure(const BenchIdentities *ids, const BenchBoot *boot, unsigned iterations, bool quote_only,
                        BenchFloor *ret);
