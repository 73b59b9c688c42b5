/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image reference: PCR values against hand-computed extends, the version 2 round trip, version 1 as
 * patela-pcrlock wrote it before, and every kind of malformed reference refused with its problem named. */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image-reference.h"
#include "tests.h"

/* What patela-pcrlock makes of a UKI: its Authenticode digest, the stub's PCR 11 pairs, the kernel's
 * Authenticode digest, the command line and the initrd on PCR 9. */
static void sample(ImageMeasurements *m) {
        static const struct {
                uint32_t pcr;
                const char *what;
        } r[] = {
                { 4, "authenticode UKI" }, { 11, ".linux" },  { 11, ".linux" }, { 11, ".osrel" },
                { 11, ".osrel" },          { 4, "authenticode .linux" }, { 9, "cmdline" }, { 9, "initrd" },
        };

        *m = (ImageMeasurements) {};
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                ImageRecord *rec = &m->records[m->n++];

                rec->pcr = r[i].pcr;
                memset(rec->sha256, 0x11 * (int) (i + 1), 32);
                snprintf(rec->what, sizeof(rec->what), "%s", r[i].what);
        }
}

static void sample_reference(ImageReference *ref) {
        ImageMeasurements m;
        OsRelease os = {};
        uint8_t uki[32];

        sample(&m);
        memset(uki, 0xab, 32);
        snprintf(os.values[OS_RELEASE_ID], OS_RELEASE_VALUE_MAX, "debian");
        snprintf(os.values[OS_RELEASE_VERSION_ID], OS_RELEASE_VALUE_MAX, "13");
        snprintf(os.values[OS_RELEASE_IMAGE_ID], OS_RELEASE_VALUE_MAX, "patela");
        ASSERT_OK(image_reference_init(ref, &m, uki, 41234567, &os));
}

static void hex(const uint8_t d[static 32], char out[static 65]) {
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

TEST(pcr_values_known_answer) {
        uint8_t buf[64], expect[32], d[32], phases[_IMAGE_PHASE_MAX][32];
        ImageReference ref;

        sample_reference(&ref);
        /* PCR 9 = SHA-256(SHA-256(0³² || cmdline) || initrd), by hand. */
        memset(buf, 0, 32);
        memset(buf + 32, 0x77, 32);
        SHA256(buf, 64, expect);
        memcpy(buf, expect, 32);
        memset(buf + 32, 0x88, 32);
        SHA256(buf, 64, expect);
        ASSERT_MEMEQ(ref.pcr9, expect, 32);

        /* sysinit = SHA-256(boot || SHA-256("sysinit")) */
        image_reference_pcr11_phases(&ref.measurements, phases);
        ASSERT_MEMEQ(phases[IMAGE_PHASE_BOOT], ref.pcr11[IMAGE_PHASE_BOOT], 32);
        memcpy(buf, phases[IMAGE_PHASE_BOOT], 32);
        SHA256((const uint8_t *) "sysinit", 7, d);
        memcpy(buf + 32, d, 32);
        SHA256(buf, 64, expect);
        ASSERT_MEMEQ(ref.pcr11[IMAGE_PHASE_SYSINIT], expect, 32);

        /* The Authenticode digests are the PCR 4 records, in order. */
        memset(expect, 0x11, 32);
        ASSERT_MEMEQ(ref.uki_authenticode, expect, 32);
        memset(expect, 0x66, 32);
        ASSERT_TRUE(ref.have_kernel_authenticode);
        ASSERT_MEMEQ(ref.kernel_authenticode, expect, 32);
        ASSERT_STREQ(image_phase_to_string(IMAGE_PHASE_READY), "ready");
        ASSERT_NULL(image_phase_to_string(_IMAGE_PHASE_MAX));
}

TEST(init_needs_one_or_two_pcr4_records) {
        ImageMeasurements m;
        ImageReference ref;
        uint8_t uki[32] = {};

        sample(&m);
        m.records[0].pcr = 11;
        m.records[5].pcr = 11;
        ASSERT_ERROR(image_reference_init(&ref, &m, uki, 1, NULL), EBADMSG);
        sample(&m);
        m.records[1].pcr = 4;
        ASSERT_ERROR(image_reference_init(&ref, &m, uki, 1, NULL), EBADMSG);
}

TEST(round_trip) {
        _cleanup_free_ char *text = NULL, *again = NULL;
        ImageReference ref, back;
        BootError e = {};

        sample_reference(&ref);
        ASSERT_OK(image_reference_format(&ref, &text));
        ASSERT_OK(image_reference_parse(text, strlen(text), &back, &e));
        ASSERT_EQ(back.version, 2);
        ASSERT_MEMEQ(back.uki_sha256, ref.uki_sha256, 32);
        ASSERT_EQ(back.uki_size, 41234567);
        ASSERT_MEMEQ(back.uki_authenticode, ref.uki_authenticode, 32);
        ASSERT_MEMEQ(back.kernel_authenticode, ref.kernel_authenticode, 32);
        ASSERT_MEMEQ(back.pcr9, ref.pcr9, 32);
        ASSERT_MEMEQ(back.pcr11, ref.pcr11, sizeof(ref.pcr11));
        ASSERT_STREQ(back.os_release.values[OS_RELEASE_IMAGE_ID], "patela");
        ASSERT_STREQ(back.os_release.values[OS_RELEASE_IMAGE_VERSION], "");
        ASSERT_EQ(back.measurements.n, ref.measurements.n);
        ASSERT_STREQ(back.measurements.records[5].what, "authenticode .linux");
        ASSERT_OK(image_reference_format(&back, &again));
        ASSERT_STREQ(text, again);
        /* The layout others read with jq (docs/image.md). */
        ASSERT_NOT_NULL(strstr(text, "\"osRelease\" : {\n\t\t\t\"ID\" : \"debian\""));
        ASSERT_NOT_NULL(strstr(text, "\"kernelAuthenticode\" : \"6666"));
}

/* A version 1 reference as patela-pcrlock wrote it before version 2 (uki without authenticode, size
 * optional, pcrs optional), and as the tpm test makes one with jq. */
TEST(version1_still_read) {
        char text[4096], records[2048] = "", h_uki[65], h9[65], h11[_IMAGE_PHASE_MAX][65];
        ImageReference ref, back;
        BootError e = {};
        size_t n = 0;

        sample_reference(&ref);
        for (size_t i = 0; i < ref.measurements.n; i++) {
                char h[65];

                hex(ref.measurements.records[i].sha256, h);
                n += (size_t) snprintf(records + n, sizeof(records) - n, "%s{\"pcr\": %u, \"event\": \"%s\", \"sha256\": \"%s\"}",
                                       i > 0 ? ", " : "", (unsigned) ref.measurements.records[i].pcr,
                                       ref.measurements.records[i].what, h);
        }
        hex(ref.uki_sha256, h_uki);
        hex(ref.pcr9, h9);
        for (ImagePhase p = 0; p < _IMAGE_PHASE_MAX; p++)
                hex(ref.pcr11[p], h11[p]);
        snprintf(text, sizeof(text),
                 "{\"uki\": {\"sha256\": \"%s\", \"size\": 1234}, \"records\": [%s], "
                 "\"pcrs\": {\"9\": \"%s\", \"11\": {\"boot\": \"%s\", \"sysinit\": \"%s\", \"ready\": \"%s\"}}}",
                 h_uki, records, h9, h11[0], h11[1], h11[2]);
        ASSERT_OK(image_reference_parse(text, strlen(text), &back, &e));
        ASSERT_EQ(back.version, 1);
        ASSERT_EQ(back.uki_size, 1234);
        ASSERT_MEMEQ(back.uki_authenticode, ref.uki_authenticode, 32);
        ASSERT_MEMEQ(back.kernel_authenticode, ref.kernel_authenticode, 32);
        ASSERT_MEMEQ(back.pcr11, ref.pcr11, sizeof(ref.pcr11));
        ASSERT_STREQ(back.os_release.values[OS_RELEASE_ID], "");

        /* Without size and pcrs, one record (test/tpm/test-patela-pcrlock.sh). */
        snprintf(text, sizeof(text), "{\"uki\": {\"sha256\": \"%s\"}, \"records\": [{\"pcr\": 4, \"event\": "
                                     "\"authenticode UKI\", \"sha256\": \"%s\"}]}", h_uki, h_uki);
        ASSERT_OK(image_reference_parse(text, strlen(text), &back, &e));
        ASSERT_EQ(back.version, 1);
        ASSERT_EQ(back.uki_size, 0);
        ASSERT_FALSE(back.have_kernel_authenticode);
        ASSERT_MEMEQ(back.uki_authenticode, ref.uki_sha256, 32);
        /* Formatted, it stays version 1, without a size, and reads back the same (fuzz-image-reference found it
         * formatted as version 2 with "size": 0, which does not parse). */
        {
                _cleanup_free_ char *formatted = NULL;
                ImageReference again;

                ASSERT_OK(image_reference_format(&back, &formatted));
                ASSERT_NULL(strstr(formatted, "\"size\""));
                ASSERT_NULL(strstr(formatted, "\"authenticode\""));
                ASSERT_OK(image_reference_parse(formatted, strlen(formatted), &again, &e));
                ASSERT_EQ(again.version, 1);
                ASSERT_EQ(again.uki_size, 0);
                ASSERT_MEMEQ(again.uki_authenticode, back.uki_authenticode, 32);
                ASSERT_MEMEQ(again.pcr9, back.pcr9, 32);
                ASSERT_MEMEQ(again.pcr11, back.pcr11, sizeof(back.pcr11));
        }

        /* A version 1 reference whose pcrs disagree with its records. */
        snprintf(text, sizeof(text), "{\"uki\": {\"sha256\": \"%s\"}, \"records\": [{\"pcr\": 4, \"event\": "
                                     "\"x\", \"sha256\": \"%s\"}], \"pcrs\": {\"9\": \"%s\", \"11\": {\"boot\": \"%s\", "
                                     "\"sysinit\": \"%s\", \"ready\": \"%s\"}}}", h_uki, h_uki, h_uki, h11[0], h11[1], h11[2]);
        ASSERT_ERROR(image_reference_parse(text, strlen(text), &back, &e), EBADMSG);
        ASSERT_STREQ(e.reason, "\"pcrs.9\" is not what the records give");
        ASSERT_EQ(e.pcr, 9);
}

/* Replaces the first occurrence of from in text by to. */
static char *edit(const char *text, const char *from, const char *to) {
        const char *at = strstr(text, from);
        char *s;

        if (!at)
                return NULL;
        if (asprintf(&s, "%.*s%s%s", (int) (at - text), text, to, at + strlen(from)) < 0)
                return NULL;
        return s;
}

TEST(rejects) {
        static const struct {
                const char *from, *to, *problem;
        } edits[] = {
                { "{", "[", "not JSON" },
                { "\"records\"", "\"x\" : 1, \"records\"", "not an object of \"uki\", \"records\" and \"pcrs\"" },
                { "\"records\"", "\"uki\" : {}, \"records\"", "not an object of \"uki\", \"records\" and \"pcrs\"" },
                { "\"size\" : 41234567", "\"size\" : 41234567.0", "\"uki.size\" is missing or not 1 B-1 GiB" },
                { "\"size\" : 41234567", "\"size\" : 0", "\"uki.size\" is missing or not 1 B-1 GiB" },
                { "\"size\" : 41234567,", "", "\"uki.size\" is missing or not 1 B-1 GiB" },
                { "\"sha256\" : \"abab", "\"sha256\" : \"ABAB", "\"uki.sha256\" is not 64 lower-case hex digits" },
                { "\"authenticode\" : \"1111", "\"authenticode\" : \"2222",
                  "\"uki.authenticode\" is not the first PCR 4 record" },
                { "\"kernelAuthenticode\" : \"6666", "\"kernelAuthenticode\" : \"7777",
                  "\"uki.kernelAuthenticode\" is not the second PCR 4 record" },
                { "\"ID\" : \"debian\"", "\"ID\" : \"deb ian\"",
                  "an \"uki.osRelease\" value is not 1-63 of [A-Za-z0-9._~+-]" },
                { "\"ID\" : \"debian\"", "\"NAME\" : \"debian\"",
                  "\"uki.osRelease\" has a key other than ID, VERSION_ID, IMAGE_ID, IMAGE_VERSION, BUILD_ID" },
                { "\"ID\" : \"debian\"", "\"ID\" : \"debian\", \"ID\" : \"evil\"", "\"uki.osRelease\" has a key twice" },
                { "\"pcr\" : 11", "\"pcr\" : 5", "a record's \"pcr\" is not 4, 9 or 11" },
                { "\"pcr\" : 11", "\"pcr\" : 11.0", "a record's \"pcr\" is not 4, 9 or 11" },
                { "\"pcr\" : 11", "\"pcr\" : 11, \"pcr\" : 11", "a record is not {\"pcr\", \"event\", \"sha256\"}" },
                { "\"pcr\" : 11", "\"pcr\" : 11, \"x\" : 1", "a record is not {\"pcr\", \"event\", \"sha256\"}" },
                { "\"event\" : \".linux\"", "\"event\" : \"\\u001b[31m\"",
                  "a record's \"event\" is not a short printable string" },
                { "\"pcr\" : 11", "\"pcr\" : 4", "more than two PCR 4 records (a UKI and its kernel)" },
                { "\"sha256\" : \"3333", "\"sha256\" : \"4333", "\"pcrs.11\" is not what the records give" },
                { "\"sysinit\"", "\"sysInit\"", "\"pcrs.11\" is not {\"boot\", \"sysinit\", \"ready\"}" },
                { "\"pcrs\"", "\"pcrs\" : {}, \"x\"", "not an object of \"uki\", \"records\" and \"pcrs\"" },
                { "\"authenticode\" : \"1111111111111111111111111111111111111111111111111111111111111111\",", "",
                  "\"uki.authenticode\" is missing" },
        };
        _cleanup_free_ char *text = NULL;
        ImageReference ref;

        sample_reference(&ref);
        ASSERT_OK(image_reference_format(&ref, &text));
        for (size_t i = 0; i < ELEMENTSOF(edits); i++) {
                _cleanup_free_ char *bad = edit(text, edits[i].from, edits[i].to);
                BootError e = {};

                if (!bad)
                        TEST_FAIL("edit %zu: '%s' not in the sample", i, edits[i].from);
                ASSERT_ERROR(image_reference_parse(bad, strlen(bad), &ref, &e), EBADMSG);
                if (!e.reason || !streq(e.reason, edits[i].problem) || !streq(e.log, BOOT_LOG_REFERENCE))
                        TEST_FAIL("edit %zu (%s → %s): problem '%s', expected '%s'", i, edits[i].from, edits[i].to,
                                  e.reason ?: "(null)", edits[i].problem);
        }
}

TEST(rejects_by_size) {
        _cleanup_free_ char *text = NULL, *big = NULL;
        ImageMeasurements m = {};
        ImageReference ref;
        BootError e = {};
        char records[8192] = "";
        size_t n = 0;

        /* A NUL inside, and a text larger than the limit. */
        sample_reference(&ref);
        ASSERT_OK(image_reference_format(&ref, &text));
        /* The size is the text's: nothing past it is read. */
        ASSERT_OK(image_reference_parse(text, strlen(text) - 1, &ref, &e));
        ASSERT_ERROR(image_reference_parse(text, strlen(text) - 2, &ref, &e), EBADMSG);
        ASSERT_STREQ(e.reason, "not JSON");
        text[10] = '\0';
        ASSERT_ERROR(image_reference_parse(text, strlen(text + 11) + 11, &ref, &e), EBADMSG);
        ASSERT_STREQ(e.reason, "a NUL byte in the text");
        big = malloc(IMAGE_REFERENCE_SIZE_MAX + 2);
        ASSERT_NOT_NULL(big);
        memset(big, ' ', IMAGE_REFERENCE_SIZE_MAX + 1);
        big[IMAGE_REFERENCE_SIZE_MAX + 1] = '\0';
        ASSERT_ERROR(image_reference_parse(big, IMAGE_REFERENCE_SIZE_MAX + 1, &ref, &e), E2BIG);

        /* 65 records */
        for (unsigned i = 0; i <= IMAGE_RECORDS_MAX; i++)
                n += (size_t) snprintf(records + n, sizeof(records) - n, "%s{\"pcr\":4,\"event\":\"x\",\"sha256\":\"%064x\"}",
                                       i > 0 ? "," : "", i);
        free(text);
        ASSERT_TRUE(asprintf(&text, "{\"uki\":{\"sha256\":\"%064x\"},\"records\":[%s]}", 1, records) > 0);
        ASSERT_ERROR(image_reference_parse(text, strlen(text), &ref, &e), E2BIG);
        (void) m;
}

DEFINE_TEST_MAIN
