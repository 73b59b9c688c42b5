/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The firmware event log parser and the data↔digest checks, on synthetic logs written by
 * tcg-eventlog-build.c and mutated byte by byte. Each malformed log must be refused with its errno and a
 * reason; none may crash (the unit suite runs under ASan and UBSan). */
#include "boot-error.h"
#include "tcg-eventlog.h"
#include "test-boot-util.h"

static const uint16_t one_bank[] = { TPM_ALG_SHA256 };
static const uint16_t two_banks[] = { TPM_ALG_SHA1, TPM_ALG_SHA256 };
static const uint16_t four_banks[] = { TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384, TPM_ALG_SHA512 };

/* The header of a log with n banks: TCG_PCClientPCREvent (32 bytes) + TCG_EfiSpecIDEvent. */
#define HEADER_SIZE(n) (32U + 16U + 8U + 4U + 4U * (n) + 1U)

/* Parses data and expects error (0: success); returns the BootError, whose reason must be set. */
static BootError parse_expect(const uint8_t *data, size_t size, int error) {
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        BootError e = {};
        int r = tcg_log_parse(data, size, &log, &e);

        if (r != error)
                TEST_FAIL("tcg_log_parse returned %d (%s), expected %d", r, e.reason ?: "-", error);
        if (r < 0 && (!e.reason || !e.log))
                TEST_FAIL("no reason for %d", r);
        return e;
}

static TcgLog *parse_ok(const uint8_t *data, size_t size) {
        TcgLog *log = NULL;
        BootError e = {};
        int r = tcg_log_parse(data, size, &log, &e);

        if (r < 0)
                TEST_FAIL("tcg_log_parse failed: %d (%s)", r, e.reason ?: "-");
        return log;
}

TEST(parse_sample) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(four_banks, 4, true);
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        const uint8_t *data;
        uint8_t d[32];
        size_t size;

        data = tcg_log_builder_data(b, &size);
        log = parse_ok(data, size);
        ASSERT_EQ(log->n_algorithms, 4);
        ASSERT_EQ(log->algorithms[2].id, TPM_ALG_SHA384);
        ASSERT_EQ(log->algorithms[2].digest_size, 48);
        ASSERT_TRUE(log->have_startup_locality);
        ASSERT_EQ(log->startup_locality, 3);
        /* Every event is kept, EV_NO_ACTION included, with its type and data. */
        ASSERT_EQ(log->n_events, SAMPLE_EVENTS + 1);
        ASSERT_EQ(log->events[0].type, EV_NO_ACTION);
        ASSERT_EQ(log->events[7].pcr, 4);
        ASSERT_EQ(log->events[7].type, EV_EFI_ACTION);
        ASSERT_EQ(log->events[7].data_size, 40);
        ASSERT_MEMEQ(log->events[7].data, "Calling EFI Application from Boot Option", 40);
        sha256_of("Calling EFI Application from Boot Option", 40, d);
        ASSERT_MEMEQ(log->events[7].sha256, d, 32);
        /* The events point into the log's own copy, each at its offset. */
        ASSERT_EQ(log->events[0].offset, HEADER_SIZE(4));
        for (size_t i = 0; i < log->n_events; i++) {
                ASSERT_TRUE(log->events[i].offset < log->size);
                ASSERT_EQ(log->buffer[log->events[i].offset], log->events[i].pcr);
                ASSERT_TRUE(log->events[i].data >= log->buffer &&
                            log->events[i].data + log->events[i].data_size <= log->buffer + log->size);
        }
}

TEST(parse_one_bank_without_locality) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(one_bank, 1, false);
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        const uint8_t *data;
        size_t size;

        data = tcg_log_builder_data(b, &size);
        log = parse_ok(data, size);
        ASSERT_FALSE(log->have_startup_locality);
        ASSERT_EQ(log->n_events, SAMPLE_EVENTS);
        ASSERT_EQ(log->n_algorithms, 1);
}

TEST(spec_id_required) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(two_banks, 2, false);
        _cleanup_free_ uint8_t *data = NULL;
        size_t size, h = HEADER_SIZE(2);
        BootError e;

        data = builder_copy(b, &size);
        /* No header at all: the log starts with a TCG_PCR_EVENT2. */
        e = parse_expect(data + h, size - h, -EBADMSG);
        ASSERT_EQ(e.index, SIZE_MAX);
        ASSERT_NOT_NULL(strstr(e.reason, "Spec ID"));
        parse_expect(data, 0, -EBADMSG);
        parse_expect(data, 31, -EBADMSG);

        /* Not "Spec ID Event03": a flipped byte, the TPM 1.2 "Spec ID Event02". */
        data[32 + 3] ^= 0x20;
        parse_expect(data, size, -EBADMSG);
        data[32 + 3] ^= 0x20;
        data[32 + 14] = '2';
        parse_expect(data, size, -EBADMSG);
        data[32 + 14] = '3';
        /* Not EV_NO_ACTION on PCR 0, a digest that is not zero. */
        data[4] = EV_POST_CODE;
        parse_expect(data, size, -EBADMSG);
        data[4] = EV_NO_ACTION;
        data[0] = 1;
        parse_expect(data, size, -EBADMSG);
        data[0] = 0;
        data[8 + 19] = 1;
        parse_expect(data, size, -EBADMSG);
        data[8 + 19] = 0;
        /* numberOfAlgorithms 0 and 9; vendorInfoSize past the event. */
        put_le32(data + 32 + 24, 0);
        parse_expect(data, size, -EBADMSG);
        put_le32(data + 32 + 24, TCG_ALGORITHMS_MAX + 1);
        parse_expect(data, size, -EBADMSG);
        put_le32(data + 32 + 24, 2);
        data[h - 1] = 1;
        parse_expect(data, size, -EBADMSG);
        data[h - 1] = 0;
        /* The header's eventDataSize past the end of the log. */
        put_le32(data + 28, (uint32_t) size);
        parse_expect(data, size, -EBADMSG);
        put_le32(data + 28, h - 32);

        ASSERT_EQ(tcg_log_free(parse_ok(data, size)), NULL);
}

TEST(banks) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(two_banks, 2, false);
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *sha1 = NULL;
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        const uint8_t *p;
        size_t size;
        const uint16_t only_sha1[] = { TPM_ALG_SHA1 };
        BootError e;

        data = builder_copy(b, &size);
        log = parse_ok(data, size);

        /* A known bank announced with another size: SHA-256 as 20 bytes. */
        data[32 + 28 + 4 + 2] = 20;
        e = parse_expect(data, size, -EBADMSG);
        ASSERT_NOT_NULL(strstr(e.reason, "size"));
        data[32 + 28 + 4 + 2] = 32;
        /* A bank announced twice. */
        data[32 + 28 + 4] = TPM_ALG_SHA1;
        data[32 + 28 + 6] = 20;
        parse_expect(data, size, -EBADMSG);
        data[32 + 28 + 4] = TPM_ALG_SHA256;
        data[32 + 28 + 6] = 32;

        /* An event with a digest of a bank the header did not announce (SHA-1 → 0x0099): its size is
         * unknown, nothing after it can be read. */
        data[log->events[3].offset + 12] = 0x99;
        e = parse_expect(data, size, -EBADMSG);
        ASSERT_EQ(e.index, 3);
        ASSERT_EQ(e.offset, log->events[3].offset);
        ASSERT_NOT_NULL(strstr(e.reason, "did not announce"));
        /* … and the same unknown bank announced in the header, for every event: taken at its word. */
        data[32 + 28] = 0x99;
        for (size_t i = 0; i < log->n_events; i++)
                data[log->events[i].offset + 12] = 0x99;
        ASSERT_EQ(tcg_log_free(parse_ok(data, size)), NULL);
        data[32 + 28] = TPM_ALG_SHA1;
        for (size_t i = 0; i < log->n_events; i++)
                data[log->events[i].offset + 12] = TPM_ALG_SHA1;

        /* Two digests of one bank; one digest fewer than banks. */
        data[log->events[5].offset + 12 + 2 + 20] = TPM_ALG_SHA1;
        parse_expect(data, size, -EBADMSG);
        data[log->events[5].offset + 12 + 2 + 20] = TPM_ALG_SHA256;
        put_le32(data + log->events[5].offset + 8, 1);
        e = parse_expect(data, size, -EBADMSG);
        ASSERT_EQ(e.index, 5);
        ASSERT_NOT_NULL(strstr(e.reason, "one per bank"));
        put_le32(data + log->events[5].offset + 8, 2);
        ASSERT_EQ(tcg_log_free(parse_ok(data, size)), NULL);

        /* A log without SHA-256. */
        ASSERT_OK(tcg_log_builder_new(only_sha1, 1, &sha1));
        add_hashed(sha1, 4, EV_EFI_ACTION, "x", 1);
        p = tcg_log_builder_data(sha1, &size);
        parse_expect(p, size, -EOPNOTSUPP);
}

TEST(truncations) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(two_banks, 2, true);
        _cleanup_(tcg_log_freep) TcgLog *full = NULL;
        const uint8_t *data;
        size_t size, boundaries = 0;

        data = tcg_log_builder_data(b, &size);
        full = parse_ok(data, size);
        /* Cut anywhere: only a cut exactly between events parses (with the events before it); anything else
         * is refused as malformed. Each prefix is its own allocation, so ASan sees a read past the end. */
        for (size_t len = 0; len < size; len++) {
                _cleanup_free_ uint8_t *copy = malloc(len + 1);
                _cleanup_(tcg_log_freep) TcgLog *log = NULL;
                size_t k;
                int r;

                ASSERT_NOT_NULL(copy);
                memcpy(copy, data, len);
                r = tcg_log_parse(copy, len, &log, NULL);
                for (k = 0; k < full->n_events && full->events[k].offset < len; k++)
                        ;
                if (r >= 0) {
                        ASSERT_TRUE(len == HEADER_SIZE(2) ||
                                    (k < full->n_events && full->events[k].offset == len));
                        ASSERT_EQ(log->n_events, k);
                        boundaries++;
                } else
                        ASSERT_EQ(r, -EBADMSG);
        }
        ASSERT_EQ(boundaries, full->n_events);
}

TEST(limits) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(one_bank, 1, false);
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *many = NULL;
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        _cleanup_free_ uint8_t *data = NULL, *huge = NULL;
        const uint8_t *p;
        size_t size;
        BootError e;

        data = builder_copy(b, &size);
        log = parse_ok(data, size);
        /* An event whose data would be larger than the limit: refused before anything is read. */
        put_le32(data + log->events[2].offset + 12 + 2 + 32, TCG_EVENT_DATA_MAX + 1);
        e = parse_expect(data, size, -E2BIG);
        ASSERT_EQ(e.index, 2);
        /* The whole log. */
        huge = calloc(1, TCG_LOG_SIZE_MAX + 1);
        ASSERT_NOT_NULL(huge);
        memcpy(huge, data, size);
        parse_expect(huge, TCG_LOG_SIZE_MAX + 1, -E2BIG);
        /* More events than the limit. */
        ASSERT_OK(tcg_log_builder_new(one_bank, 1, &many));
        for (size_t i = 0; i <= TCG_EVENTS_MAX; i++)
                add_image(many, 14, EV_IPL, "x", NULL, 0);
        p = tcg_log_builder_data(many, &size);
        e = parse_expect(p, size, -E2BIG);
        ASSERT_EQ(e.index, TCG_EVENTS_MAX);
}

TEST(pcr_range_and_trailing_bytes) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(one_bank, 1, false);
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        BootError e;

        data = builder_copy(b, &size);
        log = parse_ok(data, size);
        put_le32(data + log->events[4].offset, 24);
        e = parse_expect(data, size, -EBADMSG);
        ASSERT_EQ(e.pcr, 24);
        put_le32(data + log->events[4].offset, UINT32_MAX);
        parse_expect(data, size, -EBADMSG);
        put_le32(data + log->events[4].offset, 1);

        /* Zeros after the last event: an event on PCR 0 of type 0 cut short. */
        data = realloc(data, size + 3);
        ASSERT_NOT_NULL(data);
        memset(data + size, 0, 3);
        parse_expect(data, size + 3, -EBADMSG);
}

TEST(no_action_events) {
        static const uint8_t locality_signature[16] = "StartupLocality";
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = NULL;
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        const uint8_t *data;
        uint8_t event[18];
        size_t size;
        BootError e;

        /* Any number of EV_NO_ACTION events, anywhere: kept, never a problem in themselves. */
        ASSERT_OK(tcg_log_builder_new(two_banks, 2, &b));
        ASSERT_OK(tcg_log_builder_add_digest(b, 0, EV_NO_ACTION, NULL, "SP800-155 Event3", 16));
        ASSERT_OK(tcg_log_builder_add_startup_locality(b, 0));
        add_hashed(b, 4, EV_EFI_ACTION, "a", 1);
        ASSERT_OK(tcg_log_builder_add_digest(b, 4, EV_NO_ACTION, NULL, "vendor", 6));
        add_hashed(b, 4, EV_EFI_ACTION, "b", 1);
        data = tcg_log_builder_data(b, &size);
        log = parse_ok(data, size);
        ASSERT_EQ(log->n_events, 5);
        ASSERT_TRUE(log->have_startup_locality);
        ASSERT_EQ(log->startup_locality, 0);
        b = tcg_log_builder_free(b);

        /* StartupLocality: once, before any measurement, on PCR 0, 17 bytes, locality 0, 3 or 4. */
        ASSERT_OK(tcg_log_builder_new(one_bank, 1, &b));
        ASSERT_OK(tcg_log_builder_add_startup_locality(b, 4));
        ASSERT_OK(tcg_log_builder_add_startup_locality(b, 4));
        data = tcg_log_builder_data(b, &size);
        e = parse_expect(data, size, -EBADMSG);
        ASSERT_EQ(e.index, 1);
        ASSERT_NOT_NULL(strstr(e.reason, "second StartupLocality"));
        b = tcg_log_builder_free(b);

        ASSERT_OK(tcg_log_builder_new(one_bank, 1, &b));
        add_hashed(b, 0, EV_S_CRTM_VERSION, "v", 1);
        ASSERT_OK(tcg_log_builder_add_startup_locality(b, 3));
        data = tcg_log_builder_data(b, &size);
        parse_expect(data, size, -EBADMSG);
        b = tcg_log_builder_free(b);

        ASSERT_OK(tcg_log_builder_new(one_bank, 1, &b));
        ASSERT_OK(tcg_log_builder_add_startup_locality(b, 2));
        data = tcg_log_builder_data(b, &size);
        parse_expect(data, size, -EBADMSG);
        b = tcg_log_builder_free(b);

        memcpy(event, locality_signature, 16);
        event[16] = 3;
        event[17] = 0;
        ASSERT_OK(tcg_log_builder_new(one_bank, 1, &b));
        ASSERT_OK(tcg_log_builder_add_digest(b, 0, EV_NO_ACTION, NULL, event, 18));
        data = tcg_log_builder_data(b, &size);
        parse_expect(data, size, -EBADMSG);
        b = tcg_log_builder_free(b);

        ASSERT_OK(tcg_log_builder_new(one_bank, 1, &b));
        ASSERT_OK(tcg_log_builder_add_digest(b, 1, EV_NO_ACTION, NULL, event, 17));
        data = tcg_log_builder_data(b, &size);
        parse_expect(data, size, -EBADMSG);
        b = tcg_log_builder_free(b);

        /* A second Spec ID header, which would change how the rest is read. */
        ASSERT_OK(tcg_log_builder_new(one_bank, 1, &b));
        ASSERT_OK(tcg_log_builder_add_digest(b, 0, EV_NO_ACTION, NULL, "Spec ID Event03\0\0\0\0\0", 20));
        data = tcg_log_builder_data(b, &size);
        e = parse_expect(data, size, -EBADMSG);
        ASSERT_NOT_NULL(strstr(e.reason, "Spec ID"));
}

TEST(event_type_names) {
        ASSERT_STREQ(tcg_event_type_to_string(EV_EFI_ACTION), "EV_EFI_ACTION");
        ASSERT_STREQ(tcg_event_type_to_string(EV_NO_ACTION), "EV_NO_ACTION");
        ASSERT_STREQ(tcg_event_type_to_string(EV_EFI_VARIABLE_AUTHORITY), "EV_EFI_VARIABLE_AUTHORITY");
        ASSERT_NULL(tcg_event_type_to_string(0x8000000FU));
        ASSERT_NULL(tcg_event_type_to_string(0x13U));
}

TEST(error_strings) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        BootError e;

        ASSERT_ERROR(boot_error(&e, -EBADMSG, BOOT_LOG_FIRMWARE, 12, 1604, 4, EV_EFI_ACTION, "why"), EBADMSG);
        a = boot_error_to_string(&e);
        ASSERT_STREQ(a, "firmware log, event 12 at byte 1604 (PCR 4, EV_EFI_ACTION): why");
        ASSERT_ERROR(boot_error(&e, -EBADMSG, BOOT_LOG_USERSPACE, 2, 90, 11, BOOT_ERROR_NONE, "x"), EBADMSG);
        b = boot_error_to_string(&e);
        ASSERT_STREQ(b, "userspace log, record 2 at byte 90 (PCR 11): x");
        ASSERT_ERROR(boot_error(NULL, -E2BIG, BOOT_LOG_FIRMWARE, 0, 0, 0, 0, "nobody reads this"), E2BIG);
        ASSERT_ERROR(boot_error(&e, -EUCLEAN, BOOT_LOG_REPLAY, SIZE_MAX, 0, 7, 0x8000000FU, "y"), EUCLEAN);
        c = boot_error_to_string(&e);
        ASSERT_STREQ(c, "replay (PCR 7, type 0x8000000f): y");
}

/* One event on a SHA-256-only log, parsed. */
static TcgLog *single(uint32_t pcr, uint32_t type, const void *hashed, size_t hashed_size, const void *data,
                      size_t data_size) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = NULL;
        const uint8_t *p;
        size_t size;

        ASSERT_OK(tcg_log_builder_new(one_bank, 1, &b));
        ASSERT_OK(tcg_log_builder_add(b, pcr, type, hashed, hashed_size, data, data_size));
        p = tcg_log_builder_data(b, &size);
        return parse_ok(p, size);
}

static int check_single(uint32_t type, const void *hashed, size_t hashed_size, const void *data,
                        size_t data_size) {
        _cleanup_(tcg_log_freep) TcgLog *log = single(4, type, hashed, hashed_size, data, data_size);
        return tcg_event_check_digest(&log->events[0]);
}

TEST(digest_checks_sample) {
        static const int expected[SAMPLE_EVENTS] = {
                1, 0, 1, 0, 1,                  /* CRTM version, firmware blob, SecureBoot, flags, BootOrder */
                0, 1,                           /* the UKI's Authenticode, "Calling EFI Application" */
                1, 1, 1, 1, 1, 1, 1, 1,         /* separators */
                0, 0, 0, 0,                     /* stub, initrd tag, kernel */
                1, 1,                           /* ExitBootServices */
        };
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = sample_boot(two_banks, 2, true);
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        BootError e;

        data = builder_copy(b, &size);
        log = parse_ok(data, size);
        ASSERT_EQ(tcg_event_check_digest(&log->events[0]), 0);      /* StartupLocality: never extended */
        for (size_t i = 0; i < SAMPLE_EVENTS; i++)
                if (tcg_event_check_digest(&log->events[i + 1]) != expected[i])
                        TEST_FAIL("event %zu: %d, expected %d", i + 1, tcg_event_check_digest(&log->events[i + 1]),
                                  expected[i]);
        ASSERT_OK(tcg_log_check_digests(log, UINT32_MAX, NULL));

        /* "calling EFI Application": refused where PCR 4 is judged, not looked at elsewhere. */
        data[(size_t) (log->events[7].data - log->buffer)] = 'c';
        log = tcg_log_free(log);
        log = parse_ok(data, size);
        ASSERT_ERROR(tcg_event_check_digest(&log->events[7]), EBADMSG);
        ASSERT_ERROR(tcg_log_check_digests(log, UINT32_MAX, &e), EBADMSG);
        ASSERT_EQ(e.index, 7);
        ASSERT_EQ(e.pcr, 4);
        ASSERT_EQ(e.type, EV_EFI_ACTION);
        ASSERT_OK(tcg_log_check_digests(log, UINT32_MAX & ~(UINT32_C(1) << 4), NULL));
}

TEST(digest_checks_types) {
        uint8_t var[128];
        size_t n, value;

        /* Separators: four bytes, 0, 1 or all ones, hashed. */
        ASSERT_EQ(check_single(EV_SEPARATOR, "\0\0\0\0", 4, "\0\0\0\0", 4), 1);
        ASSERT_EQ(check_single(EV_SEPARATOR, "\1\0\0\0", 4, "\1\0\0\0", 4), 1);
        ASSERT_EQ(check_single(EV_SEPARATOR, "\377\377\377\377", 4, "\377\377\377\377", 4), 1);
        ASSERT_ERROR(check_single(EV_SEPARATOR, "\2\0\0\0", 4, "\2\0\0\0", 4), EBADMSG);
        ASSERT_ERROR(check_single(EV_SEPARATOR, "\0\0\0\0\0", 5, "\0\0\0\0\0", 5), EBADMSG);
        ASSERT_ERROR(check_single(EV_SEPARATOR, "\1\0\0\0", 4, "\0\0\0\0", 4), EBADMSG);
        /* Strings and GPT data: the data itself. */
        ASSERT_EQ(check_single(EV_EFI_ACTION, "x", 1, "x", 1), 1);
        ASSERT_ERROR(check_single(EV_EFI_ACTION, "x", 1, "y", 1), EBADMSG);
        ASSERT_EQ(check_single(EV_S_CRTM_VERSION, "1\0", 2, "1\0", 2), 1);
        ASSERT_ERROR(check_single(EV_S_CRTM_VERSION, "1", 1, "1\0", 2), EBADMSG);
        ASSERT_EQ(check_single(EV_EFI_GPT_EVENT, "EFI PART", 8, "EFI PART", 8), 1);
        ASSERT_ERROR(check_single(EV_EFI_GPT_EVENT, "", 0, "EFI PART", 8), EBADMSG);

        /* Variables: the whole UEFI_VARIABLE_DATA, sizes adding up; for EV_EFI_VARIABLE_BOOT the value
         * alone (edk2) or the whole. */
        n = variable_of("db", "certs", 5, var, &value);
        ASSERT_EQ(check_single(EV_EFI_VARIABLE_DRIVER_CONFIG, var, n, var, n), 1);
        ASSERT_EQ(check_single(EV_EFI_VARIABLE_AUTHORITY, var, n, var, n), 1);
        ASSERT_EQ(check_single(EV_EFI_VARIABLE_BOOT2, var, n, var, n), 1);
        ASSERT_ERROR(check_single(EV_EFI_VARIABLE_BOOT2, var + value, n - value, var, n), EBADMSG);
        ASSERT_EQ(check_single(EV_EFI_VARIABLE_BOOT, var + value, n - value, var, n), 1);
        ASSERT_EQ(check_single(EV_EFI_VARIABLE_BOOT, var, n, var, n), 1);
        ASSERT_ERROR(check_single(EV_EFI_VARIABLE_BOOT, "other", 5, var, n), EBADMSG);
        /* The data's sizes do not add up: one byte missing, one too many, a name length near 2^64. */
        ASSERT_ERROR(check_single(EV_EFI_VARIABLE_DRIVER_CONFIG, var, n - 1, var, n - 1), EBADMSG);
        var[n] = 0;
        ASSERT_ERROR(check_single(EV_EFI_VARIABLE_BOOT, var + value, n + 1 - value, var, n + 1), EBADMSG);
        memset(var + 16, 0xff, 8);
        ASSERT_ERROR(check_single(EV_EFI_VARIABLE_AUTHORITY, var, n, var, n), EBADMSG);
        ASSERT_ERROR(check_single(EV_EFI_VARIABLE_DRIVER_CONFIG, var, 31, var, 31), EBADMSG);

        /* Not tied to the data: nothing to check, whatever the digest. */
        ASSERT_EQ(check_single(EV_EFI_BOOT_SERVICES_APPLICATION, "an image", 8, "load event", 10), 0);
        ASSERT_EQ(check_single(EV_EFI_HANDOFF_TABLES, "smbios", 6, "pointers", 8), 0);
        ASSERT_EQ(check_single(EV_PLATFORM_CONFIG_FLAGS, "a", 1, "b", 1), 0);
        ASSERT_EQ(check_single(EV_IPL, "a", 1, "b", 1), 0);
        ASSERT_EQ(check_single(0x8000000FU, "a", 1, "b", 1), 0);
}

/* The fuzz seeds (test/boot/make-fuzz-seeds.sh) are well-formed logs whose tied digests hold: mutations
 * start from the parser's deepest paths. */
TEST(fuzz_seeds) {
        static const char *const seeds[] = { "ovmf-sha256", "two-banks", "four-banks" };

        for (size_t i = 0; i < ELEMENTSOF(seeds); i++) {
                _cleanup_(tcg_log_freep) TcgLog *log = NULL;
                _cleanup_free_ char *data = NULL;
                char path[256];
                size_t size;

                snprintf(path, sizeof(path), "test/fuzz/corpus/tcg-eventlog/%s", seeds[i]);
                data = fixture(path, &size);
                ASSERT_TRUE(size <= 1024);
                log = parse_ok((const uint8_t *) data, size);
                ASSERT_TRUE(log->n_events >= 2);
                ASSERT_OK(tcg_log_check_digests(log, UINT32_MAX, NULL));
        }
}

DEFINE_TEST_MAIN
