/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of patela-pcrlock's parsers and predictions: the firmware event log, PE/Authenticode, the
 * UKI's reference, the .pcrlock component. The booted image checks the predictions against a real
 * firmware, stub and kernel (test/vm). */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "pcr-replay.h"
#include "pcrlock-component.h"
#include "pcrlock-image.h"
#include "pcrlock-pe.h"
#include "pcrlock-reference.h"
#include "tests.h"

/* ---- event log (the parser is src/shared/boot/tcg-eventlog.c, tested there; here what lock-boot reads) ---- */

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
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        uint8_t expect[32] = {}, d[32];
        ImageMeasurements m;
        PcrValues values;
        Buf b;

        make_log(&b, ELEMENTSOF(pcr), pcr, type, data);
        ASSERT_OK(tcg_log_parse(b.data, b.n, &log, NULL));
        ASSERT_EQ(log->n_events, ELEMENTSOF(pcr));
        ASSERT_EQ(log->events[4].pcr, 9);

        /* PCR 11 = extend(extend(0, H(".linux")), H("kernel")) */
        SHA256((const uint8_t *) ".linux", 6, d);
        pcr_extend_sha256(expect, d);
        SHA256((const uint8_t *) "kernel", 6, d);
        pcr_extend_sha256(expect, d);
        pcr_replay(log, NULL, &values);
        ASSERT_MEMEQ(values.sha256[11], expect, 32);

        /* The image's events: both PE images on PCR 4, all of PCR 9 and 11, nothing of PCR 0, in log order. */
        ASSERT_OK(image_measurements_from_log(log->events, log->n_events, &m));
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
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        Buf b;

        make_log(&b, 1, pcr, type, data);
        /* Every truncation is refused, none crashes. */
        for (size_t len = 0; len < b.n; len++) {
                TcgLog *l = NULL;
                int r = tcg_log_parse(b.data, len, &l, NULL);
                if (r >= 0) {
                        /* only a cut exactly between events parses */
                        tcg_log_free(l);
                        continue;
                }
                ASSERT_EQ(r, -EBADMSG);
        }
        /* Not a Spec ID Event03 header. */
        b.data[32] ^= 0xff;
        ASSERT_ERROR(tcg_log_parse(b.data, b.n, &log, NULL), EBADMSG);
        b.data[32] ^= 0xff;
        /* An event on a bank the header did not announce. */
        make_log(&b, 1, pcr, type, data);
        ASSERT_OK(tcg_log_parse(b.data, b.n, &log, NULL));
        log = tcg_log_free(log);
        b.data[b.n - 3 - 4 - 32 - 2 - 20 - 2] = 0x0C; /* the SHA-1 algorithm id becomes SHA-384 */
        ASSERT_ERROR(tcg_log_parse(b.data, b.n, &log, NULL), EBADMSG);
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

/* A UKI: a PE image whose .linux section is the PE image make_pe() makes, and an .osrel section. */
static size_t make_uki(uint8_t *p, size_t cap, const char *osrel) {
        static uint8_t kernel[4096];
        size_t nk = make_pe(kernel, sizeof(kernel), false), n;
        size_t opt = 0x80 + 24, at_osrel = 0x200 + ((nk + 0x1ff) & ~(size_t) 0x1ff);
        uint8_t *h;

        n = make_pe(p, cap, false);
        h = p + opt + 240;
        /* .linux: the kernel at 0x200 */
        h[8] = (uint8_t) nk, h[9] = (uint8_t) (nk >> 8);
        h[16] = (uint8_t) nk, h[17] = (uint8_t) (nk >> 8);
        memcpy(p + 0x200, kernel, nk);
        /* .osrel after it */
        h += 40;
        h[8] = (uint8_t) strlen(osrel), h[9] = 0;
        h[16] = 0x00, h[17] = 0x02;
        h[20] = (uint8_t) at_osrel, h[21] = (uint8_t) (at_osrel >> 8);
        memset(p + at_osrel, 0, 0x200);
        memcpy(p + at_osrel, osrel, strlen(osrel));
        n = MAX(n, at_osrel + 0x200);
        return n;
}

TEST(reference_from_uki) {
        static uint8_t a[8192];
        _cleanup_free_ char *text = NULL;
        ImageReference ref, back;
        ImageMeasurements m;
        const char *problem = NULL;
        size_t n;

        n = make_uki(a, sizeof(a), "ID=debian\nVERSION_ID=\"13\"\nIMAGE_ID=patela\n");
        ASSERT_OK(reference_from_uki(a, n, &ref, &problem));
        ASSERT_OK(image_measurements_from_uki(a, n, &m));
        ASSERT_TRUE(image_measurements_equal(&m, &ref.measurements));
        ASSERT_EQ(ref.uki_size, n);
        ASSERT_STREQ(ref.os_release.values[OS_RELEASE_ID], "debian");
        ASSERT_STREQ(ref.os_release.values[OS_RELEASE_IMAGE_ID], "patela");
        /* The PCR 4 records: the UKI's Authenticode digest first, the kernel's after the stub's PCR 11 pairs. */
        ASSERT_MEMEQ(ref.uki_authenticode, m.records[0].sha256, 32);
        ASSERT_TRUE(ref.have_kernel_authenticode);
        ASSERT_EQ(m.records[m.n - 1].pcr, 4);
        ASSERT_MEMEQ(ref.kernel_authenticode, m.records[m.n - 1].sha256, 32);
        /* What patela-pcrlock prints, predict and patela-server read back. */
        ASSERT_OK(image_reference_format(&ref, &text));
        ASSERT_OK(image_reference_parse(text, strlen(text), &back, NULL));
        ASSERT_TRUE(image_measurements_equal(&back.measurements, &ref.measurements));

        n = make_uki(a, sizeof(a), "ID=\"debian\nIMAGE_ID=patela\n");
        ASSERT_ERROR(reference_from_uki(a, n, &ref, &problem), EBADMSG);
        ASSERT_NOT_NULL(strstr(problem, ".osrel"));
        a[0x80 + 24 + 240] = 'X';                        /* no .linux: no UKI */
        ASSERT_ERROR(reference_from_uki(a, n, &ref, &problem), EBADMSG);
        ASSERT_NOT_NULL(strstr(problem, "not a UKI"));
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
