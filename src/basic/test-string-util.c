/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "string-util.h"
#include "tests.h"

TEST(startswith) {
        ASSERT_STREQ(startswith("swtpm:port=1", "swtpm:"), "port=1");
        ASSERT_NULL(startswith("swtp", "swtpm:"));
}

TEST(strstrip) {
        char a[] = "  \tkey = value \r", b[] = "", c[] = " \t ";

        ASSERT_STREQ(strstrip(a), "key = value");
        ASSERT_STREQ(strstrip(b), "");
        ASSERT_STREQ(strstrip(c), "");
}

TEST(safe_atou64) {
        unsigned long long v;

        ASSERT_OK(safe_atou64("23", 23, &v));
        ASSERT_EQ(v, 23);
        ASSERT_ERROR(safe_atou64("24", 23, &v), ERANGE);
        ASSERT_ERROR(safe_atou64("-1", 23, &v), EINVAL);
        ASSERT_ERROR(safe_atou64(" 1", 23, &v), EINVAL);
        ASSERT_ERROR(safe_atou64("", 23, &v), EINVAL);
        ASSERT_ERROR(safe_atou64("99999999999999999999999", ~0ULL, &v), ERANGE);
}

TEST(parse_duration) {
        unsigned long long v;

        ASSERT_OK(parse_duration_usec("30", &v));
        ASSERT_EQ(v, 30000000);
        ASSERT_OK(parse_duration_usec("2d", &v));
        ASSERT_EQ(v, 2ULL * 86400ULL * 1000000ULL);
        ASSERT_OK(parse_duration_usec("5min", &v));
        ASSERT_EQ(v, 300000000);
        ASSERT_OK(parse_duration_usec("250ms", &v));
        ASSERT_EQ(v, 250000);
        ASSERT_ERROR(parse_duration_usec("5 min", &v), EINVAL);
        ASSERT_ERROR(parse_duration_usec("s", &v), EINVAL);
        ASSERT_ERROR(parse_duration_usec("99999999999999999h", &v), ERANGE);
}

DEFINE_TEST_MAIN
