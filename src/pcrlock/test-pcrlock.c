/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of patela-pcrlock's parsers and predictions: the firmware event log, PE/Authenticode, the
 * reference JSON, the .pcrlock component. The booted image checks the predictions against a real
 * firmware, stub and kernel (test/vm). */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "pcrlock-component.h"
#include "pcrlock-eventlog.h"
#include "pcrlock-image.h"
#include "pcrlock-pe.h"
#include "pcrlock-reference.h"
#include "tests.h"

/* ---- event log ------------------------------------------------------------------------------------------ */

typedef struct Buf {
        uint8_t data[4096];
        size_t n;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
        memcpy(b->data + b->n, p, n);
        b->n += n;
}
static void put32(Buf *b, uint32_t v) {
        uint8_t x[4] = { v, v >> 8, v >> 16, v >> 24 };
        put(b, x, 4);
}
static void put16(Buf *b, uint16_t v) {
        uint8_t x[2] = { v, v >> 8 };
        put(b, x, 2);
}

/* A log with a SHA-1 and a SHA-256 bank: header, then events (pcr, type, data) digested with SHA-256. */
static void make_log(Buf *b, size_t n, const uint32_t pcr[], const uint32_t type[], const char *data[]) {
        uint8_t zero[20] = {};
        Buf spec = {};

        put(&spec, "Spec ID Event03\0", 16);
        put32(&spec, 0);                 /* platformClass */
        put(&spec, "\0\2\0\2", 4);       /* minor, major, errata, uintnSize */
        put32(&spec, 2);
        put16(&spec, 0x0004);
        put16(&spec, 20);
        put16(&spec, 0x000B);
        put16(&spec, 32);
        put(&spec, "\0", 1);             /* vendorInfoSize */

        b->n = 0;
        put32(b, 0);
        put32(b, EV_NO_ACTION);
        put(b, zero, 20);
        put32(b, spec.n);
        put(b, spec.data, spec.n);
        for (size_t i = 0; i < n; i++) {
                uint8_t d1[20], d256[32];

                SHA1((const uint8_t *) data[i], strlen(data[i]), d1);
                SHA256((const uint8_t *) data[i], strlen(data[i]), d256);
                put32(b, pcr[i]);
                put32(b, type[i]);
                put32(b, 2);
                put16(b, 0x0004);
                put(b, d1, 20);
                put16(b, 0x000B);
                put(b, d256, 32);
                put32(b, strlen(data[i]));
                put(b, data[i], strlen(data[i]));
        }
}

TEST(eventlog_parse_and_replay) {
        static const uint32_t pcr[] = { 4, 11, 11, 4, 9, 0 };
        static const uint32_t type[] = { EV_EFI_BOOT_SERVICES_APPLICATION, EV_IPL, EV_IPL,
                                         EV_EFI_BOOT_SERVICES_APPLICATION, EV_EVENT_TAG, 0x1 };
        static const char *data[] = { "uki", ".linux", "kernel", "linux", "initrd", "crtm" };
        _cleanup_free_ TcgEvent *events = NULL;
        uint8_t value[32], expect[32] = {}, d[32];
        ImageMeasurements m;
        Buf b;
        size_t n;

        make_log(&b, ELEMENTSOF(pcr), pcr, type, data);
        ASSERT_OK(tcg_log_parse(b.data, b.n, &events, &n));
        ASSERT_EQ(n, ELEMENTSOF(pcr));
        ASSERT_EQ(events[4].pcr, 9);
        ASSERT_TRUE(events[4].have_sha256);

        /* PCR 11 = extend(extend(0, H(".linux")), H("kernel")) */
        SHA256((const uint8_t *) ".linux", 6, d);
        pcr_extend_sha256(expect, d);
        SHA256((const uint8_t *) "kernel", 6, d);
        pcr_extend_sha256(expect, d);
        tcg_log_replay(events, n, 11, value);
        ASSERT_MEMEQ(value, expect, 32);

        /* The image's events: both PE images on PCR 4, all of PCR 9 and 11, nothing of PCR 0, in log order. */
        ASSERT_OK(image_measurements_from_log(events, n, &m));
        ASSERT_EQ(m.n, 5);
        ASSERT_EQ(m.records[0].pcr, 4);
        ASSERT_EQ(m.records[3].pcr, 4);
        ASSERT_EQ(m.records[4].pcr, 9);
        SHA256((const uint8_t *) "uki", 3, d);
        ASSERT_MEMEQ(m.records[0].sha256, d, 32);
}

TEST(eventlog_rejects) {
        static const uint32_t pcr[] = { 4 };
        static const uint32_t type[] = { EV_EFI_BOOT_SERVICES_APPLICATION };
        static const char *data[] = { "uki" };
        _cleanup_free_ TcgEvent *events = NULL;
        size_t n;
        Buf b;

        make_log(&b, 1, pcr, type, data);
        /* Every truncation is refused, none crashes. */
        for (size_t len = 0; len < b.n; len++) {
                TcgEvent *e = NULL;
                int r = tcg_log_parse(b.data, len, &e, &n);
                if (r >= 0) {
                        /* only a cut exactly between events parses */
                        free(e);
                        continue;
                }
                ASSERT_EQ(r, -EBADMSG);
        }
        /* Not a Spec ID Event03 header. */
        b.data[32] ^= 0xff;
        ASSERT_ERROR(tcg_log_parse(b.data, b.n, &events, &n), EBADMSG);
        b.data[32] ^= 0xff;
        /* An event on a bank the header did not announce. */
        make_log(&b, 1, pcr, type, data);
        ASSERT_OK(tcg_log_parse(b.data, b.n, &events, &n));
        free(events);
        events = NULL;
        b.data[b.n - 3 - 4 - 32 - 2 - 20 - 2] = 0x0C; /* the SHA-1 algorithm id becomes SHA-384 */
        ASSERT_ERROR(tcg_log_parse(b.data, b.n, &events, &n), EBADMSG);
}

/* ---- PE / Authenticode -------------------------------------------------------------------------------- */

/* A minimal PE32+ image: headers (0x200), two sections, optional trailing bytes and certificate table. */
static size_t make_pe(uint8_t *p, size_t cap, bool with_cert) {
        size_t pe = 0x80, opt = pe + 24, table, n = 0x200 + 0x200 + 0x200;
        uint8_t *h;

        memset(p, 0, cap);
        p[0] = 'M';
        p[1] = 'Z';
        p[0x3c] = pe;
        memcpy(p + pe, "PE\0\0", 4);
        p[pe + 6] = 2;                                   /* NumberOfSections */
        p[pe + 20] = 240;                                /* SizeOfOptionalHeader */
        p[opt] = 0x0b;
        p[opt + 1] = 0x02;                               /* PE32+ */
        p[opt + 60] = 0x00;
        p[opt + 61] = 0x02;                              /* SizeOfHeaders 0x200 */
        p[opt + 108] = 16;                               /* NumberOfRvaAndSizes */
        table = opt + 240;
        h = p + table;
        memcpy(h, ".linux", 6);
        h[8 + 1] = 0x01;                                 /* VirtualSize 0x100 */
        h[16 + 1] = 0x02;                                /* SizeOfRawData 0x200 */
        h[20 + 1] = 0x02;                                /* PointerToRawData 0x200 */
        h += 40;
        memcpy(h, ".osrel", 6);
        h[8] = 10;                                       /* VirtualSize 10 */
        h[16 + 1] = 0x02;
        h[20 + 1] = 0x04;                                /* at 0x400 */
        memset(p + 0x200, 'L', 0x100);
        memcpy(p + 0x400, "ID=patela\n", 10);
        if (with_cert) {
                /* certificate table entry (directory 4) → 16 bytes at 0x600 */
                p[opt + 112 + 32 + 1] = 0x06;
                p[opt + 112 + 32 + 4] = 16;
                memset(p + 0x600, 'C', 16);
                n += 16;
        }
        return n;
}

TEST(pe_authenticode) {
        static uint8_t a[4096], b[4096];
        uint8_t da[32], db[32];
        size_t na, nb;
        PeImage pe;

        na = make_pe(a, sizeof(a), false);
        ASSERT_OK(pe_parse(a, na, &pe));
        ASSERT_EQ(pe.n_sections, 2);
        ASSERT_NOT_NULL(pe_find_section(&pe, ".osrel"));
        ASSERT_NULL(pe_find_section(&pe, ".initrd"));
        ASSERT_OK(pe_authenticode_sha256(&pe, da));

        /* The checksum and a certificate table (and its directory entry) are not part of the digest. */
        nb = make_pe(b, sizeof(b), true);
        b[0x80 + 24 + 64] = 0x55;
        ASSERT_OK(pe_parse(b, nb, &pe));
        ASSERT_EQ(pe.cert_size, 16);
        ASSERT_OK(pe_authenticode_sha256(&pe, db));
        ASSERT_MEMEQ(da, db, 32);

        /* A section's byte is. */
        a[0x300] ^= 1;
        ASSERT_OK(pe_parse(a, na, &pe));
        ASSERT_OK(pe_authenticode_sha256(&pe, db));
        ASSERT_FALSE(memcmp(da, db, 32) == 0);
}

TEST(pe_rejects) {
        static uint8_t a[4096];
        size_t n = make_pe(a, sizeof(a), false);
        PeImage pe;

        ASSERT_ERROR(pe_parse(a, 10, &pe), EBADMSG);
        a[0x80 + 24 + 240 + 20 + 1] = 0x40;              /* .linux raw data beyond the file */
        ASSERT_ERROR(pe_parse(a, n, &pe), EBADMSG);
        n = make_pe(a, sizeof(a), false);
        a[0x80 + 6] = 200;                               /* more sections than PE_SECTIONS_MAX */
        ASSERT_ERROR(pe_parse(a, n, &pe), E2BIG);
        n = make_pe(a, sizeof(a), false);
        a[0x3c] = 0xff;
        a[0x3d] = 0xff;                                  /* PE header beyond the file */
        ASSERT_ERROR(pe_parse(a, n, &pe), EBADMSG);
        n = make_pe(a, sizeof(a), false);
        /* A PE without .linux is no UKI. */
        ImageMeasurements m;
        memcpy(a + 0x80 + 24 + 240, ".text\0\0", 7);
        ASSERT_ERROR(image_measurements_from_uki(a, n, &m), EBADMSG);
}

/* ---- reference and component ------------------------------------------------------------------------- */

static void sample(ImageMeasurements *m) {
        *m = (ImageMeasurements) {};
        for (uint32_t i = 0; i < 5; i++) {
                ImageRecord *r = &m->records[m->n++];
                r->pcr = i == 0 || i == 3 ? 4 : i == 4 ? 9 : 11;
                memset(r->sha256, 0x11 * (i + 1), 32);
                snprintf(r->what, sizeof(r->what), "event%u", i);
        }
}

TEST(reference_round_trip) {
        _cleanup_free_ char *text = NULL, *again = NULL;
        ImageMeasurements m, back;
        uint8_t uki[32], uki_back[32];

        sample(&m);
        memset(uki, 0xab, 32);
        ASSERT_OK(reference_format(&m, uki, 1234, &text));
        ASSERT_OK(reference_parse(text, strlen(text), &back, uki_back));
        ASSERT_TRUE(image_measurements_equal(&m, &back));
        ASSERT_MEMEQ(uki, uki_back, 32);
        ASSERT_OK(reference_format(&back, uki_back, 1234, &again));
        ASSERT_STREQ(text, again);
}

TEST(reference_rejects) {
        static const char *const bad[] = {
                "",
                "[]",
                "{\"uki\":{\"sha256\":\"ab\"},\"records\":[]}",
                "{\"uki\":{\"sha256\":\"" "abababababababababababababababababababababababababababababababab" "\"},\"records\":[]}",
                /* PCR 5 is not the image's */
                "{\"uki\":{\"sha256\":\"abababababababababababababababababababababababababababababababab\"},"
                "\"records\":[{\"pcr\":5,\"event\":\"x\",\"sha256\":\"abababababababababababababababababababababababababababababababab\"}]}",
                /* a field nobody writes */
                "{\"uki\":{\"sha256\":\"abababababababababababababababababababababababababababababababab\"},\"x\":1,"
                "\"records\":[{\"pcr\":4,\"event\":\"x\",\"sha256\":\"abababababababababababababababababababababababababababababababab\"}]}",
                /* a digest that is not hex */
                "{\"uki\":{\"sha256\":\"abababababababababababababababababababababababababababababababab\"},"
                "\"records\":[{\"pcr\":4,\"event\":\"x\",\"sha256\":\"zbababababababababababababababababababababababababababababababab\"}]}",
        };
        ImageMeasurements m;
        uint8_t uki[32];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ASSERT_ERROR(reference_parse(bad[i], strlen(bad[i]), &m, uki), EBADMSG);
}

TEST(component_format) {
        _cleanup_free_ char *text = NULL;
        ImageMeasurements m;

        sample(&m);
        m.n = 1;
        ASSERT_OK(component_format(&m, &text));
        ASSERT_STREQ(text, "{\"records\":[{\"pcr\":4,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":"
                           "\"1111111111111111111111111111111111111111111111111111111111111111\"}]}]}");
}

DEFINE_TEST_MAIN
