/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests.h"
#include "torrc.h"

static Torrc *parse_ok(const char *text) {
        TorrcError e = {};
        Torrc *t = NULL;
        int r;

        r = torrc_parse(text, strlen(text), &t, &e);
        if (r < 0)
                TEST_FAIL("parse failed (%d) at line %u: %s\n%s", r, e.line, e.message, text);
        return t;
}

static void parse_fails_size(const char *text, size_t size, int error, unsigned line, const char *needle) {
        TorrcError e = { .line = 9999 };
        Torrc *t = NULL;
        int r;

        r = torrc_parse(text, size, &t, &e);
        if (r >= 0) {
                torrc_free(t);
                TEST_FAIL("parse succeeded, expected %s at line %u:\n%s", strerror(error), line, text);
        }
        ASSERT_NULL(t);
        if (r != -error)
                TEST_FAIL("expected -%d, got %d (line %u: %s)", error, r, e.line, e.message);
        if (e.line != line)
                TEST_FAIL("error at line %u, expected %u: %s", e.line, line, e.message);
        if (!strstr(e.message, needle))
                TEST_FAIL("message \"%s\" does not contain \"%s\"", e.message, needle);
}

static void parse_fails(const char *text, int error, unsigned line, const char *needle) {
        parse_fails_size(text, strlen(text), error, line, needle);
}

/* The single value of a one-entry text. */
static char *value_of(const char *text) {
        Torrc *t = parse_ok(text);
        char *v;

        ASSERT_EQ(t->n_entries, 1);
        v = strdup(t->entries[0].value);
        torrc_free(t);
        return v;
}

#define ASSERT_VALUE(text, expected)                              \
        do {                                                      \
                _cleanup_free_ char *_v = value_of(text);         \
                ASSERT_STREQ(_v, expected);                       \
        } while (0)

#define ASSERT_ENTRY(t, i, o, n, v)                                         \
        do {                                                                \
                ASSERT_TRUE((i) < (t)->n_entries);                          \
                ASSERT_EQ((t)->entries[i].op, o);                           \
                ASSERT_STREQ((t)->entries[i].option->name, n);              \
                if (v)                                                      \
                        ASSERT_STREQ((t)->entries[i].value, (const char *) (v)); \
                else                                                        \
                        ASSERT_NULL((t)->entries[i].value);                 \
        } while (0)

/* parse → render → parse gives the same operations; returns the rendering. */
static char *round_trip(const Torrc *t) {
        _cleanup_(torrc_freep) Torrc *u = NULL;
        char *text;

        ASSERT_OK(torrc_render(t, &text));
        u = parse_ok(text);
        if (!torrc_equal(t, u))
                TEST_FAIL("round trip changed the torrc:\n%s", text);
        return text;
}

TEST(parse_lines_comments_case) {
        _cleanup_(torrc_freep) Torrc *t = NULL;

        t = parse_ok("# a relay\n"
                     "\n"
                     "   nickname   Patela01   \n"
                     "CONTACTINFO ops at example dot org   #today\n"
                     "\tExitPolicy accept *:80#tomorrow\n"
                     "  # indented comment\n"
                     "exitpolicy reject *:*\n"
                     "Log notice\tfile /var/log/tor/notices.log");
        ASSERT_EQ(t->n_entries, 5);
        ASSERT_ENTRY(t, 0, TORRC_OP_SET, "Nickname", "Patela01");
        ASSERT_EQ(t->entries[0].line, 3);
        ASSERT_ENTRY(t, 1, TORRC_OP_SET, "ContactInfo", "ops at example dot org");
        ASSERT_ENTRY(t, 2, TORRC_OP_SET, "ExitPolicy", "accept *:80");
        /* The second plain line of a list adds to it, as in tor. */
        ASSERT_ENTRY(t, 3, TORRC_OP_APPEND, "ExitPolicy", "reject *:*");
        ASSERT_EQ(t->entries[3].line, 7);
        /* Tabs are blanks between keyword and value, and kept inside a value. */
        ASSERT_ENTRY(t, 4, TORRC_OP_SET, "Log", "notice\tfile /var/log/tor/notices.log");
        t = torrc_free(t);

        /* Nothing but comments and blanks; and nothing at all. */
        t = parse_ok("# nothing\n\n   \n#");
        ASSERT_EQ(t->n_entries, 0);
        t = torrc_free(t);
        ASSERT_OK(torrc_parse(NULL, 0, &t, NULL));
        ASSERT_EQ(t->n_entries, 0);
        t = torrc_free(t);

        /* CRLF line ends: the CR is trailing blank space to tor. */
        t = parse_ok("Nickname foo\r\nORPort 9001\r\n");
        ASSERT_ENTRY(t, 0, TORRC_OP_SET, "Nickname", "foo");
        ASSERT_ENTRY(t, 1, TORRC_OP_SET, "ORPort", "9001");
}

TEST(parse_continuation_as_tor) {
        /* The examples of tor's doc/torrc_format.txt, with ContactInfo as the key. */
        ASSERT_VALUE("ContactInfo\\\nWorld", "World");
        ASSERT_VALUE("ContactInfo World\\\nand\\\nfriends", "Worldandfriends");
        ASSERT_VALUE("ContactInfo \\\nMany\\\\\\\nBacksl\\ashes \\\\\nhere", "Many\\\\Backsl\\ashes \\here");
        ASSERT_VALUE("ContactInfo entry      \\\n"
                     " # has comments \\\n"
                     " and some       \\\n"
                     " are # generally \\\n"
                     " silly",
                     "entry        and some        are  silly");
        ASSERT_VALUE("ContactInfo entry      \\\n"
                     " # has comments\n"
                     " and some       \\\n"
                     " are # generally\n"
                     " silly",
                     "entry        and some        are  silly");
        /* A backslash not before a newline is verbatim. */
        ASSERT_VALUE("ContactInfo a\\b\\", "a\\b\\");
}

TEST(parse_continuation_comment_quirk) {
        _cleanup_(torrc_freep) Torrc *t = NULL;

        /* Once continued, a comment does not end the value: the next line is part of it. Tor does the
         * same, and then refuses the policy; we see exactly the value tor would. */
        t = parse_ok("ExitPolicy accept *:80,\\\n"
                     " accept *:443 # web\n"
                     "Nickname foo\n"
                     "SocksPort 0\n");
        ASSERT_EQ(t->n_entries, 2);
        ASSERT_ENTRY(t, 0, TORRC_OP_SET, "ExitPolicy", "accept *:80, accept *:443 Nickname foo");
        ASSERT_ENTRY(t, 1, TORRC_OP_SET, "SocksPort", "0");
        ASSERT_EQ(t->entries[1].line, 4);
}

TEST(parse_quoted) {
        _cleanup_(torrc_freep) Torrc *t = NULL;

        ASSERT_VALUE("ContactInfo \"World!\"", "World!");
        ASSERT_VALUE("ContactInfo \"  a # b \\\"c\\\" \\\\ \\x41\\101\\t' \\' \"   # comment",
                     "  a # b \"c\" \\ AA\t' ' ");
        ASSERT_VALUE("ContactInfo \"\\xc3\\xa9t\\303\\251\"", "\xc3\xa9t\xc3\xa9");
        /* Quotes only count at the start of a value. */
        ASSERT_VALUE("ContactInfo say \"hi\"", "say \"hi\"");
        /* A quoted value ends its line: no continuation inside. */
        parse_fails("ContactInfo \"a\\\nb\"", EINVAL, 1, "escape");

        parse_fails("Nickname x\nContactInfo \"open", EINVAL, 2, "closing quote");
        parse_fails("ContactInfo \"a\nb\"", EINVAL, 1, "closing quote");
        parse_fails("ContactInfo \"\\q\"", EINVAL, 1, "escape");
        parse_fails("ContactInfo \"\\?\"", EINVAL, 1, "escape"); /* tor's first pass refuses \? */
        parse_fails("ContactInfo \"\\x4\"", EINVAL, 1, "escape");
        parse_fails("ContactInfo \"\\777\"", EINVAL, 1, "escape");
        parse_fails("ContactInfo \"a\" b", EINVAL, 1, "Excess data");
        /* Escapes must not smuggle in what a plain value cannot hold. */
        parse_fails("ContactInfo \"a\\nb\"", EINVAL, 1, "line break");
        parse_fails("ContactInfo \"a\\rb\"", EINVAL, 1, "line break");
        parse_fails("ContactInfo \"a\\0b\"", EINVAL, 1, "NUL");
        parse_fails("ContactInfo \"a\\x00\"", EINVAL, 1, "NUL");
        parse_fails("ContactInfo \"a\\x1b[31m\"", EINVAL, 1, "control character 0x1b");
        parse_fails("ContactInfo \"\\xff\"", EINVAL, 1, "UTF-8");
        parse_fails("ContactInfo \"\"", EINVAL, 1, "no value");

        /* CRLF after a quoted value: tor accepts it only at the end or before a comment or blank line
         * (its parser steps over the CR LF and then sees the next keyword as excess data). */
        t = parse_ok("Nickname \"foo\"\r\n");
        ASSERT_ENTRY(t, 0, TORRC_OP_SET, "Nickname", "foo");
        parse_fails("Nickname \"foo\"\r\nORPort 9001\r\n", EINVAL, 1, "Excess data");
}

TEST(parse_refuses) {
        parse_fails("Nickname a\n\n# c\nFooBar 1\n", EINVAL, 4, "Unknown option \"FooBar\"");
        parse_fails("ExitPolic accept *:*", EINVAL, 1, "Unknown option"); /* no prefixes */
        parse_fails("ORListenAddress 0.0.0.0", EINVAL, 1, "Unknown option"); /* obsolete */
        parse_fails("l notice stdout", EINVAL, 1, "Unknown option"); /* alias */
        parse_fails("%include /etc/tor/torrc.d/", EINVAL, 1, "not supported");
        parse_fails("ORPortLines 9001", EINVAL, 1, "virtual");
        parse_fails("+ 9001", EINVAL, 1, "Unknown option \"\"");
        parse_fails("\\\nNickname", EINVAL, 1, "Unknown option \"\"");
        parse_fails("Nick\x01name x", EINVAL, 1, "Unknown option \"Nick?name\"");
        parse_fails("Nickname\n", EINVAL, 1, "no value");
        parse_fails("Nickname   # none\n", EINVAL, 1, "no value");
        parse_fails("/Nickname foo\n", EINVAL, 1, "takes no value");
        parse_fails("Nickname a\x01z", EINVAL, 1, "control character 0x01");
        parse_fails("Nickname a\x7fz", EINVAL, 1, "control character 0x7f");
        parse_fails("Nickname a\rz", EINVAL, 1, "line break");
        parse_fails("Nickname a\xc3(", EINVAL, 1, "UTF-8");
        parse_fails("Nickname \xed\xa0\x80", EINVAL, 1, "UTF-8"); /* a surrogate */
        parse_fails("Nickname \xc0\xaf", EINVAL, 1, "UTF-8");     /* overlong */
        parse_fails_size("Nickname a\n\nContactInfo x\0y\n", 26, EINVAL, 3, "NUL");
        parse_fails_size("Nickname a\0", 11, EINVAL, 1, "NUL");
        parse_fails("DisableNetwork maybe", EINVAL, 1, "1 or 0");
        parse_fails("DisableNetwork auto", EINVAL, 1, "1 or 0");
        parse_fails("ExitRelay 2", EINVAL, 1, "1, 0 or auto");
}

TEST(parse_limits) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        _cleanup_free_ char *big = NULL;
        const char line[] = "ExitPolicy accept *:1\n";
        size_t n;

        big = malloc(TORRC_SIZE_MAX + 2);
        ASSERT_NOT_NULL(big);

        /* Whole text. */
        memset(big, '#', TORRC_SIZE_MAX + 1);
        parse_fails_size(big, TORRC_SIZE_MAX + 1, E2BIG, 0, "larger than");
        memset(big, '\n', TORRC_SIZE_MAX);
        ASSERT_OK(torrc_parse(big, TORRC_SIZE_MAX, &t, NULL));
        ASSERT_EQ(t->n_entries, 0);
        t = torrc_free(t);

        /* One line: TORRC_LINE_MAX bytes is fine, one more is not, wherever it is. */
        n = snprintf(big, TORRC_SIZE_MAX, "Nickname a\nContactInfo ");
        memset(big + n, 'x', TORRC_LINE_MAX - strlen("ContactInfo "));
        n += TORRC_LINE_MAX - strlen("ContactInfo ");
        big[n] = '\0';
        t = parse_ok(big);
        ASSERT_EQ(strlen(t->entries[1].value), TORRC_LINE_MAX - strlen("ContactInfo "));
        t = torrc_free(t);
        big[n] = 'x';
        big[n + 1] = '\0';
        parse_fails(big, E2BIG, 2, "longer than");

        /* A value continued over short lines is bounded too. */
        n = snprintf(big, TORRC_SIZE_MAX, "ContactInfo ");
        while (n < TORRC_LINE_MAX + 100) {
                memcpy(big + n, "xxxxxxx\\\n", 9);
                n += 9;
        }
        big[n] = '\0';
        parse_fails(big, E2BIG, 1, "longer than");

        /* Entries. */
        for (n = 0; n < TORRC_ENTRIES_MAX; n++)
                memcpy(big + n * (sizeof(line) - 1), line, sizeof(line) - 1);
        big[n * (sizeof(line) - 1)] = '\0';
        t = parse_ok(big);
        ASSERT_EQ(t->n_entries, TORRC_ENTRIES_MAX);
        t = torrc_free(t);
        strcpy(big + n * (sizeof(line) - 1), "Nickname x\n");
        parse_fails(big, E2BIG, TORRC_ENTRIES_MAX + 1, "More than");
}

TEST(parse_magic_ops) {
        _cleanup_(torrc_freep) Torrc *t = NULL;

        t = parse_ok("+ExitPolicy accept *:80\n"
                     "ExitPolicy accept *:443\n"
                     "/MyFamily\n"
                     "MyFamily $0123456789ABCDEF0123456789ABCDEF01234567\n"
                     "+Nickname foo\n"
                     "Nickname bar\n"
                     "ORPort 9001\n"
                     "__ORPort 9002\n"
                     "/socksport\n");
        ASSERT_EQ(t->n_entries, 9);
        ASSERT_ENTRY(t, 0, TORRC_OP_APPEND, "ExitPolicy", "accept *:80");
        ASSERT_ENTRY(t, 1, TORRC_OP_APPEND, "ExitPolicy", "accept *:443");
        ASSERT_ENTRY(t, 2, TORRC_OP_UNSET, "MyFamily", NULL);
        ASSERT_ENTRY(t, 3, TORRC_OP_APPEND, "MyFamily", "$0123456789ABCDEF0123456789ABCDEF01234567");
        /* Single-valued options are only ever set. */
        ASSERT_ENTRY(t, 4, TORRC_OP_SET, "Nickname", "foo");
        ASSERT_ENTRY(t, 5, TORRC_OP_SET, "Nickname", "bar");
        /* ORPort and __ORPort share one list. */
        ASSERT_ENTRY(t, 6, TORRC_OP_SET, "ORPort", "9001");
        ASSERT_ENTRY(t, 7, TORRC_OP_APPEND, "__ORPort", "9002");
        ASSERT_ENTRY(t, 8, TORRC_OP_UNSET, "SocksPort", NULL);
        free(round_trip(t));
}

TEST(booleans) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        _cleanup_free_ char *text = NULL;

        ASSERT_VALUE("DisableNetwork 1", "1");
        ASSERT_VALUE("DisableNetwork true", "1");
        ASSERT_VALUE("DisableNetwork YES", "1");
        ASSERT_VALUE("DisableNetwork on", "1");
        ASSERT_VALUE("DisableNetwork 0", "0");
        ASSERT_VALUE("DisableNetwork False", "0");
        ASSERT_VALUE("DisableNetwork no", "0");
        ASSERT_VALUE("DisableNetwork \"off\"", "0");
        ASSERT_VALUE("ExitRelay AUTO", "auto");
        ASSERT_VALUE("ExitRelay yes", "1");
        /* Only booleans are touched. */
        ASSERT_VALUE("ContactInfo yes", "yes");

        t = parse_ok("exitrelay True\nDisableNetwork no\n");
        text = round_trip(t);
        ASSERT_STREQ(text, "ExitRelay 1\nDisableNetwork 0\n");
}

TEST(render_quoting) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        _cleanup_free_ char *text = NULL;

        ASSERT_OK(torrc_new(&t));
        ASSERT_OK(torrc_set(t, "ContactInfo", "plain value, with spaces", NULL));
        ASSERT_OK(torrc_set(t, "Nickname", " lead", NULL));
        ASSERT_OK(torrc_set(t, "Address", "trail\t", NULL));
        ASSERT_OK(torrc_set(t, "DataDirectory", "/srv/#tor", NULL));
        ASSERT_OK(torrc_set(t, "Log", "notice file C:\\tor\\log", NULL));
        ASSERT_OK(torrc_append(t, "Log", "\"quoted\" start", NULL));
        ASSERT_OK(torrc_append(t, "Log", "ends in backslash\\", NULL));
        ASSERT_OK(torrc_set(t, "AccountingStart", "tab\tinside", NULL));
        ASSERT_OK(torrc_set(t, "SocksPolicy", "caf\xc3\xa9", NULL));
        ASSERT_OK(torrc_unset(t, "MyFamily", NULL));
        ASSERT_OK(torrc_append(t, "ExitPolicy", "accept *:80", NULL));
        ASSERT_OK(torrc_append(t, "ExitPolicy", "accept *:443", NULL));
        text = round_trip(t);
        ASSERT_STREQ(text,
                     "ContactInfo plain value, with spaces\n"
                     "Nickname \" lead\"\n"
                     "Address \"trail\\t\"\n"
                     "DataDirectory \"/srv/#tor\"\n"
                     "Log \"notice file C:\\\\tor\\\\log\"\n"
                     "Log \"\\\"quoted\\\" start\"\n"
                     "Log \"ends in backslash\\\\\"\n"
                     "AccountingStart tab\tinside\n"
                     "SocksPolicy caf\xc3\xa9\n"
                     "/MyFamily\n"
                     "+ExitPolicy accept *:80\n"
                     "+ExitPolicy accept *:443\n");
}

TEST(api_set_append_unset_remove) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        TorrcError e = {};

        ASSERT_OK(torrc_new(&t));
        ASSERT_OK(torrc_append(t, "exitpolicy", "accept *:80", NULL));
        ASSERT_OK(torrc_append(t, "ExitPolicy", "accept *:443", NULL));
        ASSERT_EQ(t->n_entries, 2);
        ASSERT_ENTRY(t, 0, TORRC_OP_APPEND, "ExitPolicy", "accept *:80");

        /* set: this level says exactly this about the list. */
        ASSERT_OK(torrc_set(t, "ExitPolicy", "reject *:*", NULL));
        ASSERT_EQ(t->n_entries, 1);
        ASSERT_ENTRY(t, 0, TORRC_OP_SET, "ExitPolicy", "reject *:*");
        ASSERT_OK(torrc_append(t, "ExitPolicy", "accept *:22", NULL));
        ASSERT_ENTRY(t, 1, TORRC_OP_APPEND, "ExitPolicy", "accept *:22");

        /* On a single-valued option append is set. */
        ASSERT_OK(torrc_set(t, "Nickname", "a", NULL));
        ASSERT_OK(torrc_append(t, "nickname", "b", NULL));
        ASSERT_EQ(t->n_entries, 3);
        ASSERT_ENTRY(t, 2, TORRC_OP_SET, "Nickname", "b");

        /* A set of __ORPort replaces this level's ORPort lines: one list. */
        ASSERT_OK(torrc_set(t, "ORPort", "9001", NULL));
        ASSERT_OK(torrc_set(t, "__ORPort", "9002", NULL));
        ASSERT_EQ(t->n_entries, 4);
        ASSERT_ENTRY(t, 3, TORRC_OP_SET, "__ORPort", "9002");

        ASSERT_OK(torrc_unset(t, "EXITPOLICY", NULL));
        ASSERT_EQ(t->n_entries, 3);
        ASSERT_ENTRY(t, 2, TORRC_OP_UNSET, "ExitPolicy", NULL);

        ASSERT_EQ(torrc_remove(t, "ExitPolicy", NULL), 1);
        ASSERT_EQ(torrc_remove(t, "ExitPolicy", NULL), 0);
        ASSERT_EQ(t->n_entries, 2);

        /* Same validation as the parser, nothing changed on failure. */
        ASSERT_ERROR(torrc_set(t, "NoSuchOption", "1", &e), EINVAL);
        ASSERT_EQ(e.line, 0);
        ASSERT_TRUE(strstr(e.message, "NoSuchOption") != NULL);
        ASSERT_ERROR(torrc_set(t, "ContactInfo", "a\nExitPolicy accept *:*", &e), EINVAL);
        ASSERT_TRUE(strstr(e.message, "line break") != NULL);
        ASSERT_ERROR(torrc_append(t, "HiddenServiceOptions", "x", &e), EINVAL);
        ASSERT_ERROR(torrc_set(t, "Nickname", "", &e), EINVAL);
        ASSERT_ERROR(torrc_set(t, "DisableNetwork", "perhaps", &e), EINVAL);
        ASSERT_ERROR(torrc_unset(t, "%include", &e), EINVAL);
        ASSERT_ERROR(torrc_remove(t, "Bogus", &e), EINVAL);
        ASSERT_ERROR(torrc_set(t, "Nickname", NULL, NULL), EINVAL);
        /* Every failure comes with a message. */
        e = (TorrcError) {};
        ASSERT_ERROR(torrc_set(NULL, "Nickname", "x", &e), EINVAL);
        ASSERT_TRUE(e.message[0] != '\0');
        ASSERT_EQ(t->n_entries, 2);
        ASSERT_ENTRY(t, 0, TORRC_OP_SET, "Nickname", "b");
        ASSERT_ENTRY(t, 1, TORRC_OP_SET, "__ORPort", "9002");

        /* The cap holds for the API too; a set that replaces entries still fits. */
        for (unsigned i = t->n_entries; i < TORRC_ENTRIES_MAX; i++)
                ASSERT_OK(torrc_append(t, "ExitPolicy", "accept *:1", NULL));
        ASSERT_ERROR(torrc_append(t, "ExitPolicy", "accept *:2", &e), E2BIG);
        ASSERT_ERROR(torrc_set(t, "ContactInfo", "x", &e), E2BIG);
        ASSERT_OK(torrc_set(t, "Nickname", "c", NULL));
        ASSERT_OK(torrc_set(t, "ExitPolicy", "reject *:*", NULL));
        ASSERT_EQ(t->n_entries, 3);
}

/* Merges level texts (NULL: no level) and renders the result. */
static char *merge_render(const char *texts[_TORRC_LEVEL_MAX], TorrcMerged **ret) {
        Torrc *levels[_TORRC_LEVEL_MAX] = {};
        TorrcMerged *m = NULL;
        char *text = NULL;

        for (TorrcLevel l = 0; l < _TORRC_LEVEL_MAX; l++)
                if (texts[l])
                        levels[l] = parse_ok(texts[l]);
        ASSERT_OK(torrc_merge((const Torrc *const *) levels, &m));
        ASSERT_OK(torrc_merged_render(m, &text));
        for (TorrcLevel l = 0; l < _TORRC_LEVEL_MAX; l++)
                torrc_free(levels[l]);

        /* Reading the rendered torrc back as one level gives the same lines. */
        {
                Torrc *u = parse_ok(text);
                const Torrc *one[_TORRC_LEVEL_MAX] = { [TORRC_LEVEL_DEFAULT] = u };
                TorrcMerged *again = NULL;

                ASSERT_OK(torrc_merge(one, &again));
                if (!torrc_merged_equal(m, again))
                        TEST_FAIL("rendered torrc reads back differently:\n%s", text);
                torrc_merged_free(again);
                torrc_free(u);
        }

        if (ret)
                *ret = m;
        else
                torrc_merged_free(m);
        return text;
}

#define ASSERT_MERGE(expected, ...)                                                   \
        do {                                                                          \
                const char *_texts[_TORRC_LEVEL_MAX] = { __VA_ARGS__ };               \
                _cleanup_free_ char *_r = merge_render(_texts, NULL);                 \
                ASSERT_STREQ(_r, expected);                                           \
        } while (0)

TEST(merge_line_lists) {
        const char *def = "ExitPolicy accept *:80\nExitPolicy accept *:443\nExitPolicy reject *:*\n";

        ASSERT_MERGE("ExitPolicy accept *:80\nExitPolicy accept *:443\nExitPolicy reject *:*\n", def);
        /* A first-match policy cascades as operators mean it (issue 12, item 4): an appended line of a more
         * specific level comes before the lines of the levels below, and every level's catch-all tail after
         * all of them. Before, "accept *:22" of a node came after the fleet's "reject *:*": dead. */
        ASSERT_MERGE("ExitPolicy accept *:6667\nExitPolicy accept *:22\nExitPolicy accept *:80\n"
                     "ExitPolicy accept *:443\nExitPolicy reject *:*\n",
                     def, "+ExitPolicy accept *:22\n", "+ExitPolicy accept *:6667\n");
        /* a node's reject overrides the fleet's accept of the same port */
        ASSERT_MERGE("ExitPolicy reject *:443\nExitPolicy accept *:80\nExitPolicy accept *:443\nExitPolicy reject *:*\n",
                     def, "+ExitPolicy reject *:443\n");
        /* the most specific level's catch-all decides what nobody listed; the lower ones follow, unreachable */
        ASSERT_MERGE("ExitPolicy accept *:22\nExitPolicy accept *:80\nExitPolicy accept *:443\n"
                     "ExitPolicy accept *:*\nExitPolicy reject *:*\n",
                     def, "+ExitPolicy accept *:22\n+ExitPolicy accept *:*\n");
        /* a catch-all that is not at the end of its level's lines is body: the level's order holds */
        ASSERT_MERGE("ExitPolicy reject *4:*\nExitPolicy accept6 *6:22\nExitPolicy accept *:80\n"
                     "ExitPolicy accept *:443\nExitPolicy reject *:*\n",
                     def, "+ExitPolicy reject *4:*\n+ExitPolicy accept6 *6:22\n");
        /* other lists keep the levels' order */
        ASSERT_MERGE("Log notice stdout\nLog info syslog\n", "Log notice stdout\n", "+Log info syslog\n");
        /* set replaces the lower levels' lines; its level's further lines add to it */
        ASSERT_MERGE("ExitPolicy reject *:25\nExitPolicy accept *:*\n",
                     def, "ExitPolicy reject *:25\nExitPolicy accept *:*\n");
        ASSERT_MERGE("ExitPolicy reject *:*\nExitPolicy accept *:1\n",
                     def, "+ExitPolicy accept *:22\n", "ExitPolicy reject *:*\n+ExitPolicy accept *:1\n");
        /* unset removes them; an append after it starts afresh */
        ASSERT_MERGE("", def, "/ExitPolicy\n");
        ASSERT_MERGE("ExitPolicy accept *:1\n", def, "/ExitPolicy\n", "+ExitPolicy accept *:1\n");
        ASSERT_MERGE("ExitPolicy accept *:2\n", def, "/ExitPolicy\nExitPolicy accept *:2\n");
        /* An empty level changes nothing. */
        ASSERT_MERGE("ExitPolicy accept *:80\nExitPolicy accept *:443\nExitPolicy reject *:*\n",
                     def, "", "# nothing\n");
}

TEST(merge_single_options) {
        ASSERT_MERGE("Nickname node\n", "Nickname default\n", "Nickname node\n");
        ASSERT_MERGE("Nickname relay\n", "Nickname default\n", "+Nickname node\n", "+Nickname relay\n");
        ASSERT_MERGE("", "Nickname default\n", "/Nickname\n");
        ASSERT_MERGE("Nickname relay\n", "Nickname default\n", "/Nickname\n", "Nickname relay\n");
        /* The last line of a level wins, as in tor. */
        ASSERT_MERGE("Nickname second\n", "Nickname first\nNickname second\n");
        ASSERT_MERGE("DisableNetwork 1\n", "DisableNetwork no\n", "DisableNetwork yes\n");
}

TEST(merge_forced_wins_with_provenance) {
        _cleanup_(torrc_merged_freep) TorrcMerged *m = NULL;
        _cleanup_free_ char *text = NULL;
        const char *texts[_TORRC_LEVEL_MAX] = {
                [TORRC_LEVEL_DEFAULT] = "ContactInfo ops@example.org\n"
                                        "ExitPolicy accept *:80\n"
                                        "ORPort 443\n"
                                        "__ORPort 8443\n"
                                        "Nickname Default\n",
                [TORRC_LEVEL_NODE] = "+ExitPolicy accept *:443\nOutboundBindAddress 192.0.2.1\n",
                [TORRC_LEVEL_RELAY] = "Nickname Mine\n+ORPort 9001\nExitRelay yes\n",
                [TORRC_LEVEL_FORCED] = "Nickname Patela01\nORPort 192.0.2.10:9001\n"
                                       "OutboundBindAddress 192.0.2.10\n",
        };

        text = merge_render(texts, &m);
        ASSERT_STREQ(text,
                     "ContactInfo ops@example.org\n"
                     "ExitPolicy accept *:443\n"
                     "ExitPolicy accept *:80\n"
                     "ExitRelay 1\n"
                     "Nickname Patela01\n"
                     "ORPort 192.0.2.10:9001\n"
                     "OutboundBindAddress 192.0.2.10\n");
        ASSERT_EQ(m->n_lines, 7);
        ASSERT_EQ(m->lines[0].level, TORRC_LEVEL_DEFAULT);
        ASSERT_EQ(m->lines[0].line, 1);
        ASSERT_EQ(m->lines[1].level, TORRC_LEVEL_NODE); /* the node's policy line first */
        ASSERT_EQ(m->lines[2].level, TORRC_LEVEL_DEFAULT);
        ASSERT_EQ(m->lines[3].level, TORRC_LEVEL_RELAY);
        ASSERT_EQ(m->lines[3].line, 3);
        for (size_t i = 4; i < 7; i++)
                ASSERT_EQ(m->lines[i].level, TORRC_LEVEL_FORCED);

        /* Forced entries made with the API win in the same way. */
        {
                _cleanup_(torrc_freep) Torrc *relay = parse_ok("Nickname Mine\nORPort 9001\n");
                _cleanup_(torrc_freep) Torrc *forced = NULL;
                _cleanup_(torrc_merged_freep) TorrcMerged *n = NULL;
                const Torrc *levels[_TORRC_LEVEL_MAX] = {};

                ASSERT_OK(torrc_new(&forced));
                ASSERT_OK(torrc_set(forced, "Nickname", "Patela02", NULL));
                ASSERT_OK(torrc_set(forced, "ORPort", "[2001:db8::2]:9001", NULL));
                levels[TORRC_LEVEL_RELAY] = relay;
                levels[TORRC_LEVEL_FORCED] = forced;
                ASSERT_OK(torrc_merge(levels, &n));
                ASSERT_EQ(n->n_lines, 2);
                ASSERT_STREQ(n->lines[0].value, "Patela02");
                ASSERT_STREQ(n->lines[1].value, "[2001:db8::2]:9001");
                ASSERT_EQ(n->lines[1].level, TORRC_LEVEL_FORCED);
                ASSERT_EQ(n->lines[1].line, 0);
        }
}

TEST(merge_groups_keep_order) {
        /* Hidden-service lines are one list in tor: the order across names matters, and the list is
         * set, appended to or unset as a whole. It renders where its name (HiddenServiceOptions) sorts. */
        const char *hs = "HiddenServiceDir /var/lib/tor/a\n"
                         "HiddenServicePort 80 127.0.0.1:8080\n"
                         "HiddenServiceDir /var/lib/tor/b\n"
                         "HiddenServicePort 22 127.0.0.1:22\n"
                         "HashedControlPassword 16:00\n"
                         "Log notice stdout\n";

        ASSERT_MERGE("HashedControlPassword 16:00\n"
                     "HiddenServiceDir /var/lib/tor/a\n"
                     "HiddenServicePort 80 127.0.0.1:8080\n"
                     "HiddenServiceDir /var/lib/tor/b\n"
                     "HiddenServicePort 22 127.0.0.1:22\n"
                     "HiddenServiceDir /var/lib/tor/c\n"
                     "HiddenServicePort 443 127.0.0.1:443\n"
                     "Log notice stdout\n",
                     hs, "+HiddenServiceDir /var/lib/tor/c\nHiddenServicePort 443 127.0.0.1:443\n");
        ASSERT_MERGE("HashedControlPassword 16:00\n"
                     "HiddenServiceDir /var/lib/tor/c\n"
                     "HiddenServicePort 443 127.0.0.1:443\n"
                     "Log notice stdout\n",
                     hs, "HiddenServiceDir /var/lib/tor/c\nHiddenServicePort 443 127.0.0.1:443\n");
        ASSERT_MERGE("HashedControlPassword 16:00\nLog notice stdout\n", hs, "/HiddenServicePort\n");

        /* Ports: ORPort and __ORPort are one list, SocksPort another. */
        ASSERT_MERGE("ORPort 9001\nSocksPort 0\n",
                     "ORPort 443\n__ORPort 8443\nSocksPort 0\n", "ORPort 9001\n");
        ASSERT_MERGE("ORPort 443\n__ORPort 8443\nORPort 9001\n",
                     "ORPort 443\n__ORPort 8443\n", "+ORPort 9001\n");
}

TEST(render_sorted_case_insensitively) {
        ASSERT_MERGE("__OwningControllerProcess 1\n"
                     "Address 192.0.2.1\n"
                     "ContactInfo x\n"
                     "DataDirectory /var/lib/tor\n"
                     "DirCache 0\n"
                     "DisableNetwork 1\n"
                     "ExitPolicy reject *:*\n"
                     "Log notice stdout\n"
                     "Nickname a\n"
                     "ORPort 9001\n"
                     "SocksPort 0\n",
                     "socksport 0\nnickname a\nlog notice stdout\nEXITPOLICY reject *:*\n"
                     "disablenetwork 1\ndircache 0\nDataDirectory /var/lib/tor\ncontactinfo x\n"
                     "orport 9001\naddress 192.0.2.1\n__owningcontrollerprocess 1\n");
}

TEST(merged_render_quotes) {
        ASSERT_MERGE("ContactInfo \"a # b\"\nNickname \" x \"\n",
                     "ContactInfo \"a # b\"\n", "Nickname \" x \"\n");
}

TEST(level_names) {
        ASSERT_STREQ(torrc_level_to_string(TORRC_LEVEL_DEFAULT), "default");
        ASSERT_STREQ(torrc_level_to_string(TORRC_LEVEL_FORCED), "forced");
        ASSERT_NULL(torrc_level_to_string(_TORRC_LEVEL_MAX));
        ASSERT_EQ(torrc_level_from_string("node"), TORRC_LEVEL_NODE);
        ASSERT_EQ(torrc_level_from_string("relay"), TORRC_LEVEL_RELAY);
        ASSERT_EQ(torrc_level_from_string("Node"), _TORRC_LEVEL_INVALID);
        ASSERT_EQ(torrc_level_from_string(NULL), _TORRC_LEVEL_INVALID);
}

TEST(node_policy) {
        /* What a server may not ask of a node (issue 11, item 8), and what it may. */
        static const struct {
                const char *text;
                bool refused;
        } cases[] = {
                { "ServerTransportPlugin obfs4 exec /usr/bin/obfs4proxy\n", true },
                { "ClientTransportPlugin meek exec /bin/sh -c id\n", true },
                { "Log notice file /etc/cron.d/x\n", true },
                { "Log [net]info FILE /tmp/x\n", true },
                { "Log notice stdout\n", false },
                { "Log notice syslog\n", false },
                { "ControlPort 9051\n", true },
                { "ControlPort 0.0.0.0:9051\n", true },
                { "ControlPort 127.0.0.1:9051\n", false },
                { "ControlPort [::1]:9051\n", false },
                { "ControlPort unix:/run/x\n", true },
                { "ControlPort 0\n", false },
                { "ControlSocket /run/tor/control\n", true },
                { "MetricsPort 192.0.2.1:9035\n", true },
                { "MetricsPort 127.0.0.1:9035\n", false },
                { "MetricsPort [::ffff:127.0.0.1]:9035\n", true },
                { "SocksPort 9050\n", true },
                { "SocksPort 0\n", false },
                { "DNSPort 0.0.0.0:53\n", true },
                { "HiddenServiceDir /var/lib/x\nHiddenServicePort 80 127.0.0.1:80\n", true },
                { "PidFile /etc/passwd\n", true },
                { "GeoIPFile /etc/shadow\n", true },
                { "CookieAuthFile /tmp/c\n", true },
                { "KeyDirectory /tmp/k\n", true },
                { "DataDirectory /tmp/d\n", true },
                { "ORPort 443\nExitPolicy accept *:443\nExitPolicy reject *:*\nContactInfo x@example.org\n", false },
                { "DirPort 80\n", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(torrc_freep) Torrc *t = NULL;
                TorrcError e = {};
                int r;

                ASSERT_OK(torrc_parse(cases[i].text, strlen(cases[i].text), &t, &e));
                r = torrc_check_node_policy(t, &e);
                if (cases[i].refused != (r == -EPERM))
                        TEST_FAIL("%s: %s (%d: %s)", cases[i].text, cases[i].refused ? "not refused" : "refused", r,
                                  e.message);
                if (r < 0 && e.line != 1)
                        TEST_FAIL("%s: line %u", cases[i].text, e.line);
        }
}

DEFINE_TEST_MAIN
