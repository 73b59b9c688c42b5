/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "tests.h"
#include "tpm2-ek-cert.h"

/* A stand-in DER: SEQUENCE of 3 bytes. */
static const uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };

TEST(der_forms) {
        const uint8_t *p;
        size_t n;
        uint8_t buf[64];

        ASSERT_OK(ek_certificate_der(der, sizeof(der), &p, &n));
        ASSERT_TRUE(p == der && n == sizeof(der));

        /* the TCG NV header: tag 0x1001, size */
        memcpy(buf, (const uint8_t[]) { 0x10, 0x01, 0x00, sizeof(der) }, 4);
        memcpy(buf + 4, der, sizeof(der));
        ASSERT_OK(ek_certificate_der(buf, 4 + sizeof(der), &p, &n));
        ASSERT_TRUE(p == buf + 4 && n == sizeof(der));
        buf[3] = sizeof(der) + 1; /* a declared size past the data */
        ASSERT_ERROR(ek_certificate_der(buf, 4 + sizeof(der), &p, &n), EBADMSG);

        /* padding: 0xFF and zeros only */
        memcpy(buf, der, sizeof(der));
        memset(buf + sizeof(der), 0xff, 8);
        ASSERT_OK(ek_certificate_der(buf, sizeof(der) + 8, &p, &n));
        ASSERT_EQ(n, sizeof(der));
        buf[sizeof(der) + 3] = 0x41;
        ASSERT_ERROR(ek_certificate_der(buf, sizeof(der) + 8, &p, &n), EBADMSG);

        /* an OCTET STRING around it */
        memcpy(buf, (const uint8_t[]) { 0x04, sizeof(der) }, 2);
        memcpy(buf + 2, der, sizeof(der));
        ASSERT_OK(ek_certificate_der(buf, 2 + sizeof(der), &p, &n));
        ASSERT_TRUE(p == buf + 2 && n == sizeof(der));

        /* not a SEQUENCE, a length past the data, a five-byte length, nothing */
        ASSERT_ERROR(ek_certificate_der((const uint8_t[]) { 0x31, 0x00 }, 2, &p, &n), EBADMSG);
        ASSERT_ERROR(ek_certificate_der((const uint8_t[]) { 0x30, 0x05, 0x00 }, 3, &p, &n), EBADMSG);
        ASSERT_ERROR(ek_certificate_der((const uint8_t[]) { 0x30, 0x85, 0, 0, 0, 0, 1, 0 }, 8, &p, &n), EBADMSG);
        ASSERT_ERROR(ek_certificate_der(der, 1, &p, &n), EBADMSG);
}

DEFINE_TEST_MAIN
