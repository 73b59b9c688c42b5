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
/* tor's state (keyd-state.h): where each instance's DataDirectory is (patela-tor@.service's RuntimeDirectory=), and
 * where keyd keeps the last sealed copy of each relay's, for patela-configd to save after the instance stopped. */
#define KEYD_TOR_DIRECTORY_DEFAULT "/run/patela-tor"
#define KEYD_STATE_DIRECTORY_DEFAULT "/run/patela/state"
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
        char *tor_directory;
        char *state_directory;
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
        uint32_t missing_pcrs; /* -ENOTRECOVERABLE: required PCRs the policy lacks */
        uint32_t mismatched_pcrs;
        TPM2_HANDLE index;     /* -EUCLEAN: the NV index that is not as keyd leaves it */
        char message[384];
} KekError;

/* The unsealed KEK with what writing the store needs: the policy it is sealed to (which alone writes its
 * index) and the store's head at the end of that index (keyd-store.h). */
typedef struct Kek {
        SecretBuffer *key; /* KEYD_KEK_SIZE bytes */
        Tpm2PcrlockPolicy *policy;
        size_t index_size; /* of KEYD_NV_KEK */
        uint8_t head[KEYD_HEAD_SIZE];
} Kek;

Kek *kek_free(Kek *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(Kek *, kek_free);

/* Loads the policy (-ENOENT: none), checks it covers the required PCRs (-ENOTRECOVERABLE otherwise), checks
 * that the KEK's index is written only through that policy, and unseals the KEK (-EPERM: the PCRs do not
 * satisfy the policy; -ENOKEY: none sealed yet). -EUCLEAN if keyd's NV was tampered with: the KEK's index
 * can be written without the policy or is bound to another one, stored keys or a copy of the policy exist
 * without a KEK, or the copy of the policy was not written through it. With create, a TPM that holds nothing
 * of keyd's gets a KEK: random, sealed to the policy, unsealed once more to check it, written through the
 * policy with an empty head. */
int kek_acquire(Manager *m, bool create, Kek **ret, KekError *ret_error);
/* The policy, loaded and checked against the required PCRs, without unsealing. */
int policy_load_checked(Manager *m, Tpm2PcrlockPolicy **ret, KekError *ret_error);
/* Writes s to the store (store_write()) and commits it: the new head into the KEK's index, through the
 * policy (a policy session and one NV_Write). */
int kek_store_write(Tpm2Context *c, Kek *k, KeySet *s);
/* What kek_acquire() and store_read() would refuse, without unsealing (GetStatus): 0 if keyd's NV is as keyd
 * leaves it (or there is no policy to compare it with), else the error: -EUCLEAN as kek_acquire(), -ENODATA
 * (the store is gone) or -EBADMSG (not the record the head names) as store_read(). */
int kek_inspect(Manager *m, KekError *ret_error);