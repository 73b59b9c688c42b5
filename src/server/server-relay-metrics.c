/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/node/relay-metrics: each relay's MetricsPort summed up, as its node reports it every
 * RelayMetricsInterval= (the answer tells it when to report next). The server keeps each relay's last report in
 * memory (RelayMetricsStore) and /metrics/relays exports it: one scrape target for the whole fleet, no port open
 * on a node. A report costs one indexed read under the request threads' database lock (which relays are the
 * node's) and a copy into the store under a mutex of its own: no write transaction (docs/observability.md). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "log.h"
#include "server-api.h"
#include "server-relay-metrics.h"

/* The index has at least twice the slots of entries and removed ones: probes stay short. */
#define INDEX_SLOTS_MIN 64U

void relay_metrics_store_init(RelayMetricsStore *s) {
        *s = (RelayMetricsStore) {};
        pthread_mutex_init(&s->lock, NULL);
}

void relay_metrics_store_done(RelayMetricsStore *s) {
        free(s->entries);
        free(s->index);
        pthread_mutex_destroy(&s->lock);
        *s = (RelayMetricsStore) {};
}

uint64_t relay_metrics_hash(int64_t relay_id, size_t n_slots) {
        /* Fibonacci hashing: relay ids are dense, their low bits alone would do, this spreads runs too. */
        return (((uint64_t) relay_id * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (n_slots - 1);
}

/* The index slot of relay_id (*ret_found), or the slot where it would go: the first removed one on its probe, else
 * the empty one that ends it. Never NULL once the index exists: it always has empty slots. */
static int32_t *find(const RelayMetricsStore *s, int64_t relay_id, bool *ret_found) {
        int32_t *removed = NULL;

        *ret_found = false;
        if (s->n_index == 0)
                return NULL;
        for (size_t i = (size_t) relay_metrics_hash(relay_id, s->n_index);; i = (i + 1) & (s->n_index - 1)) {
                int32_t *slot = &s->index[i];

                if (*slot == RELAY_METRICS_EMPTY)
                        return removed ?: slot;
                if (*slot == RELAY_METRICS_REMOVED) {
                        if (!removed)
                                removed = slot;
                } else if (s->entries[*slot].relay_id == relay_id) {
                        *ret_found = true;
                        return slot;
                }
        }
}

/* Room for n more entries: the array grown, the index rebuilt (without removed slots) if it would be more than
 * half used. */
static int reserve(RelayMetricsStore *s, size_t n) {
        size_t want = INDEX_SLOTS_MIN;
        int32_t *index;

        if (s->n_entries + n > INT32_MAX)
                return -E2BIG;
        if (s->n_entries + n > s->n_entries_allocated) {
                size_t a = MAX(s->n_entries_allocated * 2, s->n_entries + n);
                RelayMetricsEntry *e = reallocarray(s->entries, a, sizeof(*e));

                if (!e)
                        return -ENOMEM;
                s->entries = e;
                s->n_entries_allocated = a;
        }
        if ((s->n_entries + s->n_removed + n) * 2 <= s->n_index)
                return 0;
        while (want < (s->n_entries + n) * 4)
                want *= 2;
        index = malloc(want * sizeof(*index));
        if (!index)
                return -ENOMEM;
        memset(index, 0xff, want * sizeof(*index)); /* RELAY_METRICS_EMPTY */
        for (size_t i = 0; i < s->n_entries; i++) {
                size_t j = (size_t) relay_metrics_hash(s->entries[i].relay_id, want);

                while (index[j] != RELAY_METRICS_EMPTY)
                        j = (j + 1) & (want - 1);
                index[j] = (int32_t) i;
        }
        free(s->index);
        s->index = index;
        s->n_index = want;
        s->n_removed = 0;
        return 0;
}

int relay_metrics_store_put(RelayMetricsStore *s, const int64_t *relay_ids, const TorRelayMetrics *metrics, size_t n,
                            int64_t reported_at) {
        uint64_t t = now_monotonic_usec();
        int r;

        pthread_mutex_lock(&s->lock);
        r = reserve(s, n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                bool found;
                int32_t *slot = find(s, relay_ids[i], &found);

                assert(slot && relay_ids[i] > 0);
                if (!found) {
                        if (*slot == RELAY_METRICS_REMOVED)
                                s->n_removed--;
                        *slot = (int32_t) s->n_entries++;
                }
                s->entries[*slot] = (RelayMetricsEntry) {
                        .relay_id = relay_ids[i], .reported_at = reported_at, .stored_usec = t, .m = metrics[i]
                };
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

bool relay_metrics_store_get(RelayMetricsStore *s, int64_t relay_id, RelayMetricsEntry *ret) {
        bool found;
        int32_t *slot;

        pthread_mutex_lock(&s->lock);
        slot = find(s, relay_id, &found);
        if (found)
                *ret = s->entries[*slot];
        pthread_mutex_unlock(&s->lock);
        return found;
}

int relay_metrics_store_snapshot(RelayMetricsStore *s, RelayMetricsEntry **buf, size_t *allocated, size_t *ret_n) {
        size_t n;

        pthread_mutex_lock(&s->lock);
        n = s->n_entries;
        if (n > *allocated) {
                /* Room for some more, so that a growing fleet does not reallocate at every scrape. */
                size_t want = n + n / 8 + 16;
                RelayMetricsEntry *p = reallocarray(*buf, want, sizeof(**buf));

                if (!p) {
                        pthread_mutex_unlock(&s->lock);
                        return -ENOMEM;
                }
                *buf = p;
                *allocated = want;
        }
        if (n > 0)
                memcpy(*buf, s->entries, n * sizeof(**buf));
        pthread_mutex_unlock(&s->lock);
        *ret_n = n;
        return 0;
}

void relay_metrics_store_remove(RelayMetricsStore *s, const int64_t *relay_ids, size_t n, uint64_t before_usec) {
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < n; i++) {
                bool found, moved_found;
                int32_t *slot = find(s, relay_ids[i], &found), pos, last;

                if (!found || s->entries[*slot].stored_usec >= before_usec)
                        continue;
                /* The last entry moves into the hole: its slot points there now. */
                pos = *slot;
                *slot = RELAY_METRICS_REMOVED;
                s->n_removed++;
                last = (int32_t) --s->n_entries;
                if (pos != last) {
                        int32_t *moved = find(s, s->entries[last].relay_id, &moved_found);

                        assert(moved_found);
                        s->entries[pos] = s->entries[last];
                        *moved = pos;
                }
        }
        pthread_mutex_unlock(&s->lock);
}

/* The report's relays as ids: -ENOENT (ret_relay names it) for a name that is not one of the node's relays. One
 * indexed read of the node's relays (UNIQUE (node_id, slot)), at most PROTO_RELAYS_MAX rows. */
static int resolve_relays(Db *db, int64_t node_id, const ProtoRelayMetricsRequest *request, int64_t *ret_ids,
                          const char **ret_relay) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        size_t found = 0;
        int r, rc;

        r = db_stmt_prepare_cached(db, "SELECT id, name FROM relays WHERE node_id = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, node_id);
        memset(ret_ids, 0, sizeof(int64_t) * request->n_relays);
        while ((rc = db_step(s)) == DB_ROW) {
                const char *name = db_column_text(s, 1);

                /* Names are unique in the report (the decoder checks) and in the fleet (relays.name UNIQUE). */
                for (size_t i = 0; name && i < request->n_relays; i++)
                        if (ret_ids[i] == 0 && streq(request->relays[i].name, name)) {
                                ret_ids[i] = db_column_int64(s, 0);
                                found++;
                                break;
                        }
        }
        if (rc != DB_DONE)
                return db_result(rc);
        if (found == request->n_relays)
                return 0;
        for (size_t i = 0; i < request->n_relays; i++)
                if (ret_ids[i] == 0) {
                        *ret_relay = request->relays[i].name;
                        break;
                }
        return -ENOENT;
}

/* A session check that carries a report: the node sends it instead of its GET /v1/node/check when a report is due,
 * so that what a report adds to the server's work is its decoding and its copy, not a request of its own. The
 * check's lookup and the node's relays are read in one hold of the database lock. */
enum MHD_Result api_node_relay_metrics(Request *req) {
        ProtoRelayMetricsRequest request;
        ProtoRelayMetricsReply reply = {
                .report_in = req->server->config->relay_metrics_interval_usec / 1000000ULL,
                .has_check = true,
                .check.check_in = req->server->config->check_interval_usec / 1000000ULL,
        };
        TorRelayMetrics metrics[PROTO_RELAYS_MAX];
        int64_t ids[PROTO_RELAYS_MAX], node_id = 0;
        const char *relay = NULL;
        ProtoDiag diag = {};
        uint8_t hash[32];
        char *body = NULL;
        Db *db;
        int r;

        r = api_token_hash(req, hash, &node_id);
        if (r < 0)
                return api_respond_token_error(req, r);
        /* Decoded completely before anything is looked up, and before the session is: the lookup and the relays
         * then take one hold of the lock. A stranger with a well-formed token gets its body (at most MaxBodySize=)
         * parsed before its 401, work of the order of the TLS handshake it already cost. */
        if (proto_relay_metrics_request_decode(req->body, req->size, &request, &diag) < 0)
                return respond_diag(req, &diag);

        db = server_db_lock(req->server);
        r = api_session_check(db, req->server->config, node_id, hash, &reply.check.reattest);
        if (r < 0) {
                server_db_unlock(req->server);
                return api_respond_token_error(req, r);
        }
        r = resolve_relays(db, node_id, &request, ids, &relay);
        server_db_unlock(req->server);
        if (r == -ENOENT)
                return respond_error(req, PROTO_ERROR_UNKNOWN_RELAY,
                                     "Relay %s is not one of node %" PRIi64 "'s relays; nothing was stored.", relay,
                                     node_id);
        if (r >= 0) {
                for (size_t i = 0; i < request.n_relays; i++)
                        metrics[i] = request.relays[i].m;
                r = relay_metrics_store_put(&req->server->relay_metrics, ids, metrics, request.n_relays, now_sec());
        }
        if (r >= 0)
                r = proto_relay_metrics_reply_encode(&reply, &body);
        if (r < 0) {
                log_error_errno(r, "Storing the relay metrics of node %" PRIi64 " failed: %m", node_id);
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Storing the relay metrics failed.");
        }
        log_debug("Node %" PRIi64 " reported the metrics of %zu relays.", node_id, request.n_relays);
        return respond_body(req, MHD_HTTP_OK, body);
}
