/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "json-strict.h"
#include "tests.h"

static int parse(const char *text, bool utf8, json_object **ret) {
        return json_parse_one(text, strlen(text), 8, utf8, /* sensitive= */ false, ret);
}

TEST(one_value) {
        static const char *const good[] = { "{}", " {\"a\":1}\n", "[1,2]", "\t{\"a\":{\"b\":[{}]}}\r\n" };
        static const char *const bad[] = {
                "", " ", "{", "{\"a\":1} x", "{}{}", "{\"a\":1,}", "{\"a\":01}", "/* */{}",
                "{\"a\":\"\x01\"}",
        };
        /* Single-quoted strings: json-c's strict mode takes them, the walk over the text does not. */
        static const char *const quoted[] = { "{'a':1}", "{\"a\":'b'}", "['x']" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(json_object_putp) json_object *o = NULL;
                ASSERT_OK(parse(good[i], false, &o));
                ASSERT_NOT_NULL(o);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_object *o = NULL;
                ASSERT_ERROR(parse(bad[i], false, &o), EBADMSG);
                ASSERT_NULL(o);
        }
        for (size_t i = 0; i < ELEMENTSOF(quoted); i++) {
                _cleanup_(json_object_putp) json_object *o = NULL;
                int r = parse(quoted[i], false, &o);

                if (r == 0)
                        ASSERT_ERROR(json_unique_keys(o, quoted[i], strlen(quoted[i]), NULL, 0), EBADMSG);
                else
                        ASSERT_EQ(r, -EBADMSG);
        }
        {
                /* The one json-c takes. */
                _cleanup_(json_object_putp) json_object *o = NULL;
                ASSERT_OK(parse(quoted[0], false, &o));
        }
}

/* The text ends at size, not at a NUL: what follows is not read. */
TEST(not_terminated) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char buf[] = "{\"a\":1}  xyz";
        json_object *p = NULL;

        ASSERT_OK(json_parse_one(buf, 9, 8, false, false, &o));
        ASSERT_ERROR(json_parse_one(buf, 10, 8, false, false, &p), EBADMSG);
        ASSERT_NULL(p);
}

TEST(depth) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *p = NULL;

        ASSERT_OK(json_parse_one("[[[]]]", 6, 3, false, false, &o));
        ASSERT_ERROR(json_parse_one("[[[[]]]]", 8, 3, false, false, &p), EBADMSG);
}

static int unique(const char *text, char *dup, size_t n) {
        _cleanup_(json_object_putp) json_object *o = NULL;

        ASSERT_OK(parse(text, false, &o));
        return json_unique_keys(o, text, strlen(text), dup, n);
}

TEST(unique_keys) {
        char dup[8];

        ASSERT_EQ(unique("{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}", dup, sizeof(dup)), 1);
        ASSERT_EQ(unique("{\"a\":1,\"a\":1}", dup, sizeof(dup)), 0);
        ASSERT_STREQ(dup, "a");
        ASSERT_EQ(unique("{\"x\":[{\"k\":1,\"longname\":2,\"longname\":3}]}", dup, sizeof(dup)), 0);
        ASSERT_STREQ(dup, "longnam");   /* cut to the buffer */
        ASSERT_EQ(unique("{\"o\":{\"p\":{\"q\":1,\"q\":2}}}", NULL, 0), 0);
        /* Keys and strings with colons, braces and escaped quotes inside. */
        ASSERT_EQ(unique("{\"a:{\":\"}:\\\"{\",\"b\":\"\\\\\"}", dup, sizeof(dup)), 1);
        ASSERT_EQ(unique("{\"a\\\"\":1,\"a\\\"\":2}", dup, sizeof(dup)), 0);
}

TEST(utf8) {
        static const struct {
                const char *text, *value;
        } good[] = {
                { "{\"s\":\"caf\xc3\xa9\"}", "caf\xc3\xa9" },                         /* 2 bytes */
                { "{\"s\":\"\xe2\x82\xac 5\"}", "\xe2\x82\xac 5" },                   /* 3 bytes */
                { "{\"s\":\"\xf0\x9f\x94\x92\"}", "\xf0\x9f\x94\x92" },               /* 4: a surrogate pair */
                { "{\"s\":\"a\\\\\xc3\xa9\"}", "a\\\xc3\xa9" },                       /* after an escaped \ */
                { "{\"k\xc3\xa9y\":\"\\u00e9\"}", NULL },                             /* in a key */
        };
        static const char *const bad[] = {
                "{\"s\":\"\xc0\x80\"}",         /* overlong NUL */
                "{\"s\":\"\xe0\x80\xaf\"}",     /* overlong */
                "{\"s\":\"\xed\xa0\x80\"}",     /* a surrogate */
                "{\"s\":\"\xf4\x90\x80\x80\"}", /* beyond U+10FFFF */
                "{\"s\":\"\xc3\"}",             /* cut short */
                "{\"s\":\"\x80\"}",             /* a continuation byte alone */
                "{\"s\":\"\xff\"}",
                "{\"s\":1\xc3\xa9}",            /* outside a string */
                "{\"s\":\"\\\xc3\xa9\"}",       /* right after a backslash: an invalid escape, not "\\u00e9" */
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(json_object_putp) json_object *o = NULL;
                json_object *v;

                if (good[i].value) /* json-c's strict mode alone refuses UTF-8 in strings (not in keys) */
                        ASSERT_ERROR(parse(good[i].text, false, &o), EBADMSG);
                ASSERT_OK(parse(good[i].text, true, &o));
                if (good[i].value) {
                        ASSERT_TRUE(json_object_object_get_ex(o, "s", &v));
                        ASSERT_STREQ(json_object_get_string(v), good[i].value);
                } else
                        ASSERT_TRUE(json_object_object_get_ex(o, "k\xc3\xa9y", &v));
                ASSERT_EQ(json_unique_keys(o, good[i].text, strlen(good[i].text), NULL, 0), 1);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_object *o = NULL;
                if (parse(bad[i], true, &o) != -EBADMSG)
                        TEST_FAIL("bad[%zu] accepted", i);
                ASSERT_NULL(o);
        }
}

TEST(erase) {
        json_object *o = NULL;
        const char *text = "{\"secret\":\"hunter2\",\"list\":[\"a\",{\"b\":\"c\"}]}";

        json_put_erase(NULL);
        ASSERT_OK(json_parse_one(text, strlen(text), 8, false, /* sensitive= */ true, &o));
        json_put_erase(o);
}

DEFINE_TEST_MAIN
