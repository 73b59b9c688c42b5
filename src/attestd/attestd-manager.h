/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "attestd-tpm.h"
#include "tpm2-util.h"
#include "varlink-service.h"

#define ATTESTD_FIRMWARE_LOG_DEFAULT "/sys/kernel/security/tpm0/binary_bios_measurements"
#define ATTESTD_MEASURE_LOG_DEFAULT "/run/log/systemd/tpm2-measure.log"
#define ATTESTD_EVENT_LOG_MAX (4U * 1024U * 1024U)
#define ATTESTD_IDLE_USEC_DEFAULT (30ULL * 1000000ULL)

typedef struct Manager {
        /* configuration */
        char *tcti;
        Tpm2KeyType ek_type; /* _TPM2_KEY_TYPE_INVALID: auto */
        Tpm2KeyType ak_type;
        char *firmware_log;
        char *measure_log;
        uint64_t idle_usec;

        /* state: opened on the first request that needs the TPM */
        Tpm2Context *tpm;
        AttestKeys *keys;
        VarlinkService *service;
} Manager;

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

int manager_start(Manager *m, const char *listen_address);

/* Opens the TPM and loads EK and AK if not done yet. -ENODEV if the TPM cannot be opened. */
int manager_acquire_keys(Manager *m, AttestKeys **ret);
/* Drops the TPM context after a transport failure, so that the next request reopens it. */
void manager_forget_tpm(Manager *m);
