/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "alloc-util.h"
#include "keyd-store.h"
#include "tpm2-pcrlock.h"
#include "tpm2-util.h"
#include "varlink-service.h"

#define KEYD_POLICY_DEFAULT "/var/lib/systemd/pcrlock.json"
#define KEYD_KEY_DIRECTORY_DEFAULT PATELA_KEYS_DIRECTORY /* meson.build, which the tor unit shares */
#define KEYD_IDLE_USEC_DEFAULT (30ULL * 1000000ULL)
/* A UKI booted into RAM: firmware code (0) and its configuration-independent extensions (2), the UKI as
 * a PE image (4), the kernel's initrd/command line (9) and the stub's UKI sections and boot phases (11).
 * Never 15: systemd measures the machine-id there, random on every stateless boot. */
#define KEYD_REQUIRED_PCRS_DEFAULT ((1U << 0) | (1U << 2) | (1U << 4) | (1U << 9) | (1U << 11))

typedef struct Manager {
        /* configuration */
        char *tcti;
        char *policy_path;
        char *key_directory;
        uint32_t required_pcrs;
        uint64_t idle_usec;

        Tpm2Context *tpm;
        VarlinkService *service;

        /* SHA-256 of the policy text known to match the copy in TPM NV: spares the NV reads on later calls. */
        bool policy_copy_known;
        uint8_t policy_copy_hash[32];
} Manager;

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
int manager_start(Manager *m, const char *listen_address);

int manager_tpm(Manager *m, Tpm2Context **ret);
void manager_forget_tpm(Manager *m);

/* Why acquiring the KEK failed, for the varlink error. */
typedef struct KekError {
        int error;
        uint32_t missing_pcrs; /* -EPERM from the policy check: required PCRs the policy lacks */
        uint32_t mismatched_pcrs;
        char message[256];
} KekError;

/* Loads the policy (-ENOENT: none), checks it covers the required PCRs (-ENOTRECOVERABLE otherwise), and
 * unseals the KEK (-EPERM: the PCRs do not satisfy the policy; -ENOKEY: none sealed yet). With create, a
 * store that has no KEK yet
 * gets one: random, sealed to the policy, written to NV, and unsealed once more before it is used. */
int kek_acquire(Manager *m, bool create, SecretBuffer **ret_kek, KekError *ret_error);
/* The policy, loaded and checked against the required PCRs, without unsealing. */
int policy_load_checked(Manager *m, Tpm2PcrlockPolicy **ret, KekError *ret_error);
