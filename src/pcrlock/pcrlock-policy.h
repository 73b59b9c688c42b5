/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-json.h>

/* Driving systemd-pcrlock and asking patela-keyd; these log their own errors. */

typedef struct PolicyArgs {
        const char *pcrlock;            /* path of systemd-pcrlock */
        const char *components;         /* --components= for systemd-pcrlock, NULL: its own search path */
        const char *policy;             /* pcrlock.json */
        const char *location;
        uint32_t pcrs;                  /* the PCRs of the policy; all are required */
} PolicyArgs;

/* `systemd-pcrlock predict` for our PCRs; fails unless every one of them is predicted (pcrlock drops a PCR
 * whose log it cannot match). ret: the SHA-256 prediction, [{"pcr": N, "values": ["hex", ...]}, ...]. */
int policy_predict(const PolicyArgs *a, sd_json_variant **ret);
/* `systemd-pcrlock make-policy`, then checks that the written policy covers every PCR. */
int policy_make(const PolicyArgs *a);
/* Prints a prediction as "PCR: value" lines. */
void policy_print_prediction(sd_json_variant *prediction);

/* io.patela.Keys.ListRelays: keyd unseals with the new policy and, having unsealed, keeps a copy of
 * pcrlock.json in TPM NV (what a stateless reboot restores). Returns the number of relays whose keys are
 * sealed (0: none yet). */
int policy_keyd_check(const char *socket);
