/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "macro.h"
#include "tpm2-software.h"

/* The emulated nodes of the benchmark: a software EK (RSA-2048 or ECC P-256) and a software ECC P-256 AK
 * each, and the POST /v1/enroll body built once from their public areas.
 *
 * The identities file is benchmark scratch data in the build directory, not a secret of anything real. One
 * header line, then a line per node: "EK_TYPE EK_KEY AK_KEY EK_PUBLIC AK_PUBLIC", the keys as base64 DER
 * private keys, the publics as base64 marshalled TPM2B_PUBLIC (checked against the keys on load). */
typedef struct BenchIdentity {
        SoftwareKey *ek;
        SoftwareKey *ak;
        char *enroll_body;
        /* the server accepted an attestation with the boot's event logs: later answers to quote-only challenges
         * name them by their SHA-256, as patela-configd does (written by the one thread that authenticates this
         * node) */
        bool logs_accepted;
} BenchIdentity;

typedef struct BenchIdentities {
        BenchIdentity *items;
        size_t n;
} BenchIdentities;

/* How populate chooses EK types: all of one kind, or alternating (even index RSA-2048, odd ECC P-256). */
typedef enum BenchEkMix {
        BENCH_EK_RSA2048,
        BENCH_EK_ECC_P256,
        BENCH_EK_MIX,
        _BENCH_EK_MIX_MAX,
        _BENCH_EK_MIX_INVALID = -EINVAL,
} BenchEkMix;

BenchEkMix bench_ek_mix_from_string(const char *s) _pure_;
Tpm2KeyType bench_ek_mix_type(BenchEkMix m, size_t index) _const_;

/* n empty slots, to be filled by bench_identity_generate() (from several threads: one slot each). */
int bench_identities_new(size_t n, BenchIdentities **ret);
BenchIdentities *bench_identities_free(BenchIdentities *ids);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenchIdentities *, bench_identities_free);

/* Fresh key pairs for one node. */
int bench_identity_generate(Tpm2KeyType ek_type, BenchIdentity *ret);

/* Frees one identity's keys and body; the struct is then empty. */
void bench_identity_done(BenchIdentity *id);

/* Atomic replace (temporary file in the same directory, then rename), mode 0600. */
int bench_identities_save(const BenchIdentities *ids, const char *path);
/* -EBADMSG for a malformed line or a public area that does not belong to its key. */
int bench_identities_load(const char *path, BenchIdentities **ret);
