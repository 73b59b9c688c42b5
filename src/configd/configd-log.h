/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* `patelactl log verify` (io.patela.Config.VerifyLog): the node proves that the image it booted is registered in
 * the fleet's transparency log, under a checkpoint signed by the pinned LogKey=, consistent with every checkpoint
 * it verified before in this boot. configd-log.c. */

#include <stdint.h>
#include <systemd/sd-json.h>
#include <systemd/sd-varlink.h>

typedef struct Manager Manager;
typedef struct ConfigdLog ConfigdLog;

/* The file in StateDirectory= (a tmpfs: one boot) holding the last checkpoint verified, in a directory of its own
 * that configd's user may write (tmpfiles.d, ReadWritePaths=). */
#define CONFIGD_LOG_STATE_DIRECTORY "log"
#define CONFIGD_LOG_STATE_FILE "checkpoint"

int log_verify_setup(Manager *m);
void log_verify_free(Manager *m);

/* What the node measured, from attestd's Quote reply and GetEventLogs reply of this cycle's attestation: the
 * applications the firmware started (PCR 4, from the firmware log replayed against the quoted PCR 4), PCR 9 and
 * PCR 11 as quoted. Kept for VerifyLog (public values). A failure is kept as the reason VerifyLog gives. */
void log_verify_take_measurement(Manager *m, sd_json_variant *quote, sd_json_variant *event_logs);

int vl_method_verify_log(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                         void *userdata);

/* For GetStatus: when the log was last verified (µs, 0 if never in this boot), the tree size then, and the
 * error of the last verification (NULL if it succeeded or none ran). */
void log_verify_last_result(const Manager *m, uint64_t *ret_at, uint64_t *ret_size, const char **ret_error);
