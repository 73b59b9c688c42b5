/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hexdecoct.h"
#include "tests.h"

static void check_b64(const char *plain, const char *encoded) {
        _cleanup_free_ char *e = base64mem(plain, strlen(plain));
        _cleanup_free_ void *d = NULL;
        size_t n;

        ASSERT_STREQ(e, encoded);
        ASSERT_OK(unbase64mem(encoded, 1024, &d, &n));
        ASSERT_EQ(n, strlen(plain));
        ASSERT_MEMEQ(d, plain, n);
}

TEST(base64_rfc4648_vectors) {
        check_b64("", "");
        check_b64("f", "Zg==");
        check_b64("fo", "Zm8=");
        check_b64("foo", "Zm9v");
        check_b64("foob", "Zm9vYg==");
        check_b64("fooba", "Zm9vYmE=");
        check_b64("foobar", "Zm9vYmFy");
}

TEST(base64_rejects_bad_input) {
        void *d = NULL;
        size_t n;

        ASSERT_ERROR(unbase64mem("Zm9", 100, &d, &n), EINVAL);       /* length */
        ASSERT_ERROR(unbase64mem("Zm9v\n", 100, &d, &n), EINVAL);    /* whitespace */
        ASSERT_ERROR(unbase64mem("Zm!v", 100, &d, &n), EINVAL);      /* alphabet */
        ASSERT_ERROR(unbase64mem("Zh==", 100, &d, &n), EINVAL);      /* non-canonical trailing bits */
        ASSERT_ERROR(unbase64mem("Zm9=Zm9v", 100, &d, &n), EINVAL);  /* padding in the middle */
        ASSERT_ERROR(unbase64mem("=m9v", 100, &d, &n), EINVAL);
        ASSERT_ERROR(unbase64mem("Zm9vYmFy", 5, &d, &n), E2BIG);     /* bounded */
        ASSERT_NULL(d);
}

/* Every byte outside the alphabet, at every position of a group that is not the last (the decoder's fast path)
 * and of the last one, is refused ('=' too: as the last character it is padding, and "YmF=" has non-canonical
 * trailing bits); every byte of the alphabet is accepted there. */
TEST(base64_every_byte_every_position) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char text[13] = "Zm9vYmFyYmF6";

        for (unsigned c = 1; c < 256; c++)
                for (size_t pos = 0; pos < 12; pos++) {
                        _cleanup_free_ void *d = NULL;
                        size_t n;
                        char saved = text[pos];
                        bool valid = strchr(alphabet, (int) c) != NULL;

                        text[pos] = (char) c;
                        if (valid)
                                ASSERT_OK(unbase64mem(text, 100, &d, &n));
                        else
                                ASSERT_ERROR(unbase64mem(text, 100, &d, &n), EINVAL);
                        text[pos] = saved;
                }
}

TEST(base64_binary_round_trip) {
        uint8_t buf[256];
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t) (255 - i);
        for (size_t l = 0; l <= sizeof(buf); l++) {
                _cleanup_free_ char *e = base64mem(buf, l);
                _cleanup_free_ void *d = NULL;
                size_t n;
                ASSERT_NOT_NULL(e);
                ASSERT_OK(unbase64mem(e, sizeof(buf), &d, &n));
                ASSERT_EQ(n, l);
                ASSERT_MEMEQ(d, buf, l);
        }
}

TEST(hex) {
        _cleanup_free_ char *h = hexmem("\x00\x0b\xff", 3);
        _cleanup_free_ void *d = NULL;
        void *x = NULL;
        size_t n;

        ASSERT_STREQ(h, "000bff");
        char buf[7] = "xxxxxx";
        ASSERT_STREQ(hexmem_to("\x00\x0b\xff", 3, buf), "000bff");
        ASSERT_STREQ(hexmem_to("", 0, buf), "");
        ASSERT_OK(unhexmem("000BfF", 3, &d, &n));
        ASSERT_EQ(n, 3);
        ASSERT_MEMEQ(d, "\x00\x0b\xff", 3);
        ASSERT_ERROR(unhexmem("abc", 10, &x, &n), EINVAL);
        ASSERT_ERROR(unhexmem("zz", 10, &x, &n), EINVAL);
        ASSERT_ERROR(unhexmem("0011", 1, &x, &n), E2BIG);
}

TEST(base32) {
        _cleanup_free_ char *a = base32mem("\xff\xff\xff\xff\xff", 5);
        _cleanup_free_ char *b = base32mem("\x00\x00\x00\x00\x00", 5);
        _cleanup_free_ char *c = base32mem("\x84\x21\x08\x42\x10", 5); /* 10000 10000 ... → "GGGGGGGG" */

        ASSERT_STREQ(a, "ZZZZZZZZ");
        ASSERT_STREQ(b, "00000000");
        ASSERT_STREQ(c, "GGGGGGGG");
}

DEFINE_TEST_MAIN
