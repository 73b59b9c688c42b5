/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "server-http.h"
#include "tests.h"

TEST(ratelimit_source_key) {
        static const struct {
                const char *address, *key;
        } cases[] = {
                { "192.0.2.7", "192.0.2.7" },
                { "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64" },
                { "2001:db8:1:2::1", "2001:db8:1:2::/64" },
                { "::ffff:192.0.2.7", "192.0.2.7" }, /* a dual-stack socket's IPv4 peer */
                { "::1", "::/64" },
                { "unknown", "unknown" },
        };
        char key[64];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ratelimit_source_key(cases[i].address, key, sizeof(key));
                ASSERT_STREQ(key, cases[i].key);
        }
}

TEST(ratelimit_counts_a_64_once) {
        RateLimit *r = NULL;

        ASSERT_OK(ratelimit_new(2, &r)); /* a burst of 2, then 2 a minute */
        ASSERT_TRUE(ratelimit_allow(r, "2001:db8:1:2::1"));
        ASSERT_TRUE(ratelimit_allow(r, "2001:db8:1:2::2"));
        /* A third address of the same /64 is the same source. */
        ASSERT_FALSE(ratelimit_allow(r, "2001:db8:1:2:ffff::3"));
        /* Another /64 is another source. */
        ASSERT_TRUE(ratelimit_allow(r, "2001:db8:1:3::1"));
        ratelimit_free(r);
}

DEFINE_TEST_MAIN
