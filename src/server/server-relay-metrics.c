/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/node/relay-metrics: each relay's MetricsPort summed up, as its node reports it with its checks. The
 * server keeps the last report of each relay (relay_metrics, migration 0014) and /metrics exports it per relay:
 * one scrape target for the whole fleet, no port open on a node (docs/observability.md). */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "server-api.h"
#include "server-relay-metrics.h"

/* SQLite's integers are signed: a counter past INT64_MAX (which tor will not reach) is stored as INT64_MAX. */
static int64_t clamp(uint64_t v) {
        return v > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) v;
}

void relay_metrics_dns_errors_format(const TorRelayMetrics *m, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = '\0';
        for (TorDnsReason d = 0; d < _TOR_DNS_REASON_MAX; d++) {
                int k;

                if (m->dns_errors[d] == 0)
                        continue;
                k = snprintf(buf + used, size - used, "%s%s:%" PRIi64, used ? " " : "", tor_dns_reason_to_string(d),
                             clamp(m->dns_errors[d]));
                if (k < 0 || (size_t) k >= size - used)
                        break;
                used += (size_t) k;
        }
}

/* Read at every scrape for every relay: by hand, no sscanf(). */
int relay_metrics_dns_errors_parse(const char *text, uint64_t ret[static _TOR_DNS_REASON_MAX]) {
        memset(ret, 0, sizeof(uint64_t) * _TOR_DNS_REASON_MAX);
        for (const char *p = text; p && *p;) {
                size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
                char reason[32];
                uint64_t v = 0;
                TorDnsReason d;

                if (n == 0 || n >= sizeof(reason) || p[n] != ':' || p[n + 1] < '0' || p[n + 1] > '9')
                        return -EBADMSG;
                memcpy(reason, p, n);
                reason[n] = '\0';
                d = tor_dns_reason_from_string(reason);
                if (d < 0)
                        return -EBADMSG;
                for (p += n + 1; *p >= '0' && *p <= '9'; p++) {
                        if (v > (UINT64_MAX - 9) / 10)
                                return -EBADMSG;
                        v = v * 10 + (uint64_t) (*p - '0');
                }
                ret[d] = v;
                if (*p != ' ' && *p != '\0')
                        return -EBADMSG;
                while (*p == ' ')
                        p++;
        }
        return 0;
}

/* All or nothing, in one write transaction: -ENOENT (ret_relay names it) for a relay that is not the node's. */
static int relay_metrics_store(Db *db, int64_t node_id, const ProtoRelayMetricsRequest *request, const char **ret_relay) {
        int r;

        r = db_begin(db);
        if (r < 0)
                return r;
        for (size_t i = 0; i < request->n_relays; i++) {
                _cleanup_stmt_reset_ sqlite3_stmt *find = NULL, *put = NULL;
                const TorRelayMetrics *m = &request->relays[i].m;
                char dns[512];
                int64_t relay_id;
                int rc;

                r = db_prepare_cached(db, "SELECT id FROM relays WHERE node_id = ? AND name = ?", &find);
                if (r < 0)
                        break;
                sqlite3_bind_int64(find, 1, node_id);
                sqlite3_bind_text(find, 2, request->relays[i].name, -1, SQLITE_STATIC);
                rc = sqlite3_step(find);
                if (rc != SQLITE_ROW) {
                        r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
                        if (r == -ENOENT)
                                *ret_relay = request->relays[i].name;
                        break;
                }
                relay_id = sqlite3_column_int64(find, 0);
                r = db_prepare_cached(db,
                                      "INSERT OR REPLACE INTO relay_metrics (relay_id, reported_at, onionskins_dropped, "
                                      "oom_bytes, tcp_exhaustion, rate_limit_reached, dns_queries, dns_errors, flags, "
                                      "read_bytes, written_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                      &put);
                if (r < 0)
                        break;
                relay_metrics_dns_errors_format(m, dns, sizeof(dns));
                sqlite3_bind_int64(put, 1, relay_id);
                sqlite3_bind_int64(put, 2, now_sec());
                sqlite3_bind_int64(put, 3, clamp(m->onionskins_dropped));
                sqlite3_bind_int64(put, 4, clamp(m->oom_bytes));
                sqlite3_bind_int64(put, 5, clamp(m->tcp_exhaustion));
                sqlite3_bind_int64(put, 6, clamp(m->rate_limit_reached));
                sqlite3_bind_int64(put, 7, clamp(m->dns_queries));
                sqlite3_bind_text(put, 8, dns, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(put, 9, m->flags);
                sqlite3_bind_int64(put, 10, clamp(m->read_bytes));
                sqlite3_bind_int64(put, 11, clamp(m->written_bytes));
                rc = sqlite3_step(put);
                if (rc != SQLITE_DONE) {
                        r = db_errno(rc);
                        break;
                }
        }
        if (r >= 0)
                return db_commit(db);
        db_rollback(db);
        return r;
}

enum MHD_Result api_node_relay_metrics(Request *req, const Node *node) {
        ProtoRelayMetricsRequest request;
        const char *relay = NULL;
        ProtoDiag diag = {};
        int r;

        /* Decoded completely before anything is looked up. */
        if (proto_relay_metrics_request_decode(req->body, req->size, &request, &diag) < 0)
                return respond_diag(req, &diag);

        r = relay_metrics_store(server_db_lock(req->server), node->id, &request, &relay);
        server_db_unlock(req->server);
        if (r == -ENOENT)
                return respond_error(req, PROTO_ERROR_UNKNOWN_RELAY,
                                     "Relay %s is not one of node %" PRIi64 "'s relays; nothing was stored.", relay,
                                     node->id);
        if (r < 0) {
                log_error_errno(r, "Storing the relay metrics of node %" PRIi64 " failed: %m", node->id);
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Storing the relay metrics failed.");
        }
        log_debug("Node %" PRIi64 " (%s) reported the metrics of %zu relays.", node->id, node->fingerprint,
                  request.n_relays);
        return respond_body(req, MHD_HTTP_OK, strdup("{}"));
}
