/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/node/fingerprints: the public identities of a node's relays, for the server's ContactInfo proofs
 * (patela-server contactinfo). Public values only: nothing here is wiped. */
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "protocol-json.h"
#include "string-util.h"

#define ED25519_PUBLIC_SIZE 32U

bool proto_rsa_fingerprint_ok(const char *s) {
        /* Upper case only: one spelling per key, so that the server's uniqueness check means something. */
        return s && strnlen(s, TOR_RSA_FINGERPRINT_LEN + 1) == TOR_RSA_FINGERPRINT_LEN &&
               in_charset(s, "0123456789ABCDEF");
}

bool proto_ed25519_identity_ok(const char *s) {
        char padded[TOR_ED25519_ID_LEN + 2];
        _cleanup_free_ void *key = NULL;
        size_t size = 0;

        if (!s || strnlen(s, TOR_ED25519_ID_LEN + 1) != TOR_ED25519_ID_LEN)
                return false;
        /* 32 bytes are 43 characters and one "=": unbase64mem() is strict about the padding and refuses bits
         * set past the data, so each key has exactly one accepted spelling. */
        snprintf(padded, sizeof(padded), "%s=", s);
        return unbase64mem(padded, ED25519_PUBLIC_SIZE, &key, &size) >= 0 && size == ED25519_PUBLIC_SIZE;
}

int proto_fingerprints_request_encode(const ProtoFingerprintsRequest *r, char **ret) {
        json_object *o = json_object_new_object(), *a = NULL;
        int k = o ? 0 : -ENOMEM;

        if (r->n_relays == 0 || r->n_relays > PROTO_RELAYS_MAX)
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "relays", a = json_object_new_array());
        for (size_t i = 0; k >= 0 && i < r->n_relays; i++) {
                const ProtoRelayFingerprint *f = &r->relays[i];
                json_object *e;

                if (!tor_nickname_ok(f->name) || !proto_rsa_fingerprint_ok(f->rsa) ||
                    (f->ed25519[0] && !proto_ed25519_identity_ok(f->ed25519))) {
                        k = -EINVAL;
                        break;
                }
                e = proto_json_append(a, json_object_new_object());
                if (!e) {
                        k = -ENOMEM;
                        break;
                }
                k = proto_json_add(e, "name", json_object_new_string(f->name));
                if (k >= 0)
                        k = proto_json_add(e, "rsaFingerprint", json_object_new_string(f->rsa));
                /* json-c stores NULL as null */
                if (k >= 0 && json_object_object_add(e, "ed25519Identity",
                                                     f->ed25519[0] ? json_object_new_string(f->ed25519)
                                                                   : NULL) < 0)
                        k = -ENOMEM;
        }
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

/* One relay of a report, checked by the rules of proto_rsa_fingerprint_ok() and proto_ed25519_identity_ok(). */
static int decode_relay(json_object *o, const char *what, size_t i, ProtoRelayFingerprint *ret,
                        ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "name", json_type_string, PROTO_REQUIRED },
                { "rsaFingerprint", json_type_string, PROTO_REQUIRED },
                { "ed25519Identity", json_type_string, PROTO_REQUIRED | PROTO_NULLABLE },
        };
        const char *name, *rsa, *ed25519 = NULL;
        json_object *v[ELEMENTSOF(fields)];
        int k;

        k = proto_fields(o, what, fields, ELEMENTSOF(fields), v, diag);
        if (k < 0)
                return k;
        if (proto_string(v[0], what, "name", TOR_NICKNAME_MAX, &name, NULL) < 0 || !tor_nickname_ok(name))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "name",
                                  "%s: relay %zu: 'name' is not a tor nickname (1-%u letters and digits)", what, i,
                                  TOR_NICKNAME_MAX);
        if (proto_string(v[1], what, "rsaFingerprint", TOR_RSA_FINGERPRINT_LEN, &rsa, NULL) < 0 ||
            !proto_rsa_fingerprint_ok(rsa))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "rsaFingerprint",
                                  "%s: relay %s: 'rsaFingerprint' is not %u upper-case hex digits", what, name,
                                  TOR_RSA_FINGERPRINT_LEN);
        if (v[2] && (proto_string(v[2], what, "ed25519Identity", TOR_ED25519_ID_LEN, &ed25519, NULL) < 0 ||
                     !proto_ed25519_identity_ok(ed25519)))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "ed25519Identity",
                                  "%s: relay %s: 'ed25519Identity' is not an ed25519 key in unpadded base64 "
                                  "(%u characters)", what, name, TOR_ED25519_ID_LEN);
        *ret = (ProtoRelayFingerprint) {};
        snprintf(ret->name, sizeof(ret->name), "%s", name);
        snprintf(ret->rsa, sizeof(ret->rsa), "%s", rsa);
        snprintf(ret->ed25519, sizeof(ret->ed25519), "%s", ed25519 ?: "");
        return 0;
}

int proto_fingerprints_request_decode(const char *body, size_t size, ProtoFingerprintsRequest *ret,
                                      ProtoDiag *diag) {
        static const char what[] = "fingerprints request";
        _cleanup_(json_object_putp) json_object *o = NULL;
        ProtoFingerprintsRequest r = {};
        const char *names[PROTO_RELAYS_MAX];
        json_object *relays;
        size_t n;
        int k;

        k = proto_relays_body(body, size, /* min_relays= */ 1, what, &o, &relays, &n, diag);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                k = decode_relay(json_object_array_get_idx(relays, i), what, i, &r.relays[i], diag);
                if (k >= 0)
                        k = proto_relay_unique(r.relays[i].name, names, i, what, diag);
                if (k < 0)
                        return k;
                names[i] = r.relays[i].name;
                r.n_relays = i + 1;
        }
        *ret = r;
        return 0;
}
