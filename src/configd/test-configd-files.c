/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configd-files.h"
#include "configd-resolver.h"
#include "tests.h"

static char *path_in(const char *dir, const char *name) {
        char *s;

        if (asprintf(&s, "%s/%s", dir, name) < 0)
                return NULL;
        return s;
}

static void remove_tree(const char *dir) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
}

TEST(render) {
        char *s = NULL;

        ASSERT_OK(relay_torrc_render("exitA", "https://config.example", "Nickname exitA", "/run/patela/keys/exitA",
                                     "/var/lib/tor-instances/exitA", NULL, &s));
        ASSERT_TRUE(strncmp(s, CONFIGD_FILE_HEADER, strlen(CONFIGD_FILE_HEADER)) == 0);
        /* The server's text gets its missing newline before configd's lines. */
        ASSERT_TRUE(strstr(s, "\nNickname exitA\n") != NULL);
        ASSERT_TRUE(strstr(s, "\nKeyDirectory /run/patela/keys/exitA\nDataDirectory /var/lib/tor-instances/exitA\n"));
        free(s);

        /* Written from what was parsed: a comment does not reach tor, and a trailing backslash (a continuation
         * into configd's own lines, had the text been copied) leaves KeyDirectory a line of its own. */
        ASSERT_OK(relay_torrc_render("exitA", "https://config.example",
                                     "# from the server\nContactInfo a@example.org \\\n", "/k", "/d", NULL, &s));
        ASSERT_NULL(strstr(s, "from the server"));
        ASSERT_TRUE(strstr(s, "\nContactInfo \"a@example.org \\\\\"\n") != NULL); /* the backslash quoted: data */
        ASSERT_TRUE(strstr(s, "\nKeyDirectory /k\nDataDirectory /d\n") != NULL);
        free(s);
        /* What the node's policy refuses is not written at all. */
        ASSERT_ERROR(relay_torrc_render("exitA", "https://x", "Log notice file /etc/passwd\n", "/k", "/d", NULL, &s),
                     EPERM);
        ASSERT_ERROR(relay_torrc_render("exitA", "https://x", "%include /etc\n", "/k", "/d", NULL, &s), EINVAL);
        /* The exits' resolver is the node's: configd's line, after the server's options; the server cannot set it
         * (a path on the node). */
        ASSERT_OK(relay_torrc_render("exitA", "https://x", "ExitRelay 1\n", "/k", "/d", "/usr/share/patela/r.conf",
                                     &s));
        ASSERT_TRUE(strstr(s, "\nDataDirectory /d\nServerDNSResolvConfFile /usr/share/patela/r.conf\n") != NULL);
        free(s);
        ASSERT_ERROR(relay_torrc_render("exitA", "https://x", "ServerDNSResolvConfFile /etc/resolv.conf\n", "/k", "/d",
                                        "/usr/share/patela/r.conf", &s),
                     EPERM);

        ASSERT_OK(relay_network_render("exitA", "192.0.2.10", 0, "2001:db8::10", 64, false, false, 7, &s));
        ASSERT_TRUE(strstr(s, "\n[Network]\nAddress=192.0.2.10/32\nAddress=2001:db8::10/64\n") != NULL);
        ASSERT_NULL(strstr(s, "RoutingPolicyRule"));
        free(s);
        /* A gateway for IPv4 only: a rule for the IPv4 address only. */
        ASSERT_OK(relay_network_render("exitA", "192.0.2.10", 24, "2001:db8::10", 64, true, false, 728352, &s));
        ASSERT_TRUE(strstr(s, "Address=192.0.2.10/24\nAddress=2001:db8::10/64\n\n[RoutingPolicyRule]\n"
                              "From=192.0.2.10/32\nTable=728352\n") != NULL);
        ASSERT_NULL(strstr(s, "From=2001"));
        free(s);
        ASSERT_OK(relay_network_render("exitA", NULL, 24, NULL, 64, true, true, 7, &s));
        ASSERT_NULL(s);

        ASSERT_OK(routes_network_render("192.0.2.1", "2001:db8::1", 728352, &s));
        ASSERT_TRUE(strncmp(s, CONFIGD_FILE_HEADER, strlen(CONFIGD_FILE_HEADER)) == 0);
        ASSERT_TRUE(strstr(s, "\n[Route]\nGateway=192.0.2.1\nGatewayOnLink=yes\nTable=728352\n\n[Route]\n"
                              "Gateway=2001:db8::1\nGatewayOnLink=yes\nTable=728352\n") != NULL);
        free(s);
        ASSERT_OK(routes_network_render(NULL, NULL, 728352, &s));
        ASSERT_NULL(s);
}

TEST(write_list_remove) {
        char dir[] = "/tmp/test-configd-files.XXXXXX";
        char **names = NULL;
        char *sub, *a, *b, *c, *foreign, *content = NULL;
        struct stat st;

        ASSERT_NOT_NULL(mkdtemp(dir));
        sub = path_in(dir, "torrc/deeper");
        a = path_in(sub, "exitA.torrc");
        b = path_in(sub, "exitB.torrc");
        c = path_in(sub, "bad-name.torrc");
        foreign = path_in(sub, "local.torrc");

        /* Parents are created; a second identical write is not a change. */
        ASSERT_EQ(file_write_atomic(a, CONFIGD_FILE_HEADER " A\nNickname exitA\n"), 1);
        ASSERT_EQ(file_write_atomic(a, CONFIGD_FILE_HEADER " A\nNickname exitA\n"), 0);
        ASSERT_EQ(file_write_atomic(a, CONFIGD_FILE_HEADER " A\nNickname exitA\nORPort 9001\n"), 1);
        ASSERT_OK(stat(a, &st));
        ASSERT_EQ(st.st_mode & 07777, 0644);
        ASSERT_OK(file_read(a, &content));
        ASSERT_STREQ(content, CONFIGD_FILE_HEADER " A\nNickname exitA\nORPort 9001\n");
        free(content);
        ASSERT_EQ(file_write_atomic(b, CONFIGD_FILE_HEADER " B\n"), 1);
        ASSERT_EQ(file_write_atomic(c, CONFIGD_FILE_HEADER " C\n"), 1);
        /* Somebody else's file in the same directory. */
        ASSERT_EQ(file_write_atomic(foreign, "# the operator's own\n"), 1);

        ASSERT_OK(files_list_ours(sub, "", ".torrc", &names));
        ASSERT_EQ(strv_length(names), 2); /* not bad-name (not a nickname), not local (not ours) */
        ASSERT_TRUE(strv_contains(names, "exitA") && strv_contains(names, "exitB"));
        strv_free(names);

        ASSERT_EQ(file_remove_ours(b), 1);
        ASSERT_EQ(file_remove_ours(b), 0);
        ASSERT_ERROR(file_remove_ours(foreign), EPERM);
        ASSERT_OK(access(foreign, F_OK));
        /* No temporary is left behind. */
        ASSERT_OK(files_list_ours(sub, ".", "", &names));
        ASSERT_EQ(strv_length(names), 0);
        strv_free(names);

        ASSERT_OK(files_list_ours("/nonexistent/dir", "", ".torrc", &names));
        ASSERT_EQ(strv_length(names), 0);
        strv_free(names);

        free(sub);
        free(a);
        free(b);
        free(c);
        free(foreign);
        remove_tree(dir);
}

TEST(diff) {
        char **removed = NULL, **added = NULL;

        ASSERT_OK(text_diff("a\nb\nc\nb\n", "a\nc\nd\nb\n", &removed, &added));
        ASSERT_EQ(strv_length(removed), 1);
        ASSERT_STREQ(removed[0], "b");
        ASSERT_EQ(strv_length(added), 1);
        ASSERT_STREQ(added[0], "d");
        strv_free(removed);
        strv_free(added);

        ASSERT_OK(text_diff(NULL, "x\ny", &removed, &added));
        ASSERT_EQ(strv_length(removed), 0);
        ASSERT_EQ(strv_length(added), 2);
        strv_free(removed);
        strv_free(added);
}

TEST(uplink_and_resolver) {
        char *dns[] = { (char *) "192.0.2.53", (char *) "2001:db8::53", NULL };
        char *addresses[] = { (char *) "198.51.100.2", (char *) "2001:db8:1::2", NULL };
        char *none[] = { NULL };
        char *s = NULL;

        ASSERT_OK(uplink_network_render(NULL, dns, 0, &s));
        ASSERT_NULL(s);
        ASSERT_OK(uplink_network_render("eth0", dns, 2, &s));
        ASSERT_TRUE(strncmp(s, CONFIGD_FILE_HEADER, strlen(CONFIGD_FILE_HEADER)) == 0);
        ASSERT_TRUE(strstr(s, "\n[Match]\nName=\nName=eth0\n\n[Network]\nDNS=192.0.2.53\nDNS=2001:db8::53\n") !=
                    NULL);
        free(s);
        ASSERT_OK(uplink_network_render(NULL, dns, 1, &s));
        ASSERT_NULL(strstr(s, "[Match]"));
        ASSERT_TRUE(strstr(s, "\n[Network]\nDNS=192.0.2.53\n") != NULL);
        ASSERT_NULL(strstr(s, "2001:db8::53"));
        free(s);
        ASSERT_OK(uplink_network_render("eth0", NULL, 0, &s));
        ASSERT_NULL(strstr(s, "[Network]"));
        free(s);

        ASSERT_OK(resolver_render(addresses, &s));
        ASSERT_TRUE(strncmp(s, CONFIGD_FILE_HEADER, strlen(CONFIGD_FILE_HEADER)) == 0);
        ASSERT_TRUE(strstr(s, "\nserver:\n    outgoing-interface: 198.51.100.2\n"
                              "    outgoing-interface: 2001:db8:1::2\n") != NULL);
        ASSERT_NULL(strstr(s, "127.0.0.1"));
        free(s);
        /* No address of the node's own: no query may leave (unbound would otherwise let the kernel choose). */
        ASSERT_OK(resolver_render(none, &s));
        ASSERT_TRUE(strstr(s, "\nserver:\n    outgoing-interface: 127.0.0.1\n") != NULL);
        free(s);
        ASSERT_OK(resolver_render(NULL, &s));
        ASSERT_TRUE(strstr(s, "outgoing-interface: 127.0.0.1\n") != NULL);
        free(s);
}

TEST(node_candidates) {
        static const struct {
                int family;
                const char *address;
                bool candidate;
        } cases[] = {
                { AF_INET, "198.51.100.2", true },    { AF_INET, "10.0.0.1", true },
                { AF_INET, "127.0.0.1", false },      { AF_INET, "127.1.2.3", false },
                { AF_INET, "169.254.1.1", false },    { AF_INET, "0.0.0.0", false },
                { AF_INET, "224.0.0.1", false },      { AF_INET, "255.255.255.255", false },
                { AF_INET6, "2001:db8::2", true },    { AF_INET6, "fd00::1", true },
                { AF_INET6, "::1", false },           { AF_INET6, "::", false },
                { AF_INET6, "fe80::1", false },       { AF_INET6, "ff02::1", false },
                { AF_INET6, "::ffff:192.0.2.1", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned char buf[sizeof(struct in6_addr)];

                ASSERT_EQ(inet_pton(cases[i].family, cases[i].address, buf), 1);
                if (address_is_node_candidate(cases[i].family, buf) != cases[i].candidate)
                        TEST_FAIL("%s: %s", cases[i].address, cases[i].candidate ? "refused" : "accepted");
        }
        ASSERT_FALSE(address_is_node_candidate(AF_UNIX, "x"));
}

TEST(own_addresses) {
        char *relays[] = { (char *) "127.0.0.1", NULL };
        char **l = NULL;

        /* Loopback is never the node's own address, whatever the relays are; a link that does not exist has none. */
        ASSERT_OK(node_own_addresses("lo", NULL, &l));
        ASSERT_EQ(strv_length(l), 0U);
        strv_free(l);
        ASSERT_OK(node_own_addresses("patela-none0", relays, &l));
        ASSERT_EQ(strv_length(l), 0U);
        strv_free(l);
        /* Every link: sorted, each once, none loopback. */
        ASSERT_OK(node_own_addresses(NULL, NULL, &l));
        for (size_t i = 0; l[i]; i++) {
                ASSERT_FALSE(streq(l[i], "127.0.0.1") || streq(l[i], "::1"));
                if (i > 0)
                        ASSERT_TRUE(strcmp(l[i - 1], l[i]) < 0);
        }
        strv_free(l);
}

DEFINE_TEST_MAIN
