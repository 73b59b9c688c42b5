/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_tpm2_types.h>

#include "macro.h"
#include "tpm2-startup.h"

#define STARTUP_TCTI_MAGIC UINT64_C(0x706174656c615355) /* "patelaSU" */
#define HEADER_SIZE 10U

typedef struct StartupTcti {
        TSS2_TCTI_CONTEXT_COMMON_V2 common;
        TSS2_TCTI_CONTEXT *inner;
        unsigned *n_commands;
        bool settled;       /* the TPM answered a command: it runs, everything passes through */
        bool have_response; /* the first response, read ahead, not yet handed to the caller */
        size_t command_size, response_size;
        uint8_t command[TPM2_MAX_COMMAND_SIZE];
        uint8_t response[TPM2_MAX_RESPONSE_SIZE];
} StartupTcti;

static uint32_t be32_at(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* A whole response, blocking: the size first (as the SAPI asks), then the bytes. */
static TSS2_RC receive_all(TSS2_TCTI_CONTEXT *inner, uint8_t *buf, size_t max, size_t *ret_size) {
        size_t size = 0;
        TSS2_RC rc;

        rc = Tss2_Tcti_Receive(inner, &size, NULL, TSS2_TCTI_TIMEOUT_BLOCK);
        if (rc != TSS2_RC_SUCCESS)
                return rc;
        if (size < HEADER_SIZE || size > max)
                return TSS2_TCTI_RC_MALFORMED_RESPONSE;
        rc = Tss2_Tcti_Receive(inner, &size, buf, TSS2_TCTI_TIMEOUT_BLOCK);
        if (rc != TSS2_RC_SUCCESS)
                return rc;
        if (size < HEADER_SIZE)
                return TSS2_TCTI_RC_MALFORMED_RESPONSE;
        *ret_size = size;
        return TSS2_RC_SUCCESS;
}

/* The first response of the connection, with Startup and a second try if the TPM was not started. */
static TSS2_RC read_first_response(StartupTcti *t) {
        static const uint8_t startup_clear[] = {
                0x80, 0x01, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x01, 0x44, 0x00, 0x00,
        };
        uint8_t buf[64];
        size_t size;
        uint32_t rc_startup;
        TSS2_RC rc;

        rc = receive_all(t->inner, t->response, sizeof(t->response), &t->response_size);
        if (rc != TSS2_RC_SUCCESS)
                return rc;
        if (be32_at(t->response + 6) != TPM2_RC_INITIALIZE || t->command_size < HEADER_SIZE ||
            be32_at(t->command + 6) == TPM2_CC_Startup)
                return TSS2_RC_SUCCESS;

        rc = Tss2_Tcti_Transmit(t->inner, sizeof(startup_clear), startup_clear);
        if (rc == TSS2_RC_SUCCESS)
                rc = receive_all(t->inner, buf, sizeof(buf), &size);
        if (rc != TSS2_RC_SUCCESS)
                return rc;
        if (t->n_commands)
                (*t->n_commands)++;
        rc_startup = be32_at(buf + 6);
        if (rc_startup != TPM2_RC_SUCCESS && rc_startup != TPM2_RC_INITIALIZE)
                return TSS2_RC_SUCCESS; /* the caller sees TPM_RC_INITIALIZE of its command */

        rc = Tss2_Tcti_Transmit(t->inner, t->command_size, t->command);
        if (rc != TSS2_RC_SUCCESS)
                return rc;
        return receive_all(t->inner, t->response, sizeof(t->response), &t->response_size);
}

static TSS2_RC startup_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *command) {
        StartupTcti *t = (StartupTcti *) ctx;

        if (!t->settled) {
                if (!command || size > sizeof(t->command))
                        return TSS2_TCTI_RC_BAD_VALUE;
                memcpy(t->command, command, size);
                t->command_size = size;
                t->have_response = false;
        }
        return Tss2_Tcti_Transmit(t->inner, size, command);
}

static TSS2_RC startup_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *response, int32_t timeout) {
        StartupTcti *t = (StartupTcti *) ctx;
        TSS2_RC rc;

        if (t->settled)
                return Tss2_Tcti_Receive(t->inner, size, response, timeout);
        if (!size)
                return TSS2_TCTI_RC_BAD_REFERENCE;

        /* Until the TPM has answered once, its response is read ahead (blocking) and served from here. */
        if (!t->have_response) {
                rc = read_first_response(t);
                if (rc != TSS2_RC_SUCCESS)
                        return rc;
                t->have_response = true;
        }
        if (!response) {
                *size = t->response_size;
                return TSS2_RC_SUCCESS;
        }
        if (*size < t->response_size)
                return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
        memcpy(response, t->response, t->response_size);
        *size = t->response_size;
        t->have_response = false;
        t->settled = true;
        /* Nothing of the exchange stays behind in this buffer. */
        explicit_bzero(t->command, t->command_size);
        explicit_bzero(t->response, t->response_size);
        return TSS2_RC_SUCCESS;
}

static void startup_finalize(TSS2_TCTI_CONTEXT *ctx) {
        (void) ctx; /* tpm2_startup_tcti_free() */
}

static TSS2_RC startup_cancel(TSS2_TCTI_CONTEXT *ctx) {
        return Tss2_Tcti_Cancel(((StartupTcti *) ctx)->inner);
}

static TSS2_RC startup_get_poll_handles(TSS2_TCTI_CONTEXT *ctx, TSS2_TCTI_POLL_HANDLE *handles, size_t *n) {
        return Tss2_Tcti_GetPollHandles(((StartupTcti *) ctx)->inner, handles, n);
}

static TSS2_RC startup_set_locality(TSS2_TCTI_CONTEXT *ctx, uint8_t locality) {
        return Tss2_Tcti_SetLocality(((StartupTcti *) ctx)->inner, locality);
}

static TSS2_RC startup_make_sticky(TSS2_TCTI_CONTEXT *ctx, TPM2_HANDLE *handle, uint8_t sticky) {
        return Tss2_Tcti_MakeSticky(((StartupTcti *) ctx)->inner, handle, sticky);
}

int tpm2_startup_tcti_new(TSS2_TCTI_CONTEXT *inner, unsigned *n_commands, TSS2_TCTI_CONTEXT **ret) {
        StartupTcti *t;

        if (!inner || !ret)
                return -EINVAL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->common = (TSS2_TCTI_CONTEXT_COMMON_V2) {
                .v1 = {
                        .magic = STARTUP_TCTI_MAGIC,
                        .version = 2,
                        .transmit = startup_transmit,
                        .receive = startup_receive,
                        .finalize = startup_finalize,
                        .cancel = startup_cancel,
                        .getPollHandles = startup_get_poll_handles,
                        .setLocality = startup_set_locality,
                },
                .makeSticky = startup_make_sticky,
        };
        t->inner = inner;
        t->n_commands = n_commands;
        *ret = (TSS2_TCTI_CONTEXT *) t;
        return 0;
}

TSS2_TCTI_CONTEXT *tpm2_startup_tcti_free(TSS2_TCTI_CONTEXT *t) {
        if (!t)
                return NULL;
        explicit_bzero(t, sizeof(StartupTcti));
        free(t);
        return NULL;
}
