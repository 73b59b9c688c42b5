/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The replay of both logs and its comparison with quoted values: against values computed here apart from
 * pcr-replay.c, against PCR values a TPM (swtpm) reached under systemd-pcrextend 257 (test/boot/fixtures),
 * and the mutations of issue 10 — retyped event, extra EV_NO_ACTION, truncated, reordered, changed digest,
 * oversized, unknown algorithm, missing Spec ID — each of which must be refused or must not match. */
#include <stdio.h>

#include "pcr-replay.h"
#include "test-boot-util.h"

static const uint16_t two_banks[] = { TPM_ALG_SHA1, TPM_ALG_SHA256 };

#define PCREXTEND_DIR "test/boot/fixtures/pcrextend-257/"

/* "PCR:hex" lines into v. */
static void read_values(const char *relative, PcrValues *v) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        char *line, *state = NULL;

        text = fixture(relative, &size);
        for (line = strtok_r(text, "\n", &state); line; line = strtok_r(NULL, "\n", &state)) {
                _cleanup_free_ void *d = NULL;
                unsigned pcr;
                size_t n;
                char hex[65];

                if (sscanf(line, "%u:%64s", &pcr, hex) != 2 || unhexmem(hex, 32, &d, &n) < 0)
                        TEST_FAIL("bad line in %s: %s", relative, line);
                ASSERT_OK(pcr_values_set(v, pcr, d, n));
        }
}

static TcgLog *parse_builder(const TcgLogBuilder *b) {
        TcgLog *log = NULL;
        const uint8_t *p;
        size_t size;

        p = tcg_log_builder_data(b, &size);
        ASSERT_OK(tcg_log_parse(p, size, &log, NULL));
        return log;
}

TEST(reset_values) {
        PcrValues v;
        uint8_t zero[32] = {}, ones[32];

        memset(ones, 0xff, 32);
        pcr_replay(NULL, NULL, &v);
        ASSERT_EQ(v.mask, PCR_MASK_ALL);
        for (unsigned pcr = 0; pcr < TCG_PCRS; pcr++)
                ASSERT_MEMEQ(v.sha256[pcr], pcr >= 17 && pcr <= 22 ? ones : zero, 32);
}

TEST(firmware_replay) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(two_banks, 2, true);
        _cleanup_(tcg_log_freep) TcgLog *log = parse_builder(b);
        uint8_t pcr0[32] = {}, pcr4[32] = {}, pcr5[32] = {}, pcr11[32] = {}, utf16[32];
        PcrValues v;
        size_t n;

        pcr_replay(log, NULL, &v);
        /* PCR 0 starts at the StartupLocality, then the CRTM version, the firmware volume, the separator. */
        pcr0[31] = 3;
        n = utf16_of("1.00", utf16);
        extend_of(pcr0, utf16, n);
        extend_of(pcr0, "firmware volume", 15);
        extend_of(pcr0, "\0\0\0\0", 4);
        ASSERT_MEMEQ(v.sha256[0], pcr0, 32);
        /* PCR 4: the UKI loaded before BDS's action and the separator, then the kernel. */
        extend_of(pcr4, "uki", 3);
        extend_of(pcr4, "Calling EFI Application from Boot Option", 40);
        extend_of(pcr4, "\0\0\0\0", 4);
        extend_of(pcr4, "kernel", 6);
        ASSERT_MEMEQ(v.sha256[4], pcr4, 32);
        extend_of(pcr5, "\0\0\0\0", 4);
        extend_of(pcr5, SAMPLE_EBS_INVOCATION, strlen(SAMPLE_EBS_INVOCATION));
        extend_of(pcr5, "Exit Boot Services Returned with Success", 40);
        ASSERT_MEMEQ(v.sha256[5], pcr5, 32);
        extend_of(pcr11, ".linux", 6);
        extend_of(pcr11, "kernel", 6);
        ASSERT_MEMEQ(v.sha256[11], pcr11, 32);
}

TEST(userspace_replay_against_swtpm) {
        _cleanup_(userspace_log_freep) UserspaceLog *us = NULL;
        _cleanup_free_ char *text = NULL;
        PcrValues replayed, quoted = {};
        size_t size;

        /* systemd-pcrextend extended a fresh swtpm and wrote its log; tpm2_pcrread read PCR 11 and 15. */
        text = fixture(PCREXTEND_DIR "tpm2-measure.log", &size);
        ASSERT_OK(userspace_log_parse(text, size, &us, NULL));
        read_values(PCREXTEND_DIR "pcrs.sha256", &quoted);
        ASSERT_EQ(quoted.mask, (UINT32_C(1) << 11) | (UINT32_C(1) << 15));
        pcr_replay(NULL, us, &replayed);
        ASSERT_OK(pcr_values_compare(&replayed, &quoted, quoted.mask, NULL));
}

TEST(merged_pcr11) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(two_banks, 2, false);
        _cleanup_(tcg_log_freep) TcgLog *fw = parse_builder(b);
        _cleanup_(userspace_log_freep) UserspaceLog *us = NULL;
        _cleanup_free_ char *text = NULL;
        PcrValues alone, merged, quoted = {};
        uint8_t pcr11[32] = {};
        size_t size;

        text = fixture(PCREXTEND_DIR "tpm2-measure.log", &size);
        ASSERT_OK(userspace_log_parse(text, size, &us, NULL));
        read_values(PCREXTEND_DIR "pcrs.sha256", &quoted);
        pcr_replay(fw, NULL, &alone);
        pcr_replay(fw, us, &merged);

        /* The stub's sections (firmware log) first, then systemd's phases (userspace log). */
        extend_of(pcr11, ".linux", 6);
        extend_of(pcr11, "kernel", 6);
        ASSERT_MEMEQ(alone.sha256[11], pcr11, 32);
        extend_of(pcr11, "sysinit", 7);
        extend_of(pcr11, "ready", 5);
        ASSERT_MEMEQ(merged.sha256[11], pcr11, 32);
        /* PCR 15 has only userspace records: the TPM's value. Every firmware PCR is unchanged. */
        ASSERT_MEMEQ(merged.sha256[15], quoted.sha256[15], 32);
        ASSERT_OK(pcr_values_compare(&merged, &alone, PCR_MASK_ALL & ~((UINT32_C(1) << 11) | (UINT32_C(1) << 15)),
                                     NULL));
}

TEST(compare) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(two_banks, 2, true);
        _cleanup_(tcg_log_freep) TcgLog *log = parse_builder(b);
        PcrValues replayed, quoted = {};
        uint8_t d[32] = {};
        BootError e;

        pcr_replay(log, NULL, &replayed);
        for (unsigned pcr = 0; pcr < 8; pcr++)
                ASSERT_OK(pcr_values_set(&quoted, pcr, replayed.sha256[pcr], 32));
        ASSERT_OK(pcr_values_compare(&replayed, &quoted, 0xff, &e));
        /* A PCR that was not quoted. */
        ASSERT_ERROR(pcr_values_compare(&replayed, &quoted, 0x1ff, &e), ECHRNG);
        ASSERT_EQ(e.pcr, 8);
        ASSERT_ERROR(pcr_values_compare(&replayed, &quoted, UINT32_C(1) << 24, &e), ECHRNG);
        /* Two PCRs differ: the lowest is named. */
        quoted.sha256[7][0] ^= 1;
        quoted.sha256[4][31] ^= 1;
        ASSERT_ERROR(pcr_values_compare(&replayed, &quoted, 0xff, &e), EUCLEAN);
        ASSERT_EQ(e.pcr, 4);
        ASSERT_STREQ(e.log, BOOT_LOG_REPLAY);
        ASSERT_OK(pcr_values_compare(&replayed, &quoted, 0x6f, NULL));

        ASSERT_ERROR(pcr_values_set(&quoted, 24, d, 32), EINVAL);
        ASSERT_ERROR(pcr_values_set(&quoted, 1, d, 20), EINVAL);
}

/* ---- the mutations of issue 10 ------------------------------------------------------------------------ */

typedef struct Boot {
        uint8_t *data;
        size_t size;
        PcrValues quoted;               /* what the TPM holds after the unmutated boot */
        size_t offsets[SAMPLE_EVENTS + 2];
} Boot;

static void boot_init(Boot *boot) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(two_banks, 2, true);
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;

        boot->data = builder_copy(b, &boot->size);
        log = parse_builder(b);
        pcr_replay(log, NULL, &boot->quoted);
        for (size_t i = 0; i < log->n_events; i++)
                boot->offsets[i] = log->events[i].offset;
        boot->offsets[log->n_events] = boot->size;
}

static void boot_done(Boot *boot) {
        free(boot->data);
}

/* What a verifier makes of a (mutated) log: 0 only if it parses and replays to the quoted values. */
static int judge(const Boot *boot, const uint8_t *data, size_t size, BootError *e) {
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        PcrValues replayed;
        int r;

        r = tcg_log_parse(data, size, &log, e);
        if (r < 0)
                return r;
        pcr_replay(log, NULL, &replayed);
        return pcr_values_compare(&replayed, &boot->quoted, PCR_MASK_ALL, e);
}

/* The log with events [first, last) (indexes into the parsed events: 0 is StartupLocality) replaced by n
 * bytes; first == last inserts before that event. */
static uint8_t *splice(const Boot *boot, size_t first, size_t last, const uint8_t *bytes, size_t n,
                       size_t *ret_size) {
        size_t start = boot->offsets[first], end = boot->offsets[last];
        uint8_t *out = malloc(boot->size - (end - start) + n);

        ASSERT_NOT_NULL(out);
        memcpy(out, boot->data, start);
        if (n > 0)
                memcpy(out + start, bytes, n);
        memcpy(out + start + n, boot->data + end, boot->size - end);
        *ret_size = boot->size - (end - start) + n;
        return out;
}

/* Event i's bytes. */
static const uint8_t *event_bytes(const Boot *boot, size_t i, size_t *ret_size) {
        *ret_size = boot->offsets[i + 1] - boot->offsets[i];
        return boot->data + boot->offsets[i];
}

TEST(mutation_unchanged) {
        Boot boot;

        boot_init(&boot);
        ASSERT_OK(judge(&boot, boot.data, boot.size, NULL));
        boot_done(&boot);
}

TEST(mutation_retyped_event) {
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        BootError e;
        Boot boot;

        boot_init(&boot);
        /* "Calling EFI Application" (event 7) retyped to EV_NO_ACTION: no longer extended, PCR 4 differs. */
        put_le32(boot.data + boot.offsets[7] + 4, EV_NO_ACTION);
        ASSERT_ERROR(judge(&boot, boot.data, boot.size, &e), EUCLEAN);
        ASSERT_EQ(e.pcr, 4);
        /* The UKI's load event (6) retyped to EV_EFI_ACTION: the replay is the same, but the digest is not the
         * hash of its data, which the PFP requires of an action. */
        put_le32(boot.data + boot.offsets[7] + 4, EV_EFI_ACTION);
        put_le32(boot.data + boot.offsets[6] + 4, EV_EFI_ACTION);
        ASSERT_OK(judge(&boot, boot.data, boot.size, NULL));
        ASSERT_OK(tcg_log_parse(boot.data, boot.size, &log, NULL));
        ASSERT_ERROR(tcg_log_check_digests(log, PCR_MASK_ALL, &e), EBADMSG);
        ASSERT_EQ(e.index, 6);
        log = tcg_log_free(log);
        /* Retyped to a type the PFP does not define: same replay, and the judge sees an unknown type. */
        put_le32(boot.data + boot.offsets[6] + 4, 0x8000000FU);
        ASSERT_OK(tcg_log_parse(boot.data, boot.size, &log, NULL));
        ASSERT_NULL(tcg_event_type_to_string(log->events[6].type));
        boot_done(&boot);
}

TEST(mutation_extra_no_action) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = NULL;
        _cleanup_(tcg_log_freep) TcgLog *vendor = NULL;
        _cleanup_free_ uint8_t *extra = NULL, *twice = NULL, *late = NULL, *none = NULL;
        const uint8_t *locality, *measurement;
        size_t size, n, m;
        BootError e;
        Boot boot;

        boot_init(&boot);
        /* A vendor EV_NO_ACTION carrying a digest, inserted between two measurements on PCR 4: never
         * extended, by the TPM nor by the replay — every EV_NO_ACTION is skipped, not only the header — so
         * the log still matches, as the real one would. */
        ASSERT_OK(tcg_log_builder_new(two_banks, 2, &b));
        ASSERT_OK(tcg_log_builder_add(b, 4, EV_NO_ACTION, "uki", 3, "vendor", 6));
        vendor = parse_builder(b);
        extra = splice(&boot, 8, 8, vendor->buffer + vendor->events[0].offset,
                       vendor->size - vendor->events[0].offset, &size);
        ASSERT_OK(judge(&boot, extra, size, NULL));

        /* StartupLocality sets PCR 0's start: a second one, or one after a measurement, is refused; without
         * it PCR 0 does not match. */
        locality = event_bytes(&boot, 0, &n);
        twice = splice(&boot, 1, 1, locality, n, &size);
        ASSERT_ERROR(judge(&boot, twice, size, &e), EBADMSG);
        ASSERT_EQ(e.index, 1);
        measurement = event_bytes(&boot, 1, &m);
        {
                _cleanup_free_ uint8_t *swapped = malloc(n + m);
                ASSERT_NOT_NULL(swapped);
                memcpy(swapped, measurement, m);
                memcpy(swapped + m, locality, n);
                late = splice(&boot, 0, 2, swapped, n + m, &size);
        }
        ASSERT_ERROR(judge(&boot, late, size, &e), EBADMSG);
        ASSERT_NOT_NULL(strstr(e.reason, "after a measurement"));
        none = splice(&boot, 0, 1, NULL, 0, &size);
        ASSERT_ERROR(judge(&boot, none, size, &e), EUCLEAN);
        ASSERT_EQ(e.pcr, 0);
        boot_done(&boot);
}

TEST(mutation_truncated) {
        Boot boot;

        boot_init(&boot);
        /* Cut inside the last event, or right before it. */
        ASSERT_ERROR(judge(&boot, boot.data, boot.size - 1, NULL), EBADMSG);
        ASSERT_ERROR(judge(&boot, boot.data, boot.offsets[SAMPLE_EVENTS], NULL), EUCLEAN);
        boot_done(&boot);
}

TEST(mutation_reordered) {
        _cleanup_free_ uint8_t *swapped = NULL, *pair = NULL, *across = NULL;
        const uint8_t *first, *second;
        size_t a = SAMPLE_EVENTS - 1, size, la, lb;
        BootError e;
        Boot boot;

        boot_init(&boot);
        /* The two ExitBootServices actions on PCR 5 swapped: PCR 5 differs. */
        first = event_bytes(&boot, a, &la);
        second = event_bytes(&boot, a + 1, &lb);
        pair = malloc(la + lb);
        ASSERT_NOT_NULL(pair);
        memcpy(pair, second, lb);
        memcpy(pair + lb, first, la);
        swapped = splice(&boot, a, a + 2, pair, la + lb, &size);
        ASSERT_ERROR(judge(&boot, swapped, size, &e), EUCLEAN);
        ASSERT_EQ(e.pcr, 5);
        /* The kernel's initrd (PCR 9) and the kernel's load (PCR 4) swapped: each PCR sees its events in the
         * same order, and so does the TPM — the order between PCRs is not measured. */
        first = event_bytes(&boot, a - 2, &la);
        second = event_bytes(&boot, a - 1, &lb);
        memcpy(pair, second, lb);
        memcpy(pair + lb, first, la);
        across = splice(&boot, a - 2, a, pair, la + lb, &size);
        ASSERT_OK(judge(&boot, across, size, NULL));
        boot_done(&boot);
}

TEST(mutation_changed_digest) {
        BootError e;
        Boot boot;

        boot_init(&boot);
        /* The UKI's SHA-256 digest (event 6: after pcr, type, count, the SHA-1 bank, the SHA-256 id). */
        boot.data[boot.offsets[6] + 12 + 2 + 20 + 2] ^= 0x80;
        ASSERT_ERROR(judge(&boot, boot.data, boot.size, &e), EUCLEAN);
        ASSERT_EQ(e.pcr, 4);
        boot_done(&boot);
}

TEST(mutation_oversized_unknown_algorithm_missing_spec_id) {
        size_t data_size_at;
        BootError e;
        Boot boot;

        boot_init(&boot);
        data_size_at = boot.offsets[6] + 12 + 2 + 20 + 2 + 32;
        put_le32(boot.data + data_size_at, TCG_EVENT_DATA_MAX + 1);
        ASSERT_ERROR(judge(&boot, boot.data, boot.size, &e), E2BIG);
        put_le32(boot.data + data_size_at, UINT32_MAX);
        ASSERT_ERROR(judge(&boot, boot.data, boot.size, &e), E2BIG);
        put_le32(boot.data + data_size_at, 16);
        ASSERT_OK(judge(&boot, boot.data, boot.size, NULL));

        boot.data[boot.offsets[6] + 12] = 0x12;                 /* SHA-1 → SM3, not in the header */
        ASSERT_ERROR(judge(&boot, boot.data, boot.size, &e), EBADMSG);
        ASSERT_EQ(e.index, 6);
        boot.data[boot.offsets[6] + 12] = TPM_ALG_SHA1;

        ASSERT_ERROR(judge(&boot, boot.data + boot.offsets[0], boot.size - boot.offsets[0], &e), EBADMSG);
        ASSERT_EQ(e.index, SIZE_MAX);
        boot_done(&boot);
}

TEST(mutation_userspace) {
        _cleanup_(userspace_log_freep) UserspaceLog *us = NULL;
        _cleanup_free_ char *text = NULL;
        PcrValues quoted = {}, replayed;
        UserspaceRecord r;
        BootError e;
        size_t size;

        text = fixture(PCREXTEND_DIR "tpm2-measure.log", &size);
        read_values(PCREXTEND_DIR "pcrs.sha256", &quoted);
        ASSERT_OK(userspace_log_parse(text, size, &us, NULL));

        /* sysinit and ready reordered */
        r = us->records[0];
        us->records[0] = us->records[1];
        us->records[1] = r;
        pcr_replay(NULL, us, &replayed);
        ASSERT_ERROR(pcr_values_compare(&replayed, &quoted, quoted.mask, &e), EUCLEAN);
        ASSERT_EQ(e.pcr, 11);
        us->records[1] = us->records[0];
        us->records[0] = r;

        /* a changed digest */
        us->records[2].sha256[0] ^= 1;
        pcr_replay(NULL, us, &replayed);
        ASSERT_ERROR(pcr_values_compare(&replayed, &quoted, quoted.mask, &e), EUCLEAN);
        ASSERT_EQ(e.pcr, 15);
        us->records[2].sha256[0] ^= 1;

        /* the last record dropped (the log cut before its RS) */
        us->n_records--;
        pcr_replay(NULL, us, &replayed);
        ASSERT_ERROR(pcr_values_compare(&replayed, &quoted, quoted.mask, &e), EUCLEAN);
        us->n_records++;

        pcr_replay(NULL, us, &replayed);
        ASSERT_OK(pcr_values_compare(&replayed, &quoted, quoted.mask, NULL));
}

DEFINE_TEST_MAIN
