/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd's userspace measurement log: a log written by systemd-pcrextend 257.13 itself
 * (test/boot/fixtures/pcrextend-257, test/boot/capture-pcrextend.sh), records written here in the same
 * shape, and every way a record can be malformed. */
#include <stdio.h>

#include "test-boot-util.h"
#include "userspace-log.h"

#define BOOT_ID "b69fe47cc0ba4583858a87f02000875a"
#define PCREXTEND_LOG "test/boot/fixtures/pcrextend-257/tpm2-measure.log"

static char *hex_sha256(const char *s) {
        uint8_t d[32];

        sha256_of(s, strlen(s), d);
        return hexmem(d, 32);
}

/* A record as systemd 257 writes it (RS, JSON, LF), with the digests of string and the given content. */
static char *record_with(unsigned pcr, const char *digests, const char *content) {
        char *s;

        if (asprintf(&s, "\x1e{\"pcr\":%u,\"digests\":[%s],\"content_type\":\"systemd\",\"content\":{%s}}\n", pcr,
                     digests, content) < 0)
                TEST_FAIL("out of memory");
        return s;
}

static char *record(unsigned pcr, const char *string, const char *type) {
        _cleanup_free_ char *h = hex_sha256(string), *digests = NULL, *content = NULL;

        if (asprintf(&digests,
                     "{\"hashAlg\":\"sha1\",\"digest\":\"%040d\"},{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}", 0,
                     h) < 0 ||
            asprintf(&content, "\"string\":\"%s\",\"bootId\":\"" BOOT_ID "\",\"timestamp\":1,\"eventType\":\"%s\"",
                     string, type) < 0)
                TEST_FAIL("out of memory");
        return record_with(pcr, digests, content);
}

static BootError parse_expect(const char *text, size_t size, int error) {
        _cleanup_(userspace_log_freep) UserspaceLog *log = NULL;
        BootError e = {};
        int r = userspace_log_parse(text, size, &log, &e);

        if (r != error)
                TEST_FAIL("userspace_log_parse(\"%.*s\") returned %d (%s), expected %d", (int) MIN(size, 200U),
                          text, r, e.reason ?: "-", error);
        if (r < 0 && (!e.reason || !e.log))
                TEST_FAIL("no reason for %d", r);
        return e;
}

static void expect_str(const char *text, int error) {
        parse_expect(text, strlen(text), error);
}

TEST(pcrextend_257) {
        _cleanup_(userspace_log_freep) UserspaceLog *log = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size;

        text = fixture(PCREXTEND_LOG, &size);
        ASSERT_OK(userspace_log_parse(text, size, &log, NULL));
        ASSERT_EQ(log->n_records, 3);
        ASSERT_EQ(log->records[0].pcr, 11);
        ASSERT_STREQ(log->records[0].string, "sysinit");
        ASSERT_EQ(log->records[0].type, USERSPACE_EVENT_PHASE);
        ASSERT_STREQ(log->records[0].event_type, "phase");
        ASSERT_EQ(log->records[0].offset, 0);
        ASSERT_STREQ(log->records[1].string, "ready");
        ASSERT_EQ(log->records[2].pcr, 15);
        ASSERT_EQ(log->records[2].type, USERSPACE_EVENT_MACHINE_ID);
        ASSERT_STREQ(log->records[2].string, "machine-id:eb8fed9d17b74a718fffe3f1d4fc8a34");
        /* systemd measured the words themselves. */
        for (size_t i = 0; i < log->n_records; i++)
                ASSERT_EQ(userspace_record_check_digest(&log->records[i]), 1);
        ASSERT_OK(userspace_log_check_digests(log, UINT32_MAX, NULL));
}

TEST(pcrextend_257_truncated) {
        _cleanup_free_ char *text = NULL;
        size_t size, parsed = 0;

        text = fixture(PCREXTEND_LOG, &size);
        /* Only a cut right before an RS parses (fewer records); any other cut is refused. */
        for (size_t len = 0; len < size; len++) {
                _cleanup_free_ char *copy = malloc(len + 1);
                _cleanup_(userspace_log_freep) UserspaceLog *log = NULL;
                int r;

                ASSERT_NOT_NULL(copy);
                memcpy(copy, text, len);
                r = userspace_log_parse(copy, len, &log, NULL);
                if (r >= 0) {
                        ASSERT_TRUE(len == 0 || text[len] == 0x1e);
                        parsed++;
                } else
                        ASSERT_EQ(r, -EBADMSG);
        }
        ASSERT_EQ(parsed, 3);
}

TEST(empty) {
        _cleanup_(userspace_log_freep) UserspaceLog *log = NULL;

        ASSERT_OK(userspace_log_parse("", 0, &log, NULL));
        ASSERT_EQ(log->n_records, 0);
}

TEST(framing) {
        _cleanup_free_ char *r = record(11, "sysinit", "phase");
        _cleanup_free_ char *two = NULL;
        size_t n = strlen(r);
        BootError e;

        ASSERT_TRUE(asprintf(&two, "%s%s", r, r) > 0);
        parse_expect(two, strlen(two), 0);
        /* Without the leading RS, without the final LF, with the LF before the RS, empty records. */
        parse_expect(r + 1, n - 1, -EBADMSG);
        parse_expect(r, n - 1, -EBADMSG);
        expect_str("\x1e\n", -EBADMSG);
        expect_str("\x1e", -EBADMSG);
        expect_str("\x1e\x1e", -EBADMSG);
        expect_str("\n", -EBADMSG);
        /* A NUL inside. */
        r[10] = '\0';
        e = parse_expect(r, n, -EBADMSG);
        ASSERT_NOT_NULL(strstr(e.reason, "NUL"));
        r[10] = ':';
        /* Text that is not one JSON object. */
        expect_str("\x1e[]\n", -EBADMSG);
        expect_str("\x1e{}{}\n", -EBADMSG);
        expect_str("\x1e\"pcr\"\n", -EBADMSG);
        /* The second record is cut: its index and offset are named. */
        two[strlen(two) - 1] = ' ';
        e = parse_expect(two, strlen(two), -EBADMSG);
        ASSERT_EQ(e.index, 1);
        ASSERT_EQ(e.offset, n);
}

TEST(fields) {
        _cleanup_free_ char *ok = NULL, *h = hex_sha256("sysinit");
        static const char *const bad[] = {
                /* missing fields */
                "\x1e{\"digests\":[],\"content_type\":\"systemd\",\"content\":{}}\n",
                "\x1e{\"pcr\":11,\"content_type\":\"systemd\",\"content\":{}}\n",
                /* NvPCR records of systemd 258 */
                "\x1e{\"nv_index\":4,\"digests\":[],\"content_type\":\"systemd\",\"content\":{}}\n",
        };
        static const char *const pcrs[] = { "24", "\"11\"", "11.0", "1e1", "-1", "null", "4294967307" };
        static const char *const contents[] = {
                "\"string\":\"sysinit\",\"extra\":1",
                "\"string\":\"sysinit\",\"string\":\"sysinit\"",
                "\"string\":7",
                "\"string\":null",
                "\"bootId\":\"B69FE47CC0BA4583858A87F02000875A\"",
                "\"bootId\":\"b69fe47c-c0ba-4583-858a-87f02000875a\"",
                "\"timestamp\":-1",
                "\"timestamp\":\"1\"",
                "\"eventType\":[]",
        };
        char buf[512];

        ok = record(11, "sysinit", "phase");
        expect_str(ok, 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                expect_str(bad[i], -EBADMSG);
        for (size_t i = 0; i < ELEMENTSOF(pcrs); i++) {
                snprintf(buf, sizeof(buf),
                         "\x1e{\"pcr\":%s,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}],"
                         "\"content_type\":\"systemd\",\"content\":{}}\n", pcrs[i], h);
                expect_str(buf, -EBADMSG);
        }
        for (size_t i = 0; i < ELEMENTSOF(contents); i++) {
                snprintf(buf, sizeof(buf),
                         "\x1e{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}],"
                         "\"content_type\":\"systemd\",\"content\":{%s}}\n", h, contents[i]);
                expect_str(buf, -EBADMSG);
        }
        /* An unknown top-level field, another content type, content that is not an object. */
        snprintf(buf, sizeof(buf),
                 "\x1e{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}],\"recnum\":1,"
                 "\"content_type\":\"systemd\",\"content\":{}}\n", h);
        expect_str(buf, -EBADMSG);
        snprintf(buf, sizeof(buf),
                 "\x1e{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}],"
                 "\"content_type\":\"pcclient_std\",\"content\":{}}\n", h);
        expect_str(buf, -EBADMSG);
        snprintf(buf, sizeof(buf),
                 "\x1e{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}],"
                 "\"content_type\":\"systemd\",\"content\":\"sysinit\"}\n", h);
        expect_str(buf, -EBADMSG);
        /* The minimum: a PCR, a SHA-256 digest, systemd's content type, an empty content. */
        snprintf(buf, sizeof(buf),
                 "\x1e{\"pcr\":0,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}],"
                 "\"content_type\":\"systemd\",\"content\":{}}\n", h);
        expect_str(buf, 0);
}

/* systemd writes strings as UTF-8, unescaped (a file system's label, say): taken as the same bytes, and the digest
 * checked over them; malformed UTF-8, and single-quoted strings, refused. */
TEST(utf8) {
        _cleanup_(userspace_log_freep) UserspaceLog *log = NULL;
        _cleanup_free_ char *ok = record(9, "file-system:ext4:caf\xc3\xa9 \xf0\x9f\x94\x92", "filesystem");
        _cleanup_free_ char *bad = record(9, "file-system:ext4:caf\xc3", "filesystem");
        _cleanup_free_ char *quoted = strdup(ok);
        char *k;

        ASSERT_OK(userspace_log_parse(ok, strlen(ok), &log, NULL));
        ASSERT_STREQ(log->records[0].string, "file-system:ext4:caf\xc3\xa9 \xf0\x9f\x94\x92");
        ASSERT_EQ(userspace_record_check_digest(&log->records[0]), 1);
        expect_str(bad, -EBADMSG);
        ASSERT_NOT_NULL(quoted);
        k = strstr(quoted, "\"content_type\"");
        k[0] = k[strlen("\"content_type")] = '\'';   /* 'content_type' */
        expect_str(quoted, -EBADMSG);
}

TEST(digests) {
        _cleanup_free_ char *h = hex_sha256("sysinit");
        char d[700], buf[1024];
        static const char *const sha1 =
                "{\"hashAlg\":\"sha1\",\"digest\":\"0000000000000000000000000000000000000000\"}";

        struct {
                const char *digests;
                int error;
        } cases[] = {
                { "", -EBADMSG },
                { sha1, -EOPNOTSUPP },                                           /* no SHA-256 */
                { "{\"hashAlg\":\"sha256\"}", -EBADMSG },
                { "{\"hashAlg\":\"sm3_256\",\"digest\":\"00\"}", -EBADMSG },     /* a bank systemd does not name */
                { "{\"hashAlg\":\"sha256\",\"digest\":\"00\"}", -EBADMSG },      /* the wrong size */
                { "{\"hashAlg\":\"sha256\",\"digest\":\"zz\"}", -EBADMSG },
                { "{\"hashAlg\":\"sha256\",\"digest\":1}", -EBADMSG },
                { "{\"hashAlg\":\"sha256\",\"digest\":\"%s\",\"x\":1}", -EBADMSG },
                { "{\"hashAlg\":\"sha256\",\"digest\":\"%s\"},{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}",
                  -EBADMSG },
                { "{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}", 0 },
                { "{\"hashAlg\":\"sha256\",\"digest\":\"%s\"},%s", 0 },
                { "{\"hashAlg\":\"SHA256\",\"digest\":\"%s\"}", -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *r = NULL;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                snprintf(d, sizeof(d), cases[i].digests, h, strstr(cases[i].digests, "},%s") ? sha1 : h);
#pragma GCC diagnostic pop
                r = record_with(11, d, "");
                snprintf(buf, sizeof(buf), "%s", r);
                expect_str(buf, cases[i].error);
        }
}

TEST(boot_ids_and_limits) {
        _cleanup_free_ char *a = record(11, "sysinit", "phase"), *b = NULL, *both = NULL, *big = NULL;
        _cleanup_free_ char *many = NULL, *long_string = NULL, *content = NULL;
        BootError e;
        size_t n;

        /* Two boots in one log. */
        b = strdup(a);
        ASSERT_NOT_NULL(b);
        *strstr(b, BOOT_ID) = 'c';
        ASSERT_TRUE(asprintf(&both, "%s%s", a, b) > 0);
        e = parse_expect(both, strlen(both), -EBADMSG);
        ASSERT_EQ(e.index, 1);
        ASSERT_EQ(e.pcr, 11);

        /* A string past the limit; a record past the limit; more records than the limit; the log. */
        long_string = malloc(USERSPACE_STRING_MAX + 2);
        ASSERT_NOT_NULL(long_string);
        memset(long_string, 'a', USERSPACE_STRING_MAX + 1);
        long_string[USERSPACE_STRING_MAX + 1] = '\0';
        big = record(11, long_string, "phase");
        parse_expect(big, strlen(big), -E2BIG);
        free(big);
        ASSERT_TRUE(asprintf(&content, "\"string\":\"x\",\"eventType\":\"%*s\"", (int) USERSPACE_RECORD_SIZE_MAX,
                             "phase") > 0);
        big = record_with(11, "{\"hashAlg\":\"sha256\",\"digest\":\"00\"}", content);
        parse_expect(big, strlen(big), -E2BIG);

        n = strlen(a);
        ASSERT_TRUE(n * (USERSPACE_RECORDS_MAX + 1) < USERSPACE_LOG_SIZE_MAX);
        many = calloc(1, USERSPACE_LOG_SIZE_MAX + 1);
        ASSERT_NOT_NULL(many);
        for (size_t i = 0; i <= USERSPACE_RECORDS_MAX; i++)
                memcpy(many + i * n, a, n);
        parse_expect(many, n * USERSPACE_RECORDS_MAX, 0);
        e = parse_expect(many, n * (USERSPACE_RECORDS_MAX + 1), -E2BIG);
        ASSERT_EQ(e.index, USERSPACE_RECORDS_MAX);
        parse_expect(many, USERSPACE_LOG_SIZE_MAX + 1, -E2BIG);
}

TEST(digest_checks) {
        _cleanup_(userspace_log_freep) UserspaceLog *log = NULL;
        _cleanup_free_ char *text = NULL, *wrong = NULL, *volume = NULL, *unknown = NULL, *no_string = NULL;
        _cleanup_free_ char *h = hex_sha256("sysinit");
        char digests[256];
        BootError e;

        /* A phase record whose digest is another word's: parses, fails the check. */
        wrong = record(11, "sysinit", "phase");
        memcpy(strstr(wrong, "\"string\":\"sysinit\"") + 10, "sysexit", 7);
        snprintf(digests, sizeof(digests), "{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}", h);
        volume = record_with(15, digests, "\"string\":\"cryptsetup:root:x\",\"eventType\":\"volume-key\"");
        unknown = record_with(15, digests, "\"string\":\"other\",\"eventType\":\"product-id\"");
        no_string = record_with(11, digests, "\"eventType\":\"phase\"");
        ASSERT_TRUE(asprintf(&text, "%s%s%s%s", volume, unknown, wrong, no_string) > 0);
        ASSERT_OK(userspace_log_parse(text, strlen(text), &log, NULL));
        ASSERT_EQ(log->n_records, 4);
        ASSERT_EQ(log->records[0].type, USERSPACE_EVENT_VOLUME_KEY);
        ASSERT_EQ(userspace_record_check_digest(&log->records[0]), 0);     /* an HMAC of the volume key */
        ASSERT_EQ(log->records[1].type, _USERSPACE_EVENT_TYPE_INVALID);
        ASSERT_STREQ(log->records[1].event_type, "product-id");
        ASSERT_EQ(userspace_record_check_digest(&log->records[1]), 0);
        ASSERT_ERROR(userspace_record_check_digest(&log->records[2]), EBADMSG);
        ASSERT_ERROR(userspace_record_check_digest(&log->records[3]), EBADMSG);
        ASSERT_ERROR(userspace_log_check_digests(log, UINT32_MAX, &e), EBADMSG);
        ASSERT_EQ(e.index, 2);
        ASSERT_EQ(e.pcr, 11);
        ASSERT_EQ(e.offset, strlen(volume) + strlen(unknown));
        ASSERT_OK(userspace_log_check_digests(log, UINT32_C(1) << 15, NULL));
}

TEST(event_type_names) {
        ASSERT_STREQ(userspace_event_type_to_string(USERSPACE_EVENT_MACHINE_ID), "machine-id");
        ASSERT_EQ(userspace_event_type_from_string("filesystem"), USERSPACE_EVENT_FILESYSTEM);
        ASSERT_EQ(userspace_event_type_from_string("file-system"), _USERSPACE_EVENT_TYPE_INVALID);
        ASSERT_EQ(userspace_event_type_from_string(NULL), _USERSPACE_EVENT_TYPE_INVALID);
        ASSERT_NULL(userspace_event_type_to_string(_USERSPACE_EVENT_TYPE_MAX));
}

/* The fuzz seeds (test/boot/make-fuzz-seeds.sh) parse and their checkable digests hold. */
TEST(fuzz_seeds) {
        _cleanup_(userspace_log_freep) UserspaceLog *log = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size;

        text = fixture("test/fuzz/corpus/userspace-log/shapes", &size);
        ASSERT_OK(userspace_log_parse(text, size, &log, NULL));
        ASSERT_EQ(log->n_records, 3);
        ASSERT_EQ(log->records[1].type, USERSPACE_EVENT_FILESYSTEM);
        ASSERT_EQ(userspace_record_check_digest(&log->records[1]), 1);
        ASSERT_EQ(userspace_record_check_digest(&log->records[2]), 0);
        ASSERT_OK(userspace_log_check_digests(log, UINT32_MAX, NULL));
}

DEFINE_TEST_MAIN
