/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <strings.h>

#include "tests.h"
#include "tor-options.h"

TEST(table_sorted_and_complete) {
        /* bsearch() relies on the order; a hand edit or a changed generator would break lookups. */
        ASSERT_TRUE(tor_options_count > 300);
        for (size_t i = 1; i < tor_options_count; i++)
                if (strcasecmp(tor_options[i - 1].name, tor_options[i].name) >= 0)
                        TEST_FAIL("%s sorts after %s", tor_options[i - 1].name, tor_options[i].name);
        for (size_t i = 0; i < tor_options_count; i++) {
                ASSERT_NOT_NULL(tor_option_type_to_string(tor_options[i].type));
                ASSERT_EQ(tor_option_find(tor_options[i].name), tor_options + i);
                ASSERT_EQ(tor_option_index(tor_options + i), i);
                /* Every Dependent option names an existing Virtual one, and only those name one. */
                if (tor_options[i].type == TOR_OPTION_DEPENDENT) {
                        ASSERT_NOT_NULL(tor_options[i].group);
                        ASSERT_EQ(tor_option_group(tor_options + i)->type, TOR_OPTION_VIRTUAL);
                } else {
                        ASSERT_NULL(tor_options[i].group);
                        ASSERT_EQ(tor_option_group(tor_options + i), tor_options + i);
                }
        }
        ASSERT_TRUE(strlen(tor_options_version) > 0);
}

TEST(find_any_case_returns_tor_spelling) {
        const TorOption *o;

        o = tor_option_find("exitpolicy");
        ASSERT_NOT_NULL(o);
        ASSERT_STREQ(o->name, "ExitPolicy");
        ASSERT_EQ(o->type, TOR_OPTION_LINE_LIST);
        ASSERT_EQ(tor_option_find("EXITPOLICY"), o);
        ASSERT_EQ(tor_option_find("ExitPolicy"), o);

        o = tor_option_find("nickname");
        ASSERT_NOT_NULL(o);
        ASSERT_STREQ(o->name, "Nickname");
        ASSERT_EQ(o->type, TOR_OPTION_STRING);
        ASSERT_FALSE(tor_option_is_cumulative(o));

        ASSERT_EQ(tor_option_find("ExitRelay")->type, TOR_OPTION_AUTOBOOL);
        ASSERT_EQ(tor_option_find("DisableNetwork")->type, TOR_OPTION_BOOLEAN);
        ASSERT_STREQ(tor_option_type_to_string(TOR_OPTION_AUTOBOOL), "Boolean+Auto");
        ASSERT_NULL(tor_option_type_to_string(_TOR_OPTION_TYPE_MAX));
}

TEST(unknown_aliases_and_prefixes) {
        /* Tor takes these with a deprecation warning, or not at all (obsolete); we want tor's names. */
        ASSERT_NULL(tor_option_find("ORListenAddress"));
        ASSERT_NULL(tor_option_find("l"));
        ASSERT_NULL(tor_option_find("ExcludeNode"));
        ASSERT_NULL(tor_option_find("ExitPolic"));
        ASSERT_NULL(tor_option_find("ExitPolicyx"));
        ASSERT_NULL(tor_option_find(""));
        ASSERT_NULL(tor_option_find(NULL));
        ASSERT_NOT_NULL(tor_option_find("HashedControlPassword"));
}

TEST(lists_and_groups) {
        const TorOption *orport = tor_option_find("ORPort"), *hs = tor_option_find("HiddenServicePort");

        ASSERT_TRUE(tor_option_is_cumulative(tor_option_find("ExitPolicy")));
        ASSERT_TRUE(tor_option_is_cumulative(tor_option_find("Log")));
        ASSERT_TRUE(tor_option_is_cumulative(tor_option_find("MyFamily")));
        ASSERT_TRUE(tor_option_is_cumulative(tor_option_find("OutboundBindAddress")));
        ASSERT_TRUE(tor_option_is_cumulative(orport));
        ASSERT_EQ(orport->type, TOR_OPTION_DEPENDENT);
        ASSERT_STREQ(tor_option_group(orport)->name, "ORPortLines");
        ASSERT_EQ(tor_option_group(tor_option_find("__ORPort")), tor_option_group(orport));
        ASSERT_STREQ(tor_option_group(hs)->name, "HiddenServiceOptions");
        ASSERT_EQ(tor_option_group(tor_option_find("HiddenServiceDir")), tor_option_group(hs));
        ASSERT_TRUE(tor_option_group(tor_option_find("SocksPort")) != tor_option_group(orport));
}

DEFINE_TEST_MAIN
