/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A real boot: patela's image under qemu -kernel, OVMF 2025.02 and swtpm, captured on the running node by
 * test/boot/capture-vm.sh into test/boot/fixtures/qemu-ovmf — the firmware's log (four banks), systemd's
 * tpm2-measure.log and the SHA-256 PCRs the kernel read under the log's lock. The replay must reach those
 * PCRs (all but PCR 10, the kernel's IMA, which neither log holds), every digest the PFP ties to its data
 * must re-hash, and every single-event mutation of the real log must be refused or must not match. */
#include <stdio.h>

#include "pcr-replay.h"
#include "test-boot-util.h"

#define DIR "test/boot/fixtures/qemu-ovmf/"
#define PCR_IMA 10U

/* PCR 11 after the firmware log alone, as tpm2_eventlog (tpm2-tools 5.7) computes it from the same file,
 * and as patela.reference.json predicts it ("boot"): an independent parser and the image's prediction. */
static const char pcr11_firmware[] = "8677e7bb801a217502cca83d906b009a54c68301452f92ea824dd42f6b0bd854";

typedef struct Capture {
        char *firmware_data, *userspace_data;
        size_t firmware_size, userspace_size;
        TcgLog *firmware;
        UserspaceLog *userspace;
        PcrValues quoted;
} Capture;

static void capture_load(Capture *c) {
        _cleanup_free_ char *pcrs = NULL;
        char *line, *state = NULL;
        size_t size;

        *c = (Capture) {};
        c->firmware_data = fixture(DIR "binary_bios_measurements", &c->firmware_size);
        c->userspace_data = fixture(DIR "tpm2-measure.log", &c->userspace_size);
        ASSERT_OK(tcg_log_parse(c->firmware_data, c->firmware_size, &c->firmware, NULL));
        ASSERT_OK(userspace_log_parse(c->userspace_data, c->userspace_size, &c->userspace, NULL));
        pcrs = fixture(DIR "pcrs.sha256", &size);
        for (line = strtok_r(pcrs, "\n", &state); line; line = strtok_r(NULL, "\n", &state)) {
                _cleanup_free_ void *d = NULL;
                unsigned pcr;
                char hex[65];
                size_t n;

                ASSERT_EQ(sscanf(line, "%u:%64s", &pcr, hex), 2);
                ASSERT_OK(unhexmem(hex, 32, &d, &n));
                ASSERT_OK(pcr_values_set(&c->quoted, pcr, d, n));
        }
        ASSERT_EQ(c->quoted.mask, PCR_MASK_ALL);
}

static void capture_done(Capture *c) {
        tcg_log_free(c->firmware);
        userspace_log_free(c->userspace);
        free(c->firmware_data);
        free(c->userspace_data);
}

/* 0 only if the (mutated) firmware log parses and, with the real userspace log, replays to the quote. */
static int judge(const Capture *c, const uint8_t *data, size_t size, BootError *e) {
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        PcrValues replayed;
        int r;

        r = tcg_log_parse(data, size, &log, e);
        if (r < 0)
                return r;
        pcr_replay(log, c->userspace, &replayed);
        return pcr_values_compare(&replayed, &c->quoted, PCR_MASK_ALL & ~(UINT32_C(1) << PCR_IMA), e);
}

TEST(qemu_ovmf_boot) {
        _cleanup_free_ void *expect = NULL;
        PcrValues replayed, firmware_only;
        size_t n, tied = 0;
        Capture c;
        BootError e;

        capture_load(&c);
        /* OVMF logs SHA-1, SHA-256, SHA-384 and SHA-512, no StartupLocality. */
        ASSERT_EQ(c.firmware->n_algorithms, 4);
        ASSERT_FALSE(c.firmware->have_startup_locality);
        ASSERT_EQ(c.userspace->n_records, 3);

        /* Every event whose digest the PFP ties to its data re-hashes, on this firmware too. */
        ASSERT_OK(tcg_log_check_digests(c.firmware, PCR_MASK_ALL, NULL));
        ASSERT_OK(userspace_log_check_digests(c.userspace, PCR_MASK_ALL, NULL));
        for (size_t i = 0; i < c.firmware->n_events; i++)
                if (tcg_event_check_digest(&c.firmware->events[i]) > 0)
                        tied++;
        ASSERT_TRUE(tied >= 15);

        pcr_replay(c.firmware, c.userspace, &replayed);
        ASSERT_OK(pcr_values_compare(&replayed, &c.quoted, PCR_MASK_ALL & ~(UINT32_C(1) << PCR_IMA), NULL));
        ASSERT_ERROR(pcr_values_compare(&replayed, &c.quoted, PCR_MASK_ALL, &e), EUCLEAN);
        ASSERT_EQ(e.pcr, PCR_IMA);

        pcr_replay(c.firmware, NULL, &firmware_only);
        ASSERT_OK(unhexmem(pcr11_firmware, 32, &expect, &n));
        ASSERT_MEMEQ(firmware_only.sha256[11], expect, 32);
        ASSERT_ERROR(pcr_values_compare(&firmware_only, &c.quoted, UINT32_C(1) << 11, NULL), EUCLEAN);
        capture_done(&c);
}

/* Where event i's SHA-256 digest sits in the log. */
static size_t sha256_offset(const TcgLog *log, size_t i) {
        const TcgEvent *e = &log->events[i];
        const uint8_t *p = memmem(log->buffer + e->offset, (size_t) (e->data - log->buffer) - e->offset, e->sha256,
                                  32);

        ASSERT_NOT_NULL(p);
        return (size_t) (p - log->buffer);
}

TEST(qemu_ovmf_mutations) {
        _cleanup_free_ uint8_t *copy = NULL;
        const TcgLog *log;
        size_t size, refused = 0;
        BootError e;
        Capture c;

        capture_load(&c);
        log = c.firmware;
        size = log->size;
        copy = malloc(size);
        ASSERT_NOT_NULL(copy);
        ASSERT_OK(judge(&c, log->buffer, size, NULL));

        for (size_t i = 0; i < log->n_events; i++) {
                const TcgEvent *ev = &log->events[i];
                size_t at;

                if (ev->type == EV_NO_ACTION)
                        continue;
                /* A changed digest: the event's PCR no longer matches. */
                memcpy(copy, log->buffer, size);
                at = sha256_offset(log, i);
                copy[at] ^= 0x01;
                ASSERT_ERROR(judge(&c, copy, size, &e), EUCLEAN);
                ASSERT_EQ(e.pcr, ev->pcr);
                /* Retyped to EV_NO_ACTION: no longer replayed. */
                memcpy(copy, log->buffer, size);
                put_le32(copy + ev->offset + 4, EV_NO_ACTION);
                ASSERT_ERROR(judge(&c, copy, size, &e), EUCLEAN);
                ASSERT_EQ(e.pcr, ev->pcr);
                /* Cut before it: what follows is missing. */
                ASSERT_ERROR(judge(&c, log->buffer, ev->offset, NULL), EUCLEAN);
                /* Cut inside it: malformed. */
                ASSERT_ERROR(judge(&c, log->buffer, ev->offset + 13, NULL), EBADMSG);
                /* Its data changed, where the digest is tied to the data: the re-hash refuses it. */
                if (tcg_event_check_digest(ev) > 0 && ev->data_size > 0) {
                        _cleanup_(tcg_log_freep) TcgLog *mutated = NULL;

                        memcpy(copy, log->buffer, size);
                        copy[(size_t) (ev->data - log->buffer) + ev->data_size - 1] ^= 0x01;
                        ASSERT_OK(tcg_log_parse(copy, size, &mutated, NULL));
                        ASSERT_ERROR(tcg_log_check_digests(mutated, PCR_MASK_ALL, &e), EBADMSG);
                        ASSERT_EQ(e.index, i);
                        refused++;
                }
                /* Swapped with the next event of the same PCR, when their digests differ. */
                for (size_t k = i + 1; k < log->n_events; k++) {
                        const TcgEvent *next = &log->events[k];
                        size_t la, lb;

                        if (next->pcr != ev->pcr || next->type == EV_NO_ACTION)
                                continue;
                        if (memcmp(next->sha256, ev->sha256, 32) == 0 || k != i + 1)
                                break;
                        la = next->offset - ev->offset;
                        lb = (k + 1 < log->n_events ? log->events[k + 1].offset : size) - next->offset;
                        memcpy(copy, log->buffer, size);
                        memcpy(copy + ev->offset, log->buffer + next->offset, lb);
                        memcpy(copy + ev->offset + lb, log->buffer + ev->offset, la);
                        ASSERT_ERROR(judge(&c, copy, size, &e), EUCLEAN);
                        ASSERT_EQ(e.pcr, ev->pcr);
                        break;
                }
        }
        ASSERT_TRUE(refused >= 15);
        capture_done(&c);
}

DEFINE_TEST_MAIN
