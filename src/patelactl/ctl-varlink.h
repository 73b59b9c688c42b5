/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-json.h>

#include "macro.h"

/* The daemons patelactl talks to. */
typedef enum CtlService {
        CTL_ATTEST,
        CTL_KEYS,
        CTL_CONFIG,
        _CTL_SERVICE_MAX,
        _CTL_SERVICE_INVALID = -EINVAL,
} CtlService;

/* Replies larger than this (as JSON text) are refused; sd-varlink itself stops at 16 MiB per message. */
#define CTL_REPLY_MAX (4U * 1024U * 1024U)

/* The exit codes of patelactl(1). */
#define CTL_EXIT_FAILURE 1
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_UNREACHABLE 3
#define CTL_EXIT_DECLARED_ERROR 4

typedef struct Ctl {
        char *socket[_CTL_SERVICE_MAX];
        sd_json_format_flags_t json_format; /* SD_JSON_FORMAT_OFF: human output */
        bool legend;
} Ctl;

/* Why a call failed: the declared error the daemon answered with, or what went wrong locally. */
typedef struct CtlError {
        char *id; /* error name, NULL if the daemon did not answer with one */
        sd_json_variant *parameters; /* its parameters, may be NULL */
        char *message; /* human-readable summary, always set on failure */
} CtlError;

void ctl_error_done(CtlError *e);

const char *ctl_service_to_string(CtlService s) _const_;
const char *ctl_service_daemon(CtlService s) _const_;

/* Calls INTERFACE.METHOD (the interface of service s) with no parameters. Returns 0 and the reply, or:
 * -EHOSTUNREACH if the daemon cannot be reached, -EREMOTEIO if it answered with an error (ret_error
 * holds its name and parameters), another negative errno otherwise. Does not log. */
int ctl_call(const Ctl *c, CtlService s, const char *method, uint64_t timeout_usec,
        sd_json_variant **ret_reply, CtlError *ret_error);

/* The same, logging the failure (error name and parameters for a declared error). */
int ctl_call_log(
        const Ctl *c, CtlService s, const char *method, uint64_t timeout_usec, sd_json_variant **ret_reply);

/* Maps the result of a verb to patelactl's exit code. */
int ctl_exit_code(int r);
