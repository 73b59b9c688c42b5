/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "configd-wire.h"
#include "hexdecoct.h"
#include "string-util.h"
#include "torrc.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define WIRE_BLOB_MAX 4096U
#define WIRE_MESSAGE_MAX 4096U

static int wire_fail(WireError *e, const char *format, ...) _printf_(2, 3);
static int wire_fail(WireError *e, const char *format, ...) {
        va_list ap;

        if (e) {
                va_start(ap, format);
                vsnprintf(e->message, sizeof(e->message), format, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

int wire_parse_body(const char *body, size_t size, bool sensitive, sd_json_variant **ret, WireError *ret_error) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        unsigned line = 0, column = 0;
        char *copy;
        int r;

        if (size == 0)
                return wire_fail(ret_error, "empty reply");
        if (size > WIRE_BODY_MAX)
                return wire_fail(ret_error, "reply larger than %u bytes", WIRE_BODY_MAX);
        if (memchr(body, '\0', size))
                return wire_fail(ret_error, "reply contains a NUL byte");
        copy = strndup(body, size);
        if (!copy)
                return -ENOMEM;
        /* Sensitive variants (the session token) are wiped when freed; so is the copy. */
        r = sd_json_parse(copy, sensitive ? SD_JSON_PARSE_SENSITIVE : 0, &v, &line, &column);
        erase_and_free_sized(copy, size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return wire_fail(ret_error, "reply is not JSON (line %u, column %u)", line, column);
        if (!sd_json_variant_is_object(v))
                return wire_fail(ret_error, "reply is not a JSON object");
        *ret = TAKE_PTR(v);
        return 0;
}

/* sd_json_dispatch_full() refuses unknown (-EADDRNOTAVAIL), duplicate (-ENOTUNIQ), missing (-ENXIO) and
 * mistyped (-EINVAL) fields and names the field: exactly the strictness the protocol wants. */
static int dispatch(sd_json_variant *v, const char *what, const sd_json_dispatch_field table[], void *userdata,
                    WireError *e) {
        const char *bad = NULL;
        int r;

        if (!sd_json_variant_is_object(v))
                return wire_fail(e, "%s: not a JSON object", what);
        r = sd_json_dispatch_full(v, table, NULL, SD_JSON_DEBUG, userdata, &bad);
        if (r >= 0)
                return 0;
        if (r == -ENOMEM)
                return r;
        switch (r) {
        case -EADDRNOTAVAIL:
                return wire_fail(e, "%s: unknown field '%s'", what, bad ?: "?");
        case -ENOTUNIQ:
                return wire_fail(e, "%s: duplicate field '%s'", what, bad ?: "?");
        case -ENXIO:
                return wire_fail(e, "%s: missing field '%s'", what, bad ?: "?");
        default:
                return wire_fail(e, "%s: field '%s' has the wrong type", what, bad ?: "?");
        }
}

static bool is_ip(int family, const char *s) {
        unsigned char buf[16];
        return s && inet_pton(family, s, buf) == 1;
}

/* Base64 that decodes to min…max bytes. */
static bool base64_ok(const char *s, size_t min, size_t max) {
        void *buf = NULL;
        size_t n = 0;

        if (!s || strlen(s) > (max + 2) / 3 * 4 || unbase64mem(s, max, &buf, &n) < 0)
                return false;
        erase_and_free_sized(buf, n);
        return n >= min && n <= max;
}

int wire_decode_error(sd_json_variant *v, WireServerError *ret, WireError *ret_error) {
        static const sd_json_dispatch_field table[] = {
                { "error", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireServerError, code), SD_JSON_MANDATORY },
                { "message", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireServerError, message), SD_JSON_MANDATORY },
                {}
        };
        WireServerError e = {};
        int r;

        r = dispatch(v, "error reply", table, &e, ret_error);
        if (r < 0)
                return r;
        if (isempty(e.code) || strlen(e.code) > 64 || !in_charset(e.code, ALNUM))
                return wire_fail(ret_error, "error reply: malformed 'error'");
        if (strlen(e.message) > WIRE_MESSAGE_MAX)
                return wire_fail(ret_error, "error reply: 'message' too long");
        for (const char *p = e.message; *p; p++)
                if ((unsigned char) *p < ' ')
                        return wire_fail(ret_error, "error reply: control character in 'message'");
        *ret = e;
        return 0;
}

static bool fingerprint_ok(const char *s) {
        return s && strlen(s) >= 4 && strlen(s) <= 64 && in_charset(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-");
}

int wire_decode_enroll(sd_json_variant *v, bool enabled, WireEnroll *ret, WireError *ret_error) {
        static const sd_json_dispatch_field pending_table[] = {
                { "state", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireEnroll, state), SD_JSON_MANDATORY },
                { "fingerprint", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireEnroll, fingerprint), SD_JSON_MANDATORY },
                {}
        };
        static const sd_json_dispatch_field enabled_table[] = {
                { "state", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireEnroll, state), SD_JSON_MANDATORY },
                { "fingerprint", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireEnroll, fingerprint), SD_JSON_MANDATORY },
                { "challenge", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireEnroll, challenge), SD_JSON_MANDATORY },
                { "credentialBlob", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireEnroll, credential_blob), SD_JSON_MANDATORY },
                { "encryptedSecret", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireEnroll, encrypted_secret), SD_JSON_MANDATORY },
                { "nonce", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireEnroll, nonce), SD_JSON_MANDATORY },
                { "pcrs", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref, offsetof(WireEnroll, pcrs), SD_JSON_MANDATORY },
                { "bank", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireEnroll, bank), SD_JSON_MANDATORY },
                {}
        };
        WireEnroll e = {};
        int64_t last = -1;
        size_t n;
        int r;

        /* A pending reply carries nothing else: a challenge next to "pending" is a confused server. */
        r = dispatch(v, "enrolment reply", enabled ? enabled_table : pending_table, &e, ret_error);
        if (r < 0)
                return r;
        if (!streq(e.state, enabled ? "enabled" : "pending"))
                return wire_fail(ret_error, "enrolment reply: state '%.32s' does not match the HTTP status", e.state);
        if (!fingerprint_ok(e.fingerprint))
                return wire_fail(ret_error, "enrolment reply: malformed 'fingerprint'");
        e.enabled = enabled;
        if (!enabled) {
                *ret = e;
                return 0;
        }

        if (strlen(e.challenge) != 32 || !in_charset(e.challenge, "0123456789abcdefABCDEF"))
                return wire_fail(ret_error, "enrolment reply: malformed 'challenge'");
        if (!base64_ok(e.credential_blob, 1, WIRE_BLOB_MAX))
                return wire_fail(ret_error, "enrolment reply: malformed 'credentialBlob'");
        if (!base64_ok(e.encrypted_secret, 1, WIRE_BLOB_MAX))
                return wire_fail(ret_error, "enrolment reply: malformed 'encryptedSecret'");
        if (!base64_ok(e.nonce, 1, 64))
                return wire_fail(ret_error, "enrolment reply: malformed 'nonce'");
        n = sd_json_variant_elements(e.pcrs);
        if (n == 0 || n > 24)
                return wire_fail(ret_error, "enrolment reply: 'pcrs' must list 1…24 PCRs");
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *p = sd_json_variant_by_index(e.pcrs, i);
                int64_t idx;

                if (!sd_json_variant_is_integer(p))
                        return wire_fail(ret_error, "enrolment reply: 'pcrs' holds a non-integer");
                idx = sd_json_variant_integer(p);
                if (idx <= last || idx > 23)
                        return wire_fail(ret_error, "enrolment reply: 'pcrs' not ascending PCRs 0…23");
                last = idx;
        }
        if (!streq(e.bank, "sha1") && !streq(e.bank, "sha256") && !streq(e.bank, "sha384") &&
            !streq(e.bank, "sha512"))
                return wire_fail(ret_error, "enrolment reply: unknown PCR bank '%.16s'", e.bank);
        *ret = e;
        return 0;
}

int wire_decode_attest(sd_json_variant *v, WireAttest *ret, WireError *ret_error) {
        static const sd_json_dispatch_field table[] = {
                { "token", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(WireAttest, token), SD_JSON_MANDATORY },
                { "expiresIn", _SD_JSON_VARIANT_TYPE_INVALID, sd_json_dispatch_uint64, offsetof(WireAttest, expires_in), SD_JSON_MANDATORY },
                {}
        };
        WireAttest a = {};
        int r;

        r = dispatch(v, "attestation reply", table, &a, ret_error);
        if (r < 0)
                return r;
        if (!base64_ok(a.token, 32, 32))
                return wire_fail(ret_error, "attestation reply: malformed 'token'");
        if (a.expires_in == 0 || a.expires_in > 7 * 24 * 3600)
                return wire_fail(ret_error, "attestation reply: 'expiresIn' out of range");
        *ret = a;
        return 0;
}

void wire_network_done(WireNetwork *n) {
        free(n->interface);
        free(n->ipv4_gateway);
        free(n->ipv6_gateway);
        for (size_t i = 0; i < n->n_dns; i++)
                free(n->dns[i]);
        *n = (WireNetwork) {};
}

static int parse_prefix(const char *s, unsigned max, unsigned *ret) {
        unsigned long long v;

        if (!s)
                return 0;
        if (safe_atou64(s, max, &v) < 0 || v == 0)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int dup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* {name, ipv4, ipv6} of each relay in the network reply, and {name, ipv4, ipv6, torrc} in the relays
 * reply. */
typedef struct RelayFields {
        const char *name;
        const char *ipv4;
        const char *ipv6;
        const char *torrc;
} RelayFields;

static int decode_relay(sd_json_variant *v, bool with_torrc, RelayFields *ret, WireError *e) {
        static const sd_json_dispatch_field table[] = {
                { "name", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(RelayFields, name), SD_JSON_MANDATORY },
                { "ipv4", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(RelayFields, ipv4), SD_JSON_MANDATORY | SD_JSON_NULLABLE },
                { "ipv6", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(RelayFields, ipv6), SD_JSON_MANDATORY | SD_JSON_NULLABLE },
                { "torrc", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(RelayFields, torrc), SD_JSON_MANDATORY },
                {}
        };
        sd_json_dispatch_field t[ELEMENTSOF(table)];
        RelayFields f = {};
        int r;

        memcpy(t, table, sizeof(t));
        if (!with_torrc)
                t[3] = (sd_json_dispatch_field) {};
        r = dispatch(v, with_torrc ? "relays reply: relay" : "network reply: relay", t, &f, e);
        if (r < 0)
                return r;
        /* A name is only checked for size here; wire_check_relay() judges it, relay by relay. */
        if (isempty(f.name) || strlen(f.name) > 64)
                return wire_fail(e, "relay: malformed 'name'");
        if ((f.ipv4 && strlen(f.ipv4) > 64) || (f.ipv6 && strlen(f.ipv6) > 64))
                return wire_fail(e, "relay %s: address too long", f.name);
        if (with_torrc && strlen(f.torrc) > WIRE_TORRC_MAX)
                return wire_fail(e, "relay %s: torrc larger than %u bytes", f.name, WIRE_TORRC_MAX);
        *ret = f;
        return 0;
}

static int check_relay_list(sd_json_variant *relays, bool with_torrc, WireError *e) {
        size_t n = sd_json_variant_elements(relays);
        RelayFields f[WIRE_RELAYS_MAX];
        int r;

        if (n > WIRE_RELAYS_MAX)
                return wire_fail(e, "more than %u relays", WIRE_RELAYS_MAX);
        for (size_t i = 0; i < n; i++) {
                r = decode_relay(sd_json_variant_by_index(relays, i), with_torrc, &f[i], e);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (streq(f[i].name, f[j].name))
                                return wire_fail(e, "relay %s listed twice", f[i].name);
        }
        return 0;
}

int wire_decode_network(sd_json_variant *v, WireNetwork *ret, WireError *ret_error) {
        struct {
                const char *interface, *ipv4_gateway, *ipv6_gateway, *ipv4_prefix, *ipv6_prefix, *or_port;
                sd_json_variant *dns, *relays;
        } f = {};
        static const sd_json_dispatch_field table[] = {
                { "Interface", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(f), interface), 0 },
                { "IPv4Gateway", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(f), ipv4_gateway), 0 },
                { "IPv6Gateway", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(f), ipv6_gateway), 0 },
                { "IPv4PrefixLength", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(f), ipv4_prefix), 0 },
                { "IPv6PrefixLength", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(f), ipv6_prefix), 0 },
                { "ORPort", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(f), or_port), 0 },
                { "DNS", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref, offsetof(typeof(f), dns), 0 },
                { "relays", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref, offsetof(typeof(f), relays), SD_JSON_MANDATORY },
                {}
        };
        _cleanup_(wire_network_done) WireNetwork n = {};
        int r;

        r = dispatch(v, "network reply", table, &f, ret_error);
        if (r < 0)
                return r;

        /* The same rules as the server's setting_validate(): refuse what the server would not store. */
        if (f.interface && (isempty(f.interface) || strlen(f.interface) >= 16 || streq(f.interface, ".") ||
                            streq(f.interface, "..") || !in_charset(f.interface, ALNUM "_.-@")))
                return wire_fail(ret_error, "network reply: malformed 'Interface'");
        if (f.ipv4_gateway && !is_ip(AF_INET, f.ipv4_gateway))
                return wire_fail(ret_error, "network reply: malformed 'IPv4Gateway'");
        if (f.ipv6_gateway && !is_ip(AF_INET6, f.ipv6_gateway))
                return wire_fail(ret_error, "network reply: malformed 'IPv6Gateway'");
        if (parse_prefix(f.ipv4_prefix, 32, &n.ipv4_prefix_length) < 0)
                return wire_fail(ret_error, "network reply: malformed 'IPv4PrefixLength'");
        if (parse_prefix(f.ipv6_prefix, 128, &n.ipv6_prefix_length) < 0)
                return wire_fail(ret_error, "network reply: malformed 'IPv6PrefixLength'");
        if (parse_prefix(f.or_port, 65535, &n.or_port) < 0)
                return wire_fail(ret_error, "network reply: malformed 'ORPort'");
        if (f.dns) {
                if (sd_json_variant_elements(f.dns) > WIRE_DNS_MAX)
                        return wire_fail(ret_error, "network reply: more than %u DNS servers", WIRE_DNS_MAX);
                for (size_t i = 0; i < sd_json_variant_elements(f.dns); i++) {
                        sd_json_variant *d = sd_json_variant_by_index(f.dns, i);
                        const char *s = sd_json_variant_is_string(d) ? sd_json_variant_string(d) : NULL;

                        if (!is_ip(AF_INET, s) && !is_ip(AF_INET6, s))
                                return wire_fail(ret_error, "network reply: malformed 'DNS' entry");
                        n.dns[n.n_dns] = strdup(s);
                        if (!n.dns[n.n_dns])
                                return -ENOMEM;
                        n.n_dns++;
                }
        }
        r = check_relay_list(f.relays, /* with_torrc= */ false, ret_error);
        if (r < 0)
                return r;

        if (dup_or_null(f.interface, &n.interface) < 0 || dup_or_null(f.ipv4_gateway, &n.ipv4_gateway) < 0 ||
            dup_or_null(f.ipv6_gateway, &n.ipv6_gateway) < 0)
                return -ENOMEM;
        *ret = n;
        n = (WireNetwork) {};
        return 0;
}

void wire_relays_free(WireRelay *r, size_t n) {
        for (size_t i = 0; r && i < n; i++) {
                free(r[i].name);
                free(r[i].ipv4);
                free(r[i].ipv6);
                free(r[i].torrc);
        }
        free(r);
}

int wire_decode_relays(sd_json_variant *v, WireRelay **ret, size_t *ret_n, WireError *ret_error) {
        static const sd_json_dispatch_field table[] = {
                { "relays", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref, 0, SD_JSON_MANDATORY },
                {}
        };
        sd_json_variant *relays = NULL;
        WireRelay *out;
        size_t n;
        int r;

        r = dispatch(v, "relays reply", table, &relays, ret_error);
        if (r < 0)
                return r;
        r = check_relay_list(relays, /* with_torrc= */ true, ret_error);
        if (r < 0)
                return r;

        n = sd_json_variant_elements(relays);
        out = calloc(MAX(n, (size_t) 1), sizeof(WireRelay));
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                RelayFields f = {};

                (void) decode_relay(sd_json_variant_by_index(relays, i), true, &f, NULL);
                if (dup_or_null(f.name, &out[i].name) < 0 || dup_or_null(f.ipv4, &out[i].ipv4) < 0 ||
                    dup_or_null(f.ipv6, &out[i].ipv6) < 0 || dup_or_null(f.torrc, &out[i].torrc) < 0) {
                        wire_relays_free(out, n);
                        return -ENOMEM;
                }
        }
        *ret = out;
        *ret_n = n;
        return 0;
}

bool wire_relay_name_ok(const char *name) {
        return name && strlen(name) >= 1 && strlen(name) <= WIRE_RELAY_NAME_MAX && in_charset(name, ALNUM);
}

int wire_check_relay(const WireRelay *r, WireError *ret_error) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        TorrcError te = {};
        int k;

        if (!wire_relay_name_ok(r->name))
                return wire_fail(ret_error, "not a tor nickname (1–19 letters and digits)"), -EINVAL;
        if (r->ipv4 && !is_ip(AF_INET, r->ipv4))
                return wire_fail(ret_error, "malformed IPv4 address"), -EINVAL;
        if (r->ipv6 && !is_ip(AF_INET6, r->ipv6))
                return wire_fail(ret_error, "malformed IPv6 address"), -EINVAL;

        k = torrc_parse(r->torrc, strlen(r->torrc), &t, &te);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return wire_fail(ret_error, "torrc line %u: %s", te.line, te.message), -EINVAL;
        for (size_t i = 0; i < t->n_entries; i++) {
                const char *name = t->entries[i].option->name;
                /* configd points these at keyd's tmpfs directory and the instance's data directory. */
                if (streq(name, "KeyDirectory") || streq(name, "DataDirectory"))
                        return wire_fail(ret_error, "torrc line %u sets %s, which patela-configd owns",
                                         t->entries[i].line, name), -EINVAL;
        }
        return 0;
}
