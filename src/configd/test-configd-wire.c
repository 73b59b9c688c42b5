/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "configd-wire.h"
#include "tests.h"

#define TOKEN "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define CHALLENGE "00112233445566778899aabbccddeeff"

static sd_json_variant *parse(const char *text) {
        sd_json_variant *v = NULL;
        WireError e = {};

        if (wire_parse_body(text, strlen(text), false, &v, &e) < 0)
                TEST_FAIL("cannot parse %s: %s", text, e.message);
        return v;
}

/* The decoder refused the reply, and its message says which field. */
#define ASSERT_REFUSED(expr, e, needle)                                                                \
        do {                                                                                         \
                ASSERT_ERROR(expr, EBADMSG);                                                         \
                if (!strstr((e).message, (needle)))                                                  \
                        TEST_FAIL("message '%s' does not mention '%s'", (e).message, (needle));      \
        } while (0)

TEST(body) {
        sd_json_variant *v = NULL;
        WireError e = {};

        ASSERT_REFUSED(wire_parse_body("", 0, false, &v, &e), e, "empty");
        ASSERT_REFUSED(wire_parse_body("{}\0{}", 5, false, &v, &e), e, "NUL");
        ASSERT_REFUSED(wire_parse_body("[1]", 3, false, &v, &e), e, "not a JSON object");
        ASSERT_REFUSED(wire_parse_body("{} {}", 5, false, &v, &e), e, "not JSON");
        ASSERT_REFUSED(wire_parse_body("{\"a\":", 5, false, &v, &e), e, "not JSON");
        ASSERT_REFUSED(wire_parse_body("{}", WIRE_BODY_MAX + 1, false, &v, &e), e, "larger");
        ASSERT_NULL(v);
        ASSERT_OK(wire_parse_body("{\"token\":\"x\"}\n", 14, true, &v, &e));
        ASSERT_TRUE(sd_json_variant_is_sensitive(v));
        sd_json_variant_unref(v);
}

TEST(server_error) {
        sd_json_variant *v;
        WireServerError s;
        WireError e = {};

        v = parse("{\"error\":\"NodeDisabled\",\"message\":\"Node 1 is disabled.\"}");
        ASSERT_OK(wire_decode_error(v, &s, &e));
        ASSERT_STREQ(s.code, "NodeDisabled");
        ASSERT_STREQ(s.message, "Node 1 is disabled.");
        sd_json_variant_unref(v);

        v = parse("{\"error\":\"X\"}");
        ASSERT_REFUSED(wire_decode_error(v, &s, &e), e, "missing field 'message'");
        sd_json_variant_unref(v);
        v = parse("{\"error\":\"X\",\"message\":\"m\",\"debug\":1}");
        ASSERT_REFUSED(wire_decode_error(v, &s, &e), e, "unknown field 'debug'");
        sd_json_variant_unref(v);
        v = parse("{\"error\":\"Not A Code\",\"message\":\"m\"}");
        ASSERT_REFUSED(wire_decode_error(v, &s, &e), e, "error");
        sd_json_variant_unref(v);
        v = parse("{\"error\":\"X\",\"message\":\"line\\nbreak\"}");
        ASSERT_REFUSED(wire_decode_error(v, &s, &e), e, "control character");
        sd_json_variant_unref(v);
}

TEST(enroll_pending) {
        sd_json_variant *v;
        WireEnroll r;
        WireError e = {};

        v = parse("{\"state\":\"pending\",\"fingerprint\":\"7K2Q-M9XD-4RTB-0HNZ\"}");
        ASSERT_OK(wire_decode_enroll(v, false, &r, &e));
        ASSERT_FALSE(r.enabled);
        ASSERT_STREQ(r.fingerprint, "7K2Q-M9XD-4RTB-0HNZ");
        /* 200 must say enabled, 202 pending. */
        ASSERT_REFUSED(wire_decode_enroll(v, true, &r, &e), e, "missing field");
        sd_json_variant_unref(v);

        v = parse("{\"state\":\"enabled\",\"fingerprint\":\"7K2Q-M9XD-4RTB-0HNZ\"}");
        ASSERT_REFUSED(wire_decode_enroll(v, false, &r, &e), e, "does not match");
        sd_json_variant_unref(v);
        v = parse("{\"state\":\"pending\",\"fingerprint\":\"7K2Q\",\"nonce\":\"AAAA\"}");
        ASSERT_REFUSED(wire_decode_enroll(v, false, &r, &e), e, "unknown field 'nonce'");
        sd_json_variant_unref(v);
        v = parse("{\"state\":\"pending\",\"fingerprint\":\"<script>\"}");
        ASSERT_REFUSED(wire_decode_enroll(v, false, &r, &e), e, "fingerprint");
        sd_json_variant_unref(v);
        v = parse("{\"state\":\"pending\",\"fingerprint\":7}");
        ASSERT_REFUSED(wire_decode_enroll(v, false, &r, &e), e, "wrong type");
        sd_json_variant_unref(v);
        v = parse("{\"state\":\"pending\",\"state\":\"pending\",\"fingerprint\":\"7K2Q\"}");
        ASSERT_REFUSED(wire_decode_enroll(v, false, &r, &e), e, "duplicate field 'state'");
        sd_json_variant_unref(v);
}

static char *enabled_reply(const char *challenge, const char *nonce, const char *pcrs, const char *bank) {
        char *s;

        if (asprintf(&s,
                     "{\"state\":\"enabled\",\"fingerprint\":\"7K2Q-M9XD-4RTB-0HNZ\",\"challenge\":\"%s\","
                     "\"credentialBlob\":\"AAAA\",\"encryptedSecret\":\"AAAA\",\"nonce\":\"%s\",\"pcrs\":%s,"
                     "\"bank\":\"%s\"}",
                     challenge, nonce, pcrs, bank) < 0)
                return NULL;
        return s;
}

TEST(enroll_enabled) {
        static const struct {
                const char *challenge, *nonce, *pcrs, *bank, *needle;
        } bad[] = {
                { "0011", TOKEN, "[0,7]", "sha256", "challenge" },
                { CHALLENGE "zz", TOKEN, "[0,7]", "sha256", "challenge" },
                { CHALLENGE, "", "[0,7]", "sha256", "nonce" },
                { CHALLENGE, "not base64!", "[0,7]", "sha256", "nonce" },
                { CHALLENGE, TOKEN TOKEN TOKEN, "[0,7]", "sha256", "nonce" }, /* > 64 bytes */
                { CHALLENGE, TOKEN, "[]", "sha256", "pcrs" },
                { CHALLENGE, TOKEN, "[7,0]", "sha256", "pcrs" },
                { CHALLENGE, TOKEN, "[0,0]", "sha256", "pcrs" },
                { CHALLENGE, TOKEN, "[24]", "sha256", "pcrs" },
                { CHALLENGE, TOKEN, "[\"7\"]", "sha256", "pcrs" },
                { CHALLENGE, TOKEN, "[0,7]", "md5", "bank" },
        };
        sd_json_variant *v;
        WireEnroll r;
        WireError e = {};
        char *s;

        s = enabled_reply(CHALLENGE, TOKEN, "[0,1,2,3,4,5,7,9,11,12]", "sha256");
        v = parse(s);
        free(s);
        ASSERT_OK(wire_decode_enroll(v, true, &r, &e));
        ASSERT_TRUE(r.enabled);
        ASSERT_STREQ(r.challenge, CHALLENGE);
        ASSERT_STREQ(r.bank, "sha256");
        ASSERT_EQ(sd_json_variant_elements(r.pcrs), 10);
        sd_json_variant_unref(v);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                s = enabled_reply(bad[i].challenge, bad[i].nonce, bad[i].pcrs, bad[i].bank);
                v = parse(s);
                free(s);
                ASSERT_REFUSED(wire_decode_enroll(v, true, &r, &e), e, bad[i].needle);
                sd_json_variant_unref(v);
        }
}

TEST(attest) {
        sd_json_variant *v;
        WireAttest a;
        WireError e = {};

        v = parse("{\"token\":\"" TOKEN "\",\"expiresIn\":3600}");
        ASSERT_OK(wire_decode_attest(v, &a, &e));
        ASSERT_STREQ(a.token, TOKEN);
        ASSERT_EQ(a.expires_in, 3600);
        sd_json_variant_unref(v);

        v = parse("{\"token\":\"AAAA\",\"expiresIn\":3600}");
        ASSERT_REFUSED(wire_decode_attest(v, &a, &e), e, "token");
        sd_json_variant_unref(v);
        v = parse("{\"token\":\"" TOKEN "\",\"expiresIn\":0}");
        ASSERT_REFUSED(wire_decode_attest(v, &a, &e), e, "expiresIn");
        sd_json_variant_unref(v);
        v = parse("{\"token\":\"" TOKEN "\",\"expiresIn\":-5}");
        ASSERT_REFUSED(wire_decode_attest(v, &a, &e), e, "expiresIn");
        sd_json_variant_unref(v);
        v = parse("{\"token\":\"" TOKEN "\"}");
        ASSERT_REFUSED(wire_decode_attest(v, &a, &e), e, "missing field 'expiresIn'");
        sd_json_variant_unref(v);
}

TEST(network) {
        sd_json_variant *v;
        WireNetwork n = {};
        WireError e = {};

        v = parse("{\"Interface\":\"eth0\",\"IPv4Gateway\":\"192.0.2.1\",\"IPv6Gateway\":\"2001:db8::1\","
                  "\"IPv4PrefixLength\":\"24\",\"IPv6PrefixLength\":\"64\",\"DNS\":[\"192.0.2.53\",\"2001:db8::53\"],"
                  "\"ORPort\":\"443\",\"relays\":[{\"name\":\"exitA\",\"ipv4\":\"192.0.2.10\",\"ipv6\":null}]}");
        ASSERT_OK(wire_decode_network(v, &n, &e));
        ASSERT_STREQ(n.interface, "eth0");
        ASSERT_EQ(n.ipv4_prefix_length, 24);
        ASSERT_EQ(n.ipv6_prefix_length, 64);
        ASSERT_EQ(n.n_dns, 2);
        ASSERT_STREQ(n.dns[1], "2001:db8::53");
        ASSERT_EQ(n.or_port, 443);
        wire_network_done(&n);
        sd_json_variant_unref(v);

        /* Nothing set: only the relays, which may be none. */
        v = parse("{\"relays\":[]}");
        ASSERT_OK(wire_decode_network(v, &n, &e));
        ASSERT_NULL(n.interface);
        ASSERT_EQ(n.n_dns, 0);
        wire_network_done(&n);
        sd_json_variant_unref(v);

        static const struct {
                const char *json, *needle;
        } bad[] = {
                { "{}", "missing field 'relays'" },
                { "{\"relays\":[],\"Gateway\":\"x\"}", "unknown field 'Gateway'" },
                { "{\"relays\":[],\"Interface\":\"eth0/../x\"}", "Interface" },
                { "{\"relays\":[],\"IPv4Gateway\":\"2001:db8::1\"}", "IPv4Gateway" },
                { "{\"relays\":[],\"IPv4PrefixLength\":\"33\"}", "IPv4PrefixLength" },
                { "{\"relays\":[],\"IPv6PrefixLength\":64}", "wrong type" },
                { "{\"relays\":[],\"DNS\":[\"resolver.example\"]}", "DNS" },
                { "{\"relays\":[],\"ORPort\":\"65536\"}", "ORPort" },
                { "{\"relays\":[{\"name\":\"a\",\"ipv4\":null,\"ipv6\":null},{\"name\":\"a\",\"ipv4\":null,\"ipv6\":null}]}",
                  "listed twice" },
                { "{\"relays\":[{\"name\":\"a\",\"ipv4\":null}]}", "missing field 'ipv6'" },
                { "{\"relays\":[{\"name\":\"a\",\"ipv4\":null,\"ipv6\":null,\"torrc\":\"x\"}]}", "unknown field 'torrc'" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                v = parse(bad[i].json);
                ASSERT_REFUSED(wire_decode_network(v, &n, &e), e, bad[i].needle);
                sd_json_variant_unref(v);
        }
}

TEST(relays) {
        sd_json_variant *v;
        WireRelay *r = NULL;
        WireError e = {};
        size_t n = 0;

        v = parse("{\"relays\":[{\"name\":\"exitA\",\"ipv4\":\"192.0.2.10\",\"ipv6\":\"2001:db8::10\","
                  "\"torrc\":\"Nickname exitA\\nORPort 192.0.2.10:9001\\n\"},"
                  "{\"name\":\"bad/name\",\"ipv4\":null,\"ipv6\":null,\"torrc\":\"\"}]}");
        ASSERT_OK(wire_decode_relays(v, &r, &n, &e));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(r[0].name, "exitA");
        ASSERT_STREQ(r[0].ipv6, "2001:db8::10");
        ASSERT_NULL(r[1].ipv4);
        ASSERT_OK(wire_check_relay(&r[0], &e));
        /* A bad relay is judged alone. */
        ASSERT_ERROR(wire_check_relay(&r[1], &e), EINVAL);
        ASSERT_TRUE(strstr(e.message, "nickname") != NULL);
        wire_relays_free(r, n);
        sd_json_variant_unref(v);

        v = parse("{\"relays\":[{\"name\":\"exitA\",\"ipv4\":null,\"ipv6\":null}]}");
        ASSERT_REFUSED(wire_decode_relays(v, &r, &n, &e), e, "missing field 'torrc'");
        sd_json_variant_unref(v);
        v = parse("{\"relays\":{}}");
        ASSERT_REFUSED(wire_decode_relays(v, &r, &n, &e), e, "wrong type");
        sd_json_variant_unref(v);
        v = parse("{\"relays\":[],\"count\":0}");
        ASSERT_REFUSED(wire_decode_relays(v, &r, &n, &e), e, "unknown field 'count'");
        sd_json_variant_unref(v);
}

TEST(check_relay) {
        WireRelay r = { .name = (char *) "exitA", .torrc = (char *) "Nickname exitA\n" };
        WireError e = {};

        ASSERT_OK(wire_check_relay(&r, &e));
        r.ipv4 = (char *) "192.0.2.300";
        ASSERT_ERROR(wire_check_relay(&r, &e), EINVAL);
        r.ipv4 = NULL;
        r.ipv6 = (char *) "192.0.2.1";
        ASSERT_ERROR(wire_check_relay(&r, &e), EINVAL);
        r.ipv6 = NULL;
        r.name = (char *) "exitAexitAexitAexitAx"; /* 21 > 19 */
        ASSERT_ERROR(wire_check_relay(&r, &e), EINVAL);
        r.name = (char *) "exitA";
        r.torrc = (char *) "NoSuchOption 1\n";
        ASSERT_ERROR(wire_check_relay(&r, &e), EINVAL);
        ASSERT_TRUE(strstr(e.message, "line 1") != NULL);
        /* configd points these at keyd's and the instance's directories: the server cannot. */
        r.torrc = (char *) "Nickname exitA\nKeyDirectory /tmp/keys\n";
        ASSERT_ERROR(wire_check_relay(&r, &e), EINVAL);
        ASSERT_TRUE(strstr(e.message, "KeyDirectory") != NULL);
        r.torrc = (char *) "datadirectory /var/lib/x\n";
        ASSERT_ERROR(wire_check_relay(&r, &e), EINVAL);
        ASSERT_TRUE(strstr(e.message, "DataDirectory") != NULL);
        r.torrc = (char *) "%include /etc/passwd\n";
        ASSERT_ERROR(wire_check_relay(&r, &e), EINVAL);
}

DEFINE_TEST_MAIN
