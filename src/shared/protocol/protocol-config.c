/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/node/network and GET /v1/node/relays, the relay check, and the error reply. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "protocol-json.h"
#include "string-util.h"
#include "tor-nickname.h"
#include "torrc.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* ---- relays ------------------------------------------------------------------------------------------ */

void proto_relays_free(ProtoRelay *r, size_t n) {
        for (size_t i = 0; r && i < n; i++) {
                free(r[i].name);
                free(r[i].ipv4);
                free(r[i].ipv6);
                free(r[i].torrc);
        }
        free(r);
}

static int encode_relay(json_object *array, const ProtoRelay *r, bool with_torrc) {
        json_object *e = proto_json_append(array, json_object_new_object());
        int k;

        if (!e)
                return -ENOMEM;
        k = proto_json_add(e, "name", json_object_new_string(r->name));
        /* json-c stores NULL as null */
        if (k >= 0 && json_object_object_add(e, "ipv4", r->ipv4 ? json_object_new_string(r->ipv4) : NULL) < 0)
                k = -ENOMEM;
        if (k >= 0 && json_object_object_add(e, "ipv6", r->ipv6 ? json_object_new_string(r->ipv6) : NULL) < 0)
                k = -ENOMEM;
        if (k >= 0 && with_torrc)
                k = proto_json_add(e, "torrc", json_object_new_string(r->torrc ?: ""));
        return k;
}

/* The relay list of either reply: names unique and of a sane length (the full nickname rule is judged relay
 * by relay, proto_relay_check(), so that one bad relay does not take the others down). */
static int decode_relays(json_object *a, const char *what, bool with_torrc, ProtoRelay **ret, size_t *ret_n,
                         ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "name", json_type_string, PROTO_REQUIRED },
                { "ipv4", json_type_string, PROTO_REQUIRED | PROTO_NULLABLE },
                { "ipv6", json_type_string, PROTO_REQUIRED | PROTO_NULLABLE },
                { "torrc", json_type_string, PROTO_REQUIRED },
        };
        size_t n = json_object_array_length(a);
        ProtoRelay *relays;
        char relay_what[64];
        int k = 0;

        snprintf(relay_what, sizeof(relay_what), "%s: relay", what);
        if (n > PROTO_RELAYS_MAX)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "relays", "%s: more than %u relays", what,
                                  PROTO_RELAYS_MAX);
        relays = calloc(MAX(n, (size_t) 1), sizeof(ProtoRelay));
        if (!relays)
                return -ENOMEM;
        for (size_t i = 0; k >= 0 && i < n; i++) {
                json_object *v[ELEMENTSOF(fields)];
                ProtoRelay *r = &relays[i];

                k = proto_fields(json_object_array_get_idx(a, i), relay_what, fields,
                                 with_torrc ? ELEMENTSOF(fields) : ELEMENTSOF(fields) - 1, v, diag);
                if (k >= 0 && (proto_string_dup(v[0], relay_what, "name", 64, &r->name, NULL) < 0 || isempty(r->name)))
                        k = proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "name", "%s: malformed 'name'", relay_what);
                if (k >= 0 && (proto_string_dup(v[1], relay_what, "ipv4", PROTO_ADDRESS_MAX, &r->ipv4, NULL) < 0 ||
                               proto_string_dup(v[2], relay_what, "ipv6", PROTO_ADDRESS_MAX, &r->ipv6, NULL) < 0))
                        k = proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "ipv4", "relay %s: address too long",
                                       r->name);
                if (k >= 0 && with_torrc &&
                    proto_string_dup(v[3], relay_what, "torrc", PROTO_TORRC_MAX, &r->torrc, NULL) < 0)
                        k = proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "torrc",
                                       "relay %s: torrc larger than %u bytes or with a NUL byte", r->name,
                                       PROTO_TORRC_MAX);
                for (size_t j = 0; k >= 0 && j < i; j++)
                        if (streq(relays[i].name, relays[j].name))
                                k = proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "relays", "relay %s listed twice",
                                               r->name);
        }
        if (k < 0) {
                proto_relays_free(relays, n);
                return k;
        }
        *ret = relays;
        *ret_n = n;
        return 0;
}

void proto_family_keys_done(ProtoFamilyKeys *f) {
        explicit_bzero(f, sizeof(*f));
}

int proto_relays_encode(const ProtoRelay *relays, size_t n, const ProtoFamilyKeys *family, char **ret) {
        json_object *o = json_object_new_object(), *a;
        bool secret = family && family->n > 0;
        int k = o ? 0 : -ENOMEM;

        if (family && family->n > PROTO_FAMILY_KEYS_MAX)
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "relays", a = json_object_new_array());
        for (size_t i = 0; k >= 0 && i < n; i++)
                k = encode_relay(a, &relays[i], /* with_torrc= */ true);
        if (k >= 0)
                k = proto_json_add(o, "familyKeys", a = json_object_new_array());
        for (size_t i = 0; k >= 0 && secret && i < family->n; i++)
                if (!proto_json_append(a, proto_json_base64(family->keys[i], PROTO_FAMILY_KEY_SIZE)))
                        k = -ENOMEM;
        return proto_json_finish(o, k, secret, ret);
}

/* The family keys of a relays reply: base64 of PROTO_FAMILY_KEY_SIZE bytes each, distinct, at most
 * PROTO_FAMILY_KEYS_MAX. */
static int decode_family_keys(json_object *a, const char *what, ProtoFamilyKeys *ret, ProtoDiag *diag) {
        size_t n = a ? json_object_array_length(a) : 0;
        ProtoFamilyKeys f = {};
        int k = 0;

        if (n > PROTO_FAMILY_KEYS_MAX)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "familyKeys", "%s: more than %u family keys", what,
                                  PROTO_FAMILY_KEYS_MAX);
        for (size_t i = 0; k >= 0 && i < n; i++) {
                ProtoBlob b = {};

                k = proto_base64(json_object_array_get_idx(a, i), what, "familyKeys", PROTO_FAMILY_KEY_SIZE,
                                 PROTO_FAMILY_KEY_SIZE, &b, diag);
                if (k < 0)
                        break;
                memcpy(f.keys[i], b.data, PROTO_FAMILY_KEY_SIZE);
                proto_blob_done_erase(&b);
                for (size_t j = 0; k >= 0 && j < i; j++)
                        if (memcmp(f.keys[i], f.keys[j], PROTO_FAMILY_KEY_SIZE) == 0)
                                k = proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "familyKeys",
                                               "%s: a family key listed twice", what);
                f.n = i + 1;
        }
        if (k < 0) {
                proto_family_keys_done(&f);
                return k;
        }
        *ret = f;
        explicit_bzero(&f, sizeof(f));
        return 0;
}

int proto_relays_decode(const char *body, size_t size, ProtoRelay **ret, size_t *ret_n, ProtoFamilyKeys *ret_family,
                        ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "relays", json_type_array, PROTO_REQUIRED },
                { "familyKeys", json_type_array, PROTO_NULLABLE },
        };
        static const char what[] = "relays reply";
        _cleanup_(json_put_erasep) json_object *o = NULL;
        _cleanup_(proto_family_keys_done) ProtoFamilyKeys family = {};
        json_object *v[ELEMENTSOF(fields)];
        int k;

        /* Sensitive whether or not it holds family keys: the parser's buffers are wiped either way. */
        k = proto_json_decode(body, size, PROTO_REPLY_MAX, /* sensitive= */ true, what, fields, ELEMENTSOF(fields), &o,
                             v, diag);
        if (k >= 0)
                k = decode_family_keys(v[1], what, &family, diag);
        if (k >= 0)
                k = decode_relays(v[0], what, /* with_torrc= */ true, ret, ret_n, diag);
        if (k < 0)
                return k;
        *ret_family = family;
        return 0;
}

/* ---- network ----------------------------------------------------------------------------------------- */

void proto_network_done(ProtoNetwork *n) {
        free(n->interface);
        free(n->ipv4_gateway);
        free(n->ipv6_gateway);
        for (size_t i = 0; i < n->n_dns; i++)
                free(n->dns[i]);
        proto_relays_free(n->relays, n->n_relays);
        *n = (ProtoNetwork) {};
}

static int set_string(char **dst, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

int proto_network_set(ProtoNetwork *n, const char *key, const char *value) {
        const char *k;
        unsigned long long x = 0;
        int r;

        r = proto_setting_validate(key, value, &k);
        if (r < 0)
                return r;
        if (!value)
                return -EINVAL;
        if (streq(k, "Interface"))
                return set_string(&n->interface, value);
        if (streq(k, "IPv4Gateway"))
                return set_string(&n->ipv4_gateway, value);
        if (streq(k, "IPv6Gateway"))
                return set_string(&n->ipv6_gateway, value);
        if (streq(k, "DNS")) {
                if (n->n_dns >= PROTO_DNS_MAX)
                        return -E2BIG;
                n->dns[n->n_dns] = strdup(value);
                if (!n->dns[n->n_dns])
                        return -ENOMEM;
                n->n_dns++;
                return 0;
        }
        /* the numbers, validated above */
        (void) safe_atou64(value, 65535, &x);
        if (streq(k, "IPv4PrefixLength"))
                n->ipv4_prefix_length = (unsigned) x;
        else if (streq(k, "IPv6PrefixLength"))
                n->ipv6_prefix_length = (unsigned) x;
        else
                n->or_port = (unsigned) x;
        return 0;
}

static int add_uint(json_object *o, const char *key, unsigned v) {
        char buf[16];

        if (v == 0)
                return 0;
        snprintf(buf, sizeof(buf), "%u", v);
        return proto_json_add(o, key, json_object_new_string(buf));
}

static int add_string(json_object *o, const char *key, const char *v) {
        return v ? proto_json_add(o, key, json_object_new_string(v)) : 0;
}

int proto_network_encode(const ProtoNetwork *n, char **ret) {
        json_object *o = json_object_new_object(), *a = NULL;
        int k = o ? 0 : -ENOMEM;

        if (k >= 0)
                k = add_string(o, "Interface", n->interface);
        if (k >= 0)
                k = add_string(o, "IPv4Gateway", n->ipv4_gateway);
        if (k >= 0)
                k = add_string(o, "IPv6Gateway", n->ipv6_gateway);
        if (k >= 0)
                k = add_uint(o, "IPv4PrefixLength", n->ipv4_prefix_length);
        if (k >= 0)
                k = add_uint(o, "IPv6PrefixLength", n->ipv6_prefix_length);
        if (k >= 0 && n->n_dns > 0)
                k = proto_json_add(o, "DNS", a = json_object_new_array());
        for (size_t i = 0; k >= 0 && i < n->n_dns; i++)
                k = json_object_array_add(a, json_object_new_string(n->dns[i])) < 0 ? -ENOMEM : 0;
        if (k >= 0)
                k = add_uint(o, "ORPort", n->or_port);
        if (k >= 0)
                k = proto_json_add(o, "relays", a = json_object_new_array());
        for (size_t i = 0; k >= 0 && i < n->n_relays; i++)
                k = encode_relay(a, &n->relays[i], /* with_torrc= */ false);
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

int proto_network_decode(const char *body, size_t size, ProtoNetwork *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "Interface", json_type_string, PROTO_NULLABLE },
                { "IPv4Gateway", json_type_string, PROTO_NULLABLE },
                { "IPv6Gateway", json_type_string, PROTO_NULLABLE },
                { "IPv4PrefixLength", json_type_string, PROTO_NULLABLE },
                { "IPv6PrefixLength", json_type_string, PROTO_NULLABLE },
                { "ORPort", json_type_string, PROTO_NULLABLE },
                { "DNS", json_type_array, PROTO_NULLABLE },
                { "relays", json_type_array, PROTO_REQUIRED },
        };
        static const char what[] = "network reply";
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(proto_network_done) ProtoNetwork n = {};
        json_object *v[ELEMENTSOF(fields)];
        int k;

        k = proto_json_decode(body, size, PROTO_REPLY_MAX, /* sensitive= */ false, what, fields, ELEMENTSOF(fields), &o,
                             v, diag);
        if (k < 0)
                return k;
        /* The rules the server stores settings by (proto_setting_validate()): refuse what it would not store. */
        for (size_t i = 0; i < 6; i++) {
                const char *s;

                if (!v[i])
                        continue;
                if (proto_string(v[i], what, fields[i].name, 256, &s, NULL) < 0)
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, fields[i].name, "%s: malformed '%s'", what,
                                          fields[i].name);
                k = proto_network_set(&n, fields[i].name, s);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, fields[i].name, "%s: malformed '%s'", what,
                                          fields[i].name);
        }
        if (v[6]) {
                if (json_object_array_length(v[6]) > PROTO_DNS_MAX)
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "DNS", "%s: more than %u DNS servers",
                                          what, PROTO_DNS_MAX);
                for (size_t i = 0; i < json_object_array_length(v[6]); i++) {
                        json_object *d = json_object_array_get_idx(v[6], i);
                        const char *s;

                        if (proto_string(d, what, "DNS", PROTO_ADDRESS_MAX, &s, NULL) < 0)
                                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "DNS",
                                                  "%s: malformed 'DNS' entry", what);
                        k = proto_network_set(&n, "DNS", s);
                        if (k == -ENOMEM)
                                return k;
                        if (k < 0)
                                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "DNS",
                                                  "%s: malformed 'DNS' entry", what);
                }
        }
        k = decode_relays(v[7], what, /* with_torrc= */ false, &n.relays, &n.n_relays, diag);
        if (k < 0)
                return k;
        *ret = n;
        n = (ProtoNetwork) {};
        return 0;
}

/* ---- the relay check ---------------------------------------------------------------------------------- */

static bool is_ip(int family, const char *s) {
        unsigned char buf[16];
        return s && inet_pton(family, s, buf) == 1;
}

int proto_relay_check(const ProtoRelay *r, ProtoDiag *diag) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        TorrcError te = {};
        int k;

        if (!tor_nickname_ok(r->name))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "name",
                                  "not a tor nickname (1–%u letters and digits)", TOR_NICKNAME_MAX), -EINVAL;
        if (r->ipv4 && !is_ip(AF_INET, r->ipv4))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "ipv4", "malformed IPv4 address"), -EINVAL;
        if (r->ipv6 && !is_ip(AF_INET6, r->ipv6))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "ipv6", "malformed IPv6 address"), -EINVAL;

        k = torrc_parse(r->torrc ?: "", r->torrc ? strlen(r->torrc) : 0, &t, &te);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "torrc", "torrc line %u: %s", te.line, te.message),
                       -EINVAL;
        /* What the server may not ask of a node: a path, a program, a listener beyond loopback. */
        k = torrc_check_node_policy(t, &te);
        if (k < 0)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "torrc", "torrc line %u: %s", te.line, te.message),
                       -EINVAL;
        return 0;
}

/* ---- the error reply ---------------------------------------------------------------------------------- */

void proto_error_reply_done(ProtoErrorReply *e) {
        free(e->message);
        *e = (ProtoErrorReply) {};
}

int proto_error_reply_encode(ProtoErrorCode code, const char *message, char **ret) {
        json_object *o = json_object_new_object();
        int k = o ? 0 : -ENOMEM;

        if (k >= 0)
                k = proto_json_add(o, "error", json_object_new_string(proto_error_to_string(code)));
        if (k >= 0)
                k = proto_json_add(o, "message", json_object_new_string(message ?: ""));
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

int proto_error_reply_decode(const char *body, size_t size, ProtoErrorReply *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "error", json_type_string, PROTO_REQUIRED },
                { "message", json_type_string, PROTO_REQUIRED },
        };
        static const char what[] = "error reply";
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v[ELEMENTSOF(fields)];
        const char *code, *message;
        int k;

        k = proto_json_decode(body, size, PROTO_REPLY_MAX, /* sensitive= */ false, what, fields, ELEMENTSOF(fields), &o,
                             v, diag);
        if (k < 0)
                return k;
        if (proto_string(v[0], what, "error", PROTO_ERROR_CODE_MAX, &code, NULL) < 0 || isempty(code) ||
            !in_charset(code, ALNUM))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "error", "%s: malformed 'error'", what);
        if (proto_string(v[1], what, "message", PROTO_MESSAGE_MAX, &message, NULL) < 0)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "message", "%s: 'message' too long", what);
        for (const char *p = message; *p; p++)
                if ((unsigned char) *p < ' ')
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "message",
                                          "%s: control character in 'message'", what);
        *ret = (ProtoErrorReply) { .known = proto_error_from_string(code), .message = strdup(message) };
        if (!ret->message)
                return -ENOMEM;
        snprintf(ret->code, sizeof(ret->code), "%s", code);
        return 0;
}
