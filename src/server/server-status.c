/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>

#include "log.h"
#include "server-status.h"
#include "tor-metrics.h"

static json_object *text_or_null(DbStmt *s, int i) {
        const unsigned char *t = (const unsigned char *) db_column_text(s, i);
        return t ? json_object_new_string((const char *) t) : NULL;
}

static json_object *int_or_null(DbStmt *s, int i) {
        return db_column_type(s, i) == DB_TYPE_NULL ? NULL : json_object_new_int64(db_column_int64(s, i));
}

/* The relays of the nodes first_id…last_id, added to their node objects (nodes, in id order). */
static int add_relays(Db *db, RelayMetricsStore *store, json_object *nodes, int64_t first_id, int64_t last_id) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        size_t n = json_object_array_length(nodes), k = 0;
        int r, rc;

        r = db_stmt_prepare_cached(db,
                              "SELECT r.node_id, r.name, r.ipv4, r.ipv6, r.or_port, f.rsa_fingerprint, f.ed25519_identity, "
                              "f.reported_at, r.id FROM relays r "
                              "LEFT JOIN relay_fingerprints f ON f.relay_id = r.id "
                              "WHERE r.node_id BETWEEN ? AND ? ORDER BY r.node_id, r.slot",
                              &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, first_id);
        db_bind_int64(s, 2, last_id);
        while ((rc = db_step(s)) == DB_ROW) {
                int64_t node_id = db_column_int64(s, 0);
                json_object *relay, *node = NULL;
                RelayMetricsEntry e;
                bool reported;

                /* Both in node id order: walk the nodes along. */
                for (; k < n; k++) {
                        json_object *id, *candidate = json_object_array_get_idx(nodes, k);

                        if (json_object_object_get_ex(candidate, "id", &id) && json_object_get_int64(id) == node_id) {
                                node = candidate;
                                break;
                        }
                }
                if (!node)
                        return -EIO;
                relay = json_object_new_object();
                if (!relay)
                        return -ENOMEM;
                json_object_object_add(relay, "name", text_or_null(s, 1));
                json_object_object_add(relay, "ipv4", text_or_null(s, 2));
                json_object_object_add(relay, "ipv6", text_or_null(s, 3));
                json_object_object_add(relay, "orPort", int_or_null(s, 4));
                json_object_object_add(relay, "rsaFingerprint", text_or_null(s, 5));
                json_object_object_add(relay, "ed25519Identity", text_or_null(s, 6));
                json_object_object_add(relay, "identityReportedAt", int_or_null(s, 7));
                /* Its health as far as the running server knows it (the store is its memory; the CLI has none):
                 * its node's last MetricsPort report, and the consensus flags tor said it has then. */
                reported = store && relay_metrics_store_get(store, db_column_int64(s, 8), &e);
                json_object_object_add(relay, "metricsReportedAt", reported ? json_object_new_int64(e.reported_at) : NULL);
                json_object *flags = NULL;
                if (reported) {
                        flags = json_object_new_array();
                        for (TorRelayFlag fl = 0; flags && fl < _TOR_RELAY_FLAG_MAX; fl++)
                                if (e.m.flags & (1U << fl))
                                        json_object_array_add(flags, json_object_new_string(tor_relay_flag_to_string(fl)));
                }
                json_object_object_add(relay, "flags", flags);
                json_object *relays;
                if (!json_object_object_get_ex(node, "relays", &relays)) {
                        json_object_put(relay);
                        return -EIO;
                }
                json_object_array_add(relays, relay);
        }
        return rc == DB_DONE ? 0 : db_result(rc);
}

static int status_read(Db *db, RelayMetricsStore *store, int64_t after, unsigned limit, json_object *nodes,
                       bool *ret_more) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int64_t first = 0, last = 0;
        unsigned count = 0;
        int r, rc;

        r = db_stmt_prepare_cached(db,
                              "SELECT n.id, n.fingerprint, n.state, i.name, i.retired_at IS NOT NULL, n.last_verdict, "
                              "n.last_verdict_reason, n.last_verdict_at, n.last_trusted_at, n.last_seen "
                              "FROM nodes n LEFT JOIN images i ON i.id = n.image_id WHERE n.id > ? ORDER BY n.id LIMIT ?",
                              &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, after);
        db_bind_int64(s, 2, (int64_t) limit + 1); /* one more: is there a next page? */
        *ret_more = false;
        while ((rc = db_step(s)) == DB_ROW) {
                json_object *o;

                if (count == limit) {
                        *ret_more = true;
                        break;
                }
                o = json_object_new_object();
                if (!o)
                        return -ENOMEM;
                last = db_column_int64(s, 0);
                if (count++ == 0)
                        first = last;
                json_object_object_add(o, "id", json_object_new_int64(last));
                json_object_object_add(o, "fingerprint", text_or_null(s, 1));
                json_object_object_add(o, "state", text_or_null(s, 2));
                json_object_object_add(o, "image", text_or_null(s, 3));
                json_object_object_add(o, "imageRetired",
                                       db_column_type(s, 3) == DB_TYPE_NULL ? NULL
                                                                                : json_object_new_boolean((int) db_column_int64(s, 4)));
                json_object_object_add(o, "verdict", text_or_null(s, 5));
                json_object_object_add(o, "reason", text_or_null(s, 6));
                json_object_object_add(o, "lastVerdictAt", int_or_null(s, 7));
                json_object_object_add(o, "lastTrustedAt", int_or_null(s, 8));
                json_object_object_add(o, "lastSeen", int_or_null(s, 9));
                json_object_object_add(o, "relays", json_object_new_array());
                json_object_array_add(nodes, o);
        }
        if (rc != DB_ROW && rc != DB_DONE)
                return db_result(rc);
        db_stmt_reset(TAKE_PTR(s));
        return count > 0 ? add_relays(db, store, nodes, first, last) : 0;
}

int server_status_json(Db *db, RelayMetricsStore *store, int64_t after, unsigned limit, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *nodes;
        bool more = false;
        int r;

        assert(limit >= 1 && limit <= STATUS_LIMIT_MAX);

        o = json_object_new_object();
        nodes = json_object_new_array();
        if (!o || !nodes) {
                json_object_put(nodes);
                return -ENOMEM;
        }
        json_object_object_add(o, "nodes", nodes);
        r = db_begin_read(db);
        if (r < 0)
                return r;
        r = status_read(db, store, after, limit, nodes, &more);
        (void) db_commit(db);
        if (r < 0)
                return r;
        if (more) {
                size_t n = json_object_array_length(nodes);
                json_object *id = NULL;

                (void) json_object_object_get_ex(json_object_array_get_idx(nodes, n - 1), "id", &id);
                json_object_object_add(o, "next", json_object_new_int64(json_object_get_int64(id)));
        } else
                json_object_object_add(o, "next", NULL);
        *ret = TAKE_PTR(o);
        return 0;
}
