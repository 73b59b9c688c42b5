/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <unistd.h>
#include <tss2/tss2_tpm2_types.h>

#include "test-libtpms.h"
#include "tests.h"
#include "tpm2-startup.h"
#include "tpm2-util.h"

/* A TPM behind a fake TCTI: answers TPM_RC_INITIALIZE to everything but Startup until started, then
 * success; records the command codes it saw. */
typedef struct FakeTpm {
        TSS2_TCTI_CONTEXT_COMMON_V2 common;
        bool started;
        TPM2_CC seen[8];
        unsigned n_seen;
        uint32_t pending_rc;
} FakeTpm;

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static TSS2_RC fake_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *command) {
        FakeTpm *f = (FakeTpm *) ctx;
        TPM2_CC cc;

        ASSERT_TRUE(size >= 10);
        cc = be32(command + 6);
        if (f->n_seen < ELEMENTSOF(f->seen))
                f->seen[f->n_seen++] = cc;
        if (cc == TPM2_CC_Startup) {
                f->pending_rc = f->started ? TPM2_RC_INITIALIZE : TPM2_RC_SUCCESS;
                f->started = true;
        } else
                f->pending_rc = f->started ? TPM2_RC_SUCCESS : TPM2_RC_INITIALIZE;
        return TSS2_RC_SUCCESS;
}

static TSS2_RC fake_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *response, int32_t timeout) {
        FakeTpm *f = (FakeTpm *) ctx;
        uint8_t r[10] = { 0x80, 0x01, 0, 0, 0, 10, (uint8_t) (f->pending_rc >> 24), (uint8_t) (f->pending_rc >> 16),
                          (uint8_t) (f->pending_rc >> 8), (uint8_t) f->pending_rc };

        (void) timeout;
        if (!response) {
                *size = sizeof(r);
                return TSS2_RC_SUCCESS;
        }
        if (*size < sizeof(r))
                return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
        memcpy(response, r, sizeof(r));
        *size = sizeof(r);
        return TSS2_RC_SUCCESS;
}

static void fake_init(FakeTpm *f, bool started) {
        *f = (FakeTpm) {
                .common.v1 = { .magic = 1, .version = 2, .transmit = fake_transmit, .receive = fake_receive },
                .started = started,
        };
}

/* One command through t as the SAPI sends it (size query, then the bytes); returns its response code. */
static uint32_t send_command(TSS2_TCTI_CONTEXT *t, TPM2_CC cc) {
        uint8_t cmd[10] = { 0x80, 0x01, 0, 0, 0, 10, (uint8_t) (cc >> 24), (uint8_t) (cc >> 16), (uint8_t) (cc >> 8),
                            (uint8_t) cc };
        uint8_t rsp[64];
        size_t size = 0;

        ASSERT_EQ(Tss2_Tcti_Transmit(t, sizeof(cmd), cmd), TSS2_RC_SUCCESS);
        ASSERT_EQ(Tss2_Tcti_Receive(t, &size, NULL, TSS2_TCTI_TIMEOUT_BLOCK), TSS2_RC_SUCCESS);
        ASSERT_EQ(size, 10);
        ASSERT_EQ(Tss2_Tcti_Receive(t, &size, rsp, TSS2_TCTI_TIMEOUT_BLOCK), TSS2_RC_SUCCESS);
        ASSERT_EQ(size, 10);
        return be32(rsp + 6);
}

TEST(started_tpm_gets_no_startup) {
        TSS2_TCTI_CONTEXT *t = NULL;
        unsigned n = 0;
        FakeTpm f;

        fake_init(&f, /* started= */ true);
        ASSERT_OK(tpm2_startup_tcti_new((TSS2_TCTI_CONTEXT *) &f, &n, &t));
        ASSERT_EQ(send_command(t, TPM2_CC_GetRandom), TPM2_RC_SUCCESS);
        ASSERT_EQ(send_command(t, TPM2_CC_PCR_Read), TPM2_RC_SUCCESS);
        ASSERT_EQ(f.n_seen, 2);
        ASSERT_EQ(f.seen[0], TPM2_CC_GetRandom);
        ASSERT_EQ(f.seen[1], TPM2_CC_PCR_Read);
        ASSERT_EQ(n, 0);
        tpm2_startup_tcti_free(t);
}

TEST(unstarted_tpm_is_started_once) {
        TSS2_TCTI_CONTEXT *t = NULL;
        unsigned n = 0;
        FakeTpm f;

        fake_init(&f, /* started= */ false);
        ASSERT_OK(tpm2_startup_tcti_new((TSS2_TCTI_CONTEXT *) &f, &n, &t));
        /* The caller sees its command succeed; the TPM saw it twice, with Startup in between. */
        ASSERT_EQ(send_command(t, TPM2_CC_GetRandom), TPM2_RC_SUCCESS);
        ASSERT_EQ(send_command(t, TPM2_CC_PCR_Read), TPM2_RC_SUCCESS);
        ASSERT_EQ(f.n_seen, 4);
        ASSERT_EQ(f.seen[0], TPM2_CC_GetRandom);
        ASSERT_EQ(f.seen[1], TPM2_CC_Startup);
        ASSERT_EQ(f.seen[2], TPM2_CC_GetRandom);
        ASSERT_EQ(f.seen[3], TPM2_CC_PCR_Read);
        ASSERT_EQ(n, 1);
        tpm2_startup_tcti_free(t);
}

TEST(callers_startup_passes) {
        TSS2_TCTI_CONTEXT *t = NULL;
        unsigned n = 0;
        FakeTpm f;

        /* A caller's own Startup on a started TPM: its TPM_RC_INITIALIZE is the caller's to see. */
        fake_init(&f, /* started= */ true);
        ASSERT_OK(tpm2_startup_tcti_new((TSS2_TCTI_CONTEXT *) &f, &n, &t));
        ASSERT_EQ(send_command(t, TPM2_CC_Startup), TPM2_RC_INITIALIZE);
        ASSERT_EQ(f.n_seen, 1);
        ASSERT_EQ(n, 0);
        tpm2_startup_tcti_free(t);
}


/* libtpms in this process: a TPM that nobody started. The first command starts it, counted. */
TEST(libtpms_end_to_end) {
        _cleanup_(tpm2_context_freep) Tpm2Context *c = NULL;

        ASSERT_OK(libtpms_context(&c));
        ASSERT_EQ(c->n_commands, 0);
        ASSERT_TRUE(tpm2_is_responsive(c));
        ASSERT_EQ(c->n_commands, 2); /* Startup, GetRandom */
        ASSERT_TRUE(tpm2_is_responsive(c));
        ASSERT_EQ(c->n_commands, 3);
}

DEFINE_TEST_MAIN
