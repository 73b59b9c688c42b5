/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/node/network and GET /v1/node/relays: what an authenticated node runs. Read-only: allocation
 * happens when the operator enables the node or changes its relay count, never here. */
#include <stdlib.h>

#include "log.h"
#include "server-api.h"
#include "server-render.h"
#include "server-wire.h"

static json_object *relay_addresses(const Relay *r) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(r->name));
        json_object_object_add(o, "ipv4", r->ipv4[0] ? json_object_new_string(r->ipv4) : NULL);
        json_object_object_add(o, "ipv6", r->ipv6[0] ? json_object_new_string(r->ipv6) : NULL);
        return o;
}

static int network_settings(Db *db, const Node *node, json_object **ret) {
        _cleanup_(json_object_putp) json_object *settings = NULL;
        _cleanup_free_ Relay *relays = NULL;
        json_object *arr;
        size_t n;
        int r;

        r = settings_resolve(db, node->id, -1, &settings);
        if (r >= 0)
                r = relays_list(db, node->id, &relays, &n);
        if (r < 0)
                return r;
        arr = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(arr, relay_addresses(&relays[i]));
        json_object_object_add(settings, "relays", arr);
        *ret = TAKE_PTR(settings);
        return 0;
}

enum MHD_Result api_node_network(Request *req, const Node *node) {
        json_object *settings = NULL;
        int r;

        r = network_settings(server_db_lock(req->server), node, &settings);
        server_db_unlock(req->server);
        if (r < 0)
                return respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError", "Resolving settings failed.");
        return respond_json(req, MHD_HTTP_OK, settings);
}

/* The relays with their rendered torrc; on a rendering failure, ret_failed names the relay. */
static int relays_with_torrc(Db *db, const Node *node, json_object **ret, char **ret_failed) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_free_ Relay *relays = NULL;
        json_object *arr = json_object_new_array();
        size_t n;
        int r;

        json_object_object_add(o, "relays", arr);
        r = relays_list(db, node->id, &relays, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *torrc = NULL;
                json_object *e;

                r = render_relay_torrc(db, node, &relays[i], &torrc, NULL);
                if (r < 0) {
                        log_error_errno(r, "Rendering the torrc of relay %s failed: %m", relays[i].name);
                        *ret_failed = strdup(relays[i].name);
                        return -EBADMSG;
                }
                e = relay_addresses(&relays[i]);
                json_object_object_add(e, "torrc", json_object_new_string(torrc));
                json_object_array_add(arr, e);
        }
        *ret = TAKE_PTR(o);
        return 0;
}

enum MHD_Result api_node_relays(Request *req, const Node *node) {
        _cleanup_free_ char *failed = NULL;
        json_object *o = NULL;
        int r;

        r = relays_with_torrc(server_db_lock(req->server), node, &o, &failed);
        server_db_unlock(req->server);
        if (r == -EBADMSG)
                return respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "RenderFailed",
                                     "The torrc of relay %s could not be rendered.", failed ?: "?");
        if (r < 0)
                return respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError", "Listing relays failed.");
        return respond_json(req, MHD_HTTP_OK, o);
}
