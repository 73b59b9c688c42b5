/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "server-wire.h"
#include "tests.h"

static int parse(const char *s, json_object **o) {
        return wire_parse(s, strlen(s), o);
}

TEST(parse_accepts_one_object) {
        json_object *o = NULL;

        ASSERT_OK(parse("{\"a\": 1}", &o));
        json_object_put(o);
        ASSERT_OK(parse("  {\"a\": \"b\"}\n", &o));
        json_object_put(o);
}

TEST(parse_refuses) {
        json_object *o = NULL;
        char deep[256] = "";

        ASSERT_ERROR(parse("[1]", &o), EINVAL);
        ASSERT_ERROR(parse("\"x\"", &o), EINVAL);
        ASSERT_ERROR(parse("{\"a\": 1} x", &o), EINVAL);
        ASSERT_ERROR(parse("{\"a\": 1}{}", &o), EINVAL);
        ASSERT_ERROR(parse("{\"a\": ", &o), EINVAL);
        ASSERT_ERROR(parse("{\"a\": \"\xff\xfe\"}", &o), EINVAL); /* not UTF-8 */
        ASSERT_ERROR(parse("{\"a\": 01}", &o), EINVAL);               /* strict: no leading zeros */
        ASSERT_ERROR(wire_parse("{\"a\":\0}", 7, &o), EINVAL);
        ASSERT_ERROR(wire_parse("", 0, &o), EINVAL);
        for (int i = 0; i < 20; i++)
                strcat(deep, "{\"a\":");
        ASSERT_ERROR(parse(deep, &o), EINVAL); /* depth */
        ASSERT_NULL(o);
}

TEST(fields) {
        static const char *const allowed[] = { "a", "b", NULL };
        json_object *o = NULL;
        const char *field = NULL, *s;
        void *d;
        size_t n;
        uint8_t h[2];

        ASSERT_OK(parse("{\"a\": \"Zm9v\", \"b\": \"00ff\", \"c\": 1}", &o));
        ASSERT_ERROR(wire_check_fields(o, allowed, &field), EBADMSG);
        ASSERT_STREQ(field, "c");
        ASSERT_OK(wire_get_base64(o, "a", true, 3, &d, &n));
        ASSERT_EQ(n, 3);
        ASSERT_MEMEQ(d, "foo", 3);
        free(d);
        ASSERT_ERROR(wire_get_base64(o, "a", true, 2, &d, &n), E2BIG);
        ASSERT_ERROR(wire_get_base64(o, "c", true, 10, &d, &n), EINVAL); /* not a string */
        ASSERT_ERROR(wire_get_base64(o, "z", true, 10, &d, &n), ENOENT);
        ASSERT_OK(wire_get_base64(o, "z", false, 10, &d, &n));
        ASSERT_NULL(d);
        ASSERT_OK(wire_get_hex(o, "b", 2, h));
        ASSERT_EQ(h[1], 0xff);
        ASSERT_ERROR(wire_get_hex(o, "a", 2, h), EINVAL);
        ASSERT_ERROR(wire_get_string(o, "a", true, 3, &s), E2BIG);
        json_object_put(o);

        ASSERT_OK(parse("{\"a\": \"x\\u0000y\"}", &o));
        ASSERT_ERROR(wire_get_string(o, "a", true, 10, &s), EINVAL); /* embedded NUL */
        json_object_put(o);
}

DEFINE_TEST_MAIN
