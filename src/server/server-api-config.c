/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/node/network and GET /v1/node/relays: what an authenticated node runs, and the fleet's family keys
 * for a node whose last attestation was Trusted. Read-only: allocation happens when the operator enables the
 * node or changes its relay count, never here. */
#include <stdlib.h>

#include "log.h"
#include "server-api.h"
#include "server-render.h"
#include "server-json.h"

/* A relay's name and addresses as the protocol carries them; the strings stay the Relay's. */
static ProtoRelay relay_view(Relay *r) {
        return (ProtoRelay) {
                .name = r->name,
                .ipv4 = r->ipv4[0] ? r->ipv4 : NULL,
                .ipv6 = r->ipv6[0] ? r->ipv6 : NULL,
        };
}

/* The cascade's resolved settings (validated when they were stored) and the relays' addresses. -E2BIG if the
 * settings do not fit the protocol (more DNS servers than PROTO_DNS_MAX). */
static int network_settings(Db *db, const Node *node, char **ret) {
        _cleanup_(json_object_putp) json_object *settings = NULL;
        _cleanup_free_ Relay *relays = NULL;
        _cleanup_free_ ProtoRelay *views = NULL;
        ProtoNetwork n = {};
        size_t n_relays;
        int r;

        r = settings_resolve(db, node->id, -1, &settings);
        if (r >= 0)
                r = relays_list(db, node->id, &relays, &n_relays);
        if (r < 0)
                return r;
        json_object_object_foreach(settings, key, value) {
                if (json_object_is_type(value, json_type_array))
                        for (size_t i = 0; r >= 0 && i < json_object_array_length(value); i++)
                                r = proto_network_set(&n, key, json_object_get_string(json_object_array_get_idx(value, i)));
                else
                        r = proto_network_set(&n, key, json_object_get_string(value));
                if (r < 0)
                        break;
        }
        views = calloc(MAX(n_relays, (size_t) 1), sizeof(ProtoRelay));
        if (r >= 0 && !views)
                r = -ENOMEM;
        if (r >= 0) {
                for (size_t i = 0; i < n_relays; i++)
                        views[i] = relay_view(&relays[i]);
                n.relays = views;
                n.n_relays = n_relays;
                r = proto_network_encode(&n, ret);
                n.relays = NULL; /* the views' strings are the relays' */
                n.n_relays = 0;
        }
        proto_network_done(&n);
        return r;
}

enum MHD_Result api_node_network(Request *req, const Node *node) {
        char *body = NULL;
        int r;

        r = network_settings(server_db_lock(req->server), node, &body);
        server_db_unlock(req->server);
        if (r == -E2BIG)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "The node's settings hold more than %u DNS servers.",
                                     PROTO_DNS_MAX);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Resolving settings failed.");
        return respond_body(req, MHD_HTTP_OK, body);
}

/* The relays with their rendered torrc and, for a node they are released to, the fleet's family keys: from one
 * snapshot, so that the FamilyId lines and the keys sent agree. On a rendering failure, ret_failed names the
 * relay. */
static int relays_with_torrc(Db *db, const Node *node, char **ret, char **ret_failed) {
        _cleanup_(proto_family_keys_done) ProtoFamilyKeys keys = {};
        _cleanup_free_ Relay *relays = NULL;
        ProtoRelay *views = NULL;
        FamilyIds family = {};
        size_t n = 0;
        int r, released = 0;

        r = db_begin_read(db);
        if (r < 0)
                return r;
        r = released = family_released(db, node->id);
        if (r >= 0 && (r = family_published(db, &family, released > 0 ? &keys : NULL)) == -EBADMSG)
                r = -EIO; /* not a rendering failure */
        if (r >= 0)
                r = relays_list(db, node->id, &relays, &n);
        if (r >= 0 && !(views = calloc(MAX(n, (size_t) 1), sizeof(ProtoRelay))))
                r = -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                views[i] = relay_view(&relays[i]);
                r = render_relay_torrc(db, node, &relays[i], released > 0 ? &family : NULL, &views[i].torrc, NULL);
                if (r < 0) {
                        log_error_errno(r, "Rendering the torrc of relay %s failed: %m", relays[i].name);
                        *ret_failed = strdup(relays[i].name);
                        r = -EBADMSG;
                }
        }
        db_rollback(db); /* read only: nothing to commit */
        if (r >= 0 && released == 0 && family.n > 0)
                log_notice("Node %" PRIi64 " (%s): the family keys are withheld, and its relays' torrc has no FamilyId: "
                           "its last attestation was not judged Trusted on an image in service.",
                           node->id, node->fingerprint);
        if (r >= 0)
                r = proto_relays_encode(views, n, &keys, ret);
        for (size_t i = 0; views && i < n; i++)
                free(views[i].torrc);
        free(views);
        return r;
}

enum MHD_Result api_node_relays(Request *req, const Node *node) {
        _cleanup_free_ char *failed = NULL;
        char *body = NULL;
        int r;

        r = relays_with_torrc(server_db_lock(req->server), node, &body, &failed);
        server_db_unlock(req->server);
        if (r == -EBADMSG)
                return respond_error(req, PROTO_ERROR_RENDER_FAILED, "The torrc of relay %s could not be rendered.",
                                     failed ?: "?");
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Listing relays failed.");
        return respond_body(req, MHD_HTTP_OK, body);
}
