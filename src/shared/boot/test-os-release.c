/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The os-release identity of an image: what mkosi puts in a Debian image's .osrel, shell quoting, and the
 * refusals. */
#include <string.h>

#include "os-release.h"
#include "tests.h"

/* Debian 13's /usr/lib/os-release as mkosi leaves it with ImageId=patela (written here from the fields
 * os-release(5) names, in Debian's style). */
static const char debian_image[] =
        "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n"
        "NAME=\"Debian GNU/Linux\"\n"
        "VERSION_ID=\"13\"\n"
        "VERSION=\"13 (trixie)\"\n"
        "VERSION_CODENAME=trixie\n"
        "ID=debian\n"
        "HOME_URL=\"https://www.debian.org/\"\n"
        "SUPPORT_URL=\"https://www.debian.org/support\"\n"
        "BUG_REPORT_URL=\"https://bugs.debian.org/\"\n"
        "IMAGE_ID=patela\n";

TEST(debian_image) {
        OsRelease o;

        ASSERT_OK(os_release_parse(debian_image, strlen(debian_image), &o));
        ASSERT_STREQ(o.values[OS_RELEASE_ID], "debian");
        ASSERT_STREQ(o.values[OS_RELEASE_VERSION_ID], "13");
        ASSERT_STREQ(o.values[OS_RELEASE_IMAGE_ID], "patela");
        ASSERT_STREQ(o.values[OS_RELEASE_IMAGE_VERSION], "");
        ASSERT_STREQ(o.values[OS_RELEASE_BUILD_ID], "");
        /* Not NUL-terminated: only size bytes are read. */
        ASSERT_OK(os_release_parse(debian_image, strlen(debian_image) - strlen("patela\n"), &o));
        ASSERT_STREQ(o.values[OS_RELEASE_IMAGE_ID], "");
}

TEST(quoting) {
        static const char text[] =
                "# a comment\n"
                "\n"
                "  ID='fedora'\n"
                "VERSION_ID=\"4\\\\\"\n"   /* "4\\": the escaped backslash is outside the charset */
                "BUILD_ID=first\n"
                "BUILD_ID=2026-12-04.1\n"     /* the later one wins */
                "LOGO=\"a value longer than sixty-four bytes does not matter for a field nobody keeps\"\n"
                "NAME=\"say \\\"hi\\\" \\$HOME\"\n"
                "IMAGE_ID=\"\"";              /* empty: unset; no final newline */
        static const char ok[] = "ID=a\nIMAGE_VERSION=0.1~rc1+git.5\nVERSION_ID=\"\"\n";
        size_t cut = strlen("# a comment\n\n  ID='fedora'\n");
        size_t skip = cut + strlen("VERSION_ID=\"4\\\\\"\n");
        OsRelease o;

        ASSERT_ERROR(os_release_parse(text, strlen(text), &o), EBADMSG);
        ASSERT_OK(os_release_parse(text, cut, &o));
        ASSERT_STREQ(o.values[OS_RELEASE_ID], "fedora");
        ASSERT_OK(os_release_parse(text + skip, strlen(text) - skip, &o));
        ASSERT_STREQ(o.values[OS_RELEASE_BUILD_ID], "2026-12-04.1");
        ASSERT_STREQ(o.values[OS_RELEASE_IMAGE_ID], "");
        ASSERT_OK(os_release_parse(ok, strlen(ok), &o));
        ASSERT_STREQ(o.values[OS_RELEASE_IMAGE_VERSION], "0.1~rc1+git.5");
        ASSERT_STREQ(o.values[OS_RELEASE_VERSION_ID], "");
}

TEST(rejects) {
        static const char *const bad[] = {
                "ID\n",                         /* no assignment */
                "=debian\n",
                "1D=debian\n",
                "I D=debian\n",
                "ID=\"debian\n",                /* unterminated */
                "ID='debian\nVERSION_ID=1'\n",  /* values do not span lines */
                "ID=\"debian\"x\n",             /* something after the closing quote */
                "ID=deb ian\n",                 /* needs quotes */
                "NAME=$(reboot)\n",
                "ID=\"deb ian\"\n",             /* out of the identity charset */
                "ID=\"debian/13\"\n",
                "ID=\"\033[2J\"\n",
                "ID=debian\r\n",
        };
        char big[OS_RELEASE_SIZE_MAX + 2], longval[OS_RELEASE_VALUE_MAX + 8] = "ID=";
        OsRelease o;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (os_release_parse(bad[i], strlen(bad[i]), &o) != -EBADMSG)
                        TEST_FAIL("accepted: %s", bad[i]);
        ASSERT_ERROR(os_release_parse("ID=de\0bian\n", 11, &o), EBADMSG);
        ASSERT_ERROR(os_release_parse("I\0D=debian\n", 11, &o), EBADMSG);
        memset(longval + 3, 'a', OS_RELEASE_VALUE_MAX);
        ASSERT_ERROR(os_release_parse(longval, 3 + OS_RELEASE_VALUE_MAX, &o), E2BIG);
        ASSERT_OK(os_release_parse(longval, 3 + OS_RELEASE_VALUE_MAX - 1, &o));
        memset(big, '\n', sizeof(big));
        ASSERT_ERROR(os_release_parse(big, sizeof(big), &o), E2BIG);
        ASSERT_OK(os_release_parse(big, OS_RELEASE_SIZE_MAX, &o));
}

TEST(fields) {
        ASSERT_STREQ(os_release_field_to_string(OS_RELEASE_IMAGE_VERSION), "IMAGE_VERSION");
        ASSERT_EQ(os_release_field_from_string("BUILD_ID"), OS_RELEASE_BUILD_ID);
        ASSERT_EQ(os_release_field_from_string("NAME"), -EINVAL);
        ASSERT_EQ(os_release_field_from_string(NULL), -EINVAL);
        ASSERT_TRUE(os_release_value_is_valid("2026.12_1~rc+x-y"));
        ASSERT_FALSE(os_release_value_is_valid(""));
        ASSERT_FALSE(os_release_value_is_valid("a/b"));
}

DEFINE_TEST_MAIN
