/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/node/state and POST /v1/node/state/save: each relay's tor state file, sealed by patela-keyd. The
 * blobs are ciphertext under a key the server never has (docs/keyd.md): nothing here is secret, and nothing
 * here looks inside them beyond their size. */
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "protocol-json.h"
#include "string-util.h"

void proto_relay_states_done(ProtoRelayStates *s) {
        for (size_t i = 0; i < s->n_relays; i++)
                proto_blob_done(&s->relays[i].state);
        s->n_relays = 0;
}

static bool state_size_ok(size_t size) {
        return size >= PROTO_SEALED_STATE_MIN && size <= PROTO_SEALED_STATE_MAX;
}

int proto_relay_states_add(ProtoRelayStates *s, const char *name, const void *data, size_t size) {
        ProtoRelayState *e;

        if (!tor_nickname_ok(name) || !state_size_ok(size))
                return -EINVAL;
        for (size_t i = 0; i < s->n_relays; i++)
                if (streq(s->relays[i].name, name))
                        return -EINVAL;
        if (s->n_relays >= PROTO_RELAYS_MAX)
                return -E2BIG;
        e = &s->relays[s->n_relays];
        e->state.data = memdup(data, size);
        if (!e->state.data)
                return -ENOMEM;
        e->state.size = size;
        snprintf(e->name, sizeof(e->name), "%s", name);
        s->n_relays++;
        return 0;
}

int proto_relay_states_encode(const ProtoRelayStates *s, char **ret) {
        json_object *o = json_object_new_object(), *a = NULL;
        int k = o ? 0 : -ENOMEM;

        if (s->n_relays > PROTO_RELAYS_MAX)
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "relays", a = json_object_new_array());
        for (size_t i = 0; k >= 0 && i < s->n_relays; i++) {
                const ProtoRelayState *e = &s->relays[i];
                json_object *j;

                if (!tor_nickname_ok(e->name) || !state_size_ok(e->state.size)) {
                        k = -EINVAL;
                        break;
                }
                j = proto_json_append(a, json_object_new_object());
                if (!j) {
                        k = -ENOMEM;
                        break;
                }
                k = proto_json_add(j, "name", json_object_new_string(e->name));
                if (k >= 0)
                        k = proto_json_add(j, "state", proto_json_base64(e->state.data, e->state.size));
        }
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

static int decode_relay(json_object *o, const char *what, size_t i, ProtoRelayState *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "name", json_type_string, PROTO_REQUIRED },
                { "state", json_type_string, PROTO_REQUIRED },
        };
        json_object *v[ELEMENTSOF(fields)];
        const char *name;
        int k;

        k = proto_fields(o, what, fields, ELEMENTSOF(fields), v, diag);
        if (k < 0)
                return k;
        if (proto_string(v[0], what, "name", TOR_NICKNAME_MAX, &name, NULL) < 0 || !tor_nickname_ok(name))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "name",
                                  "%s: relay %zu: 'name' is not a tor nickname (1-%u letters and digits)", what, i,
                                  TOR_NICKNAME_MAX);
        k = proto_base64(v[1], what, "state", PROTO_SEALED_STATE_MIN, PROTO_SEALED_STATE_MAX, &ret->state, diag);
        if (k < 0)
                return k;
        snprintf(ret->name, sizeof(ret->name), "%s", name);
        return 0;
}

int proto_relay_states_decode(const char *body, size_t size, size_t min_relays, ProtoRelayStates *ret,
                              ProtoDiag *diag) {
        static const char what[] = "relay states";
        _cleanup_(json_object_putp) json_object *o = NULL;
        ProtoRelayStates s = {};
        const char *names[PROTO_RELAYS_MAX];
        json_object *relays;
        size_t n;
        int k;

        k = proto_relays_body(body, size, min_relays, what, &o, &relays, &n, diag);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                k = decode_relay(json_object_array_get_idx(relays, i), what, i, &s.relays[i], diag);
                if (k < 0) {
                        proto_relay_states_done(&s);
                        return k;
                }
                s.n_relays = i + 1;
                k = proto_relay_unique(s.relays[i].name, names, i, what, diag);
                if (k < 0) {
                        proto_relay_states_done(&s);
                        return k;
                }
                names[i] = s.relays[i].name;
        }
        *ret = s;
        return 0;
}
