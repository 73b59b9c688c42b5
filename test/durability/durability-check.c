/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "bench-http.h"
#include "digest-util.h"
#include "durability-check.h"
#include "durability-db.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "string-util.h"

#define VIOLATIONS_SHOWN 20U

static const char *state_name(DurState s) {
        return dur_state_to_string(s) ? dur_state_to_string(s) : "(unknown)";
}

void check_violation(Fleet *f, CheckState *c, const char *fmt, ...) {
        char buf[1024];
        va_list ap;

        c->violations++;
        /* Each check shows its first ones: one check's many (a node per line) must not hide another's. */
        if (c->shown++ >= VIOLATIONS_SHOWN)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        log_error("Round %u: VIOLATION: %s", f->round, buf);
        if (f->journal) {
                fprintf(f->journal, "%u VIOLATION %s\n", f->round, buf);
                fflush(f->journal);
        }
}

void check_state_done(CheckState *c) {
        free(c->attestations);
        free(c->leaves);
        free(c->key_path);
        tlog_key_done(&c->verifier);
}

int check_setup(Fleet *f, CheckState *c) {
        _cleanup_free_ char *out = NULL, *pub = NULL, *pub_path = NULL;
        size_t size;
        int status, r;

        if (asprintf(&c->key_path, "%s/log.key", f->work_dir) < 0 || asprintf(&pub_path, "%s.pub", c->key_path) < 0)
                return log_oom();
        (void) unlink(c->key_path);
        (void) unlink(pub_path);
        char *args[] = { (char *) "log", (char *) "init", (char *) "durability.test/patela", c->key_path, NULL };
        r = fleet_cli(f, args, &out, &status);
        if (r < 0 || status != 0)
                return log_error_errno(r < 0 ? r : EIO, "patela-server log init failed (%d).", status);
        r = read_full_file(pub_path, 4096, (void **) &pub, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", pub_path);
        pub[strcspn(pub, "\n")] = '\0';
        r = tlog_key_parse_verifier(pub, &c->verifier);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the log's verifier key: %m");
        return 0;
}

/* ---- the nodes ----------------------------------------------------------------------------------------- */

typedef struct DbNode {
        char *fingerprint;
        DurState state;
        unsigned relay_count, relays, accepted, sessions;
        char *session_hash; /* one of them, hex */
} DbNode;

typedef struct DbNodes {
        DbNode *items;
        size_t n, max;
} DbNodes;

static void db_nodes_done(DbNodes *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].fingerprint);
                free(d->items[i].session_hash);
        }
        free(d->items);
}

static int cmp_db_node(const void *a, const void *b) {
        return strcmp(((const DbNode *) a)->fingerprint, ((const DbNode *) b)->fingerprint);
}

static DbNode *db_nodes_find(DbNodes *d, const char *fingerprint) {
        DbNode key = { .fingerprint = (char *) fingerprint };

        if (d->n == 0)
                return NULL;
        return bsearch(&key, d->items, d->n, sizeof(DbNode), cmp_db_node);
}

static int node_row(void *userdata, size_t n, const char *const *v) {
        DbNodes *d = userdata;

        if (n < 6 || !v[0] || !v[1])
                return -EBADMSG;
        if (d->n >= d->max) {
                size_t m = MAX(d->max * 2, 64U);
                DbNode *p = reallocarray(d->items, m, sizeof(DbNode));
                if (!p)
                        return -ENOMEM;
                d->items = p;
                d->max = m;
        }
        d->items[d->n] = (DbNode) {
                .fingerprint = strdup(v[0]),
                .state = dur_state_from_string(v[1]),
                .relay_count = (unsigned) atoi(v[2] ? v[2] : "0"),
                .relays = (unsigned) atoi(v[3]),
                .accepted = (unsigned) atoi(v[4]),
                .sessions = (unsigned) atoi(v[5]),
        };
        if (!d->items[d->n].fingerprint)
                return -ENOMEM;
        d->n++;
        return 0;
}

typedef struct SessionRows {
        DbNodes *nodes;
        char **hashes; /* "FINGERPRINT HASH" */
        size_t n, max;
} SessionRows;

static int session_row(void *userdata, size_t n, const char *const *v) {
        SessionRows *s = userdata;

        if (n < 2 || !v[0] || !v[1])
                return -EBADMSG;
        if (s->n >= s->max) {
                size_t m = MAX(s->max * 2, 64U);
                char **p = reallocarray(s->hashes, m, sizeof(char *));
                if (!p)
                        return -ENOMEM;
                s->hashes = p;
                s->max = m;
        }
        if (asprintf(&s->hashes[s->n], "%s %s", v[0], v[1]) < 0)
                return -ENOMEM;
        s->n++;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* qsort() and bsearch() want an array even for no items. */
static void sort_strv(char **items, size_t n) {
        if (n > 0)
                qsort(items, n, sizeof(char *), cmp_str);
}

static bool sorted_has(char **items, size_t n, const char *s) {
        return n > 0 && bsearch(&s, items, n, sizeof(char *), cmp_str) != NULL;
}

static void strv_free_n(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* The hex SHA-256 of a base64 token, as the server stores it. */
static int token_hash_hex(const char *token, char ret[static 65]) {
        _cleanup_free_ void *raw = NULL;
        uint8_t d[32];
        size_t size;
        int r;

        r = unbase64mem(token, 256, &raw, &size);
        if (r < 0)
                return r;
        if (!sha256_digest(raw, size, d))
                return -ENOMEM;
        hexmem_to(d, 32, ret);
        return 0;
}

static int check_nodes(Fleet *f, CheckState *c, DurDb *db) {
        _cleanup_(db_nodes_done) DbNodes d = {};
        SessionRows s = { .nodes = &d };
        int r;

        r = dur_db_query(db,
                         "SELECT n.fingerprint, n.state, n.relay_count, "
                         "(SELECT COUNT(*) FROM relays r WHERE r.node_id = n.id), "
                         "(SELECT COUNT(*) FROM attestations a WHERE a.node_id = n.id AND a.verdict = 'accepted'), "
                         "(SELECT COUNT(*) FROM sessions s WHERE s.node_id = n.id) "
                         "FROM nodes n",
                         NULL, 0, node_row, &d);
        if (r < 0)
                return r;
        if (d.n > 0)
                qsort(d.items, d.n, sizeof(DbNode), cmp_db_node);
        r = dur_db_query(db, "SELECT n.fingerprint, s.token_hash FROM sessions s JOIN nodes n ON n.id = s.node_id",
                         NULL, 0, session_row, &s);
        if (r < 0) {
                strv_free_n(s.hashes, s.n);
                return r;
        }
        sort_strv(s.hashes, s.n);

        for (size_t i = 0; i < f->n_nodes; i++) {
                DurNode *n = f->nodes[i];
                DbNode *row = db_nodes_find(&d, n->fingerprint);

                if (!row) {
                        check_violation(f, c, "node %s: enrolment acknowledged (202), no row", n->fingerprint);
                        continue;
                }
                c->changes_checked += 1 + n->admin_acked + n->auths_acked;
                if (n->uncertain) {
                        /* A change cut off: before or after it, nothing else, and from now on known. */
                        if ((row->state != n->state || row->relay_count != n->relay_count) &&
                            (row->state != n->state_alt || row->relay_count != n->relay_count_alt))
                                check_violation(f, c, "node %s: state %s with %u relays, neither %s/%u before the change cut "
                                          "off nor %s/%u after it", n->fingerprint, state_name(row->state),
                                          row->relay_count, dur_state_to_string(n->state), n->relay_count,
                                          dur_state_to_string(n->state_alt), n->relay_count_alt);
                        else {
                                n->state = row->state;
                                n->relay_count = row->relay_count;
                                n->uncertain = false;
                        }
                } else {
                        if (row->state != n->state)
                                check_violation(f, c, "node %s: state %s, the last acknowledged change made it %s",
                                          n->fingerprint, state_name(row->state), dur_state_to_string(n->state));
                        if (row->relay_count != n->relay_count)
                                check_violation(f, c, "node %s: relay_count %u, acknowledged %u", n->fingerprint,
                                          row->relay_count, n->relay_count);
                }
                if (row->state == DUR_ENABLED && row->relays != row->relay_count)
                        check_violation(f, c, "node %s: enabled with %u relays, relay_count %u", n->fingerprint,
                                  row->relays, row->relay_count);
                if (row->accepted < n->auths_acked)
                        check_violation(f, c, "node %s: %u accepted attestations logged, %u acknowledged", n->fingerprint,
                                  row->accepted, n->auths_acked);
                if (row->accepted > n->auths_acked + n->auths_unknown)
                        check_violation(f, c, "node %s: %u accepted attestations logged, only %u attempted", n->fingerprint,
                                  row->accepted, n->auths_acked + n->auths_unknown);
                if (row->state != DUR_ENABLED && row->sessions > 0)
                        check_violation(f, c, "node %s: %s with %u sessions", n->fingerprint,
                                  state_name(row->state), row->sessions);
                if (n->token_live && n->state == DUR_ENABLED) {
                        _cleanup_free_ char *key = NULL;
                        char h[65];

                        r = token_hash_hex(n->token, h);
                        if (r < 0)
                                break;
                        if (asprintf(&key, "%s %s", n->fingerprint, h) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        if (!sorted_has(s.hashes, s.n, key))
                                check_violation(f, c, "node %s: the session of its acknowledged token %u is gone",
                                          n->fingerprint, n->auths_acked);
                }
        }
        strv_free_n(s.hashes, s.n);
        return r < 0 ? r : 0;
}

/* ---- invariants of the whole database ------------------------------------------------------------------ */

static const struct {
        const char *what;
        const char *sql; /* a count that must be 0 */
} invariants[] = {
        { "sessions of nodes that are not enabled",
          "SELECT COUNT(*) FROM sessions s JOIN nodes n ON n.id = s.node_id WHERE n.state != 'enabled'" },
        /* Challenges are derived from this key, not stored (server-challenge.h): without it no node attests. */
        { "a challenge key missing or not 32 bytes",
          "SELECT 1 - COUNT(*) FROM server_keys WHERE name = 'challenge' AND length(key) = 32" },
        { "addresses given to the relays of two nodes",
          "SELECT COUNT(*) FROM (SELECT a FROM (SELECT ipv4 AS a, node_id FROM relays WHERE ipv4 IS NOT NULL "
          "UNION ALL SELECT ipv6, node_id FROM relays WHERE ipv6 IS NOT NULL) "
          "GROUP BY a HAVING COUNT(DISTINCT node_id) > 1)" },
        { "addresses and ports given twice",
          "SELECT COUNT(*) FROM (SELECT ipv4, or_port FROM relays WHERE ipv4 IS NOT NULL GROUP BY ipv4, or_port "
          "HAVING COUNT(*) > 1)" },
        { "addresses with more relays than RelaysPerAddress= (8)",
          "SELECT COUNT(*) FROM (SELECT ipv4 FROM relays WHERE ipv4 IS NOT NULL GROUP BY ipv4 HAVING COUNT(*) > 8)" },
        { "relay addresses not in the pool",
          "SELECT COUNT(*) FROM relays WHERE ipv4 IS NOT NULL AND ipv4 NOT IN (SELECT address FROM pool_addresses)" },
        { "relay names not in the pool", "SELECT COUNT(*) FROM relays WHERE name NOT IN (SELECT name FROM pool_names)" },
        { "names given to two relays",
          "SELECT COUNT(*) FROM (SELECT name FROM relays GROUP BY name HAVING COUNT(*) > 1)" },
        { "pool names pointing at a relay of another name",
          "SELECT COUNT(*) FROM pool_names p JOIN relays r ON r.id = p.relay_id WHERE r.name != p.name" },
        { "relays of nodes that never were enabled",
          "SELECT COUNT(*) FROM relays r JOIN nodes n ON n.id = r.node_id WHERE n.state = 'pending'" },
};

static int check_invariants(Fleet *f, CheckState *c, DurDb *db) {
        for (size_t i = 0; i < ELEMENTSOF(invariants); i++) {
                long long v;
                int r = dur_db_query_int(db, invariants[i].sql, NULL, 0, &v);
                if (r < 0)
                        return r;
                if (v != 0)
                        check_violation(f, c, "%lld %s", v, invariants[i].what);
        }
        return 0;
}

/* ---- pools and images ---------------------------------------------------------------------------------- */

typedef struct Strv {
        char **items;
        size_t n, max;
} Strv;

static int strv_row(void *userdata, size_t n, const char *const *v) {
        Strv *s = userdata;
        char *line;

        if (s->n >= s->max) {
                size_t m = MAX(s->max * 2, 64U);
                char **p = reallocarray(s->items, m, sizeof(char *));
                if (!p)
                        return -ENOMEM;
                s->items = p;
                s->max = m;
        }
        line = dur_db_row_join(n, v);
        if (!line)
                return -ENOMEM;
        s->items[s->n++] = line;
        return 0;
}

static int check_pools_images(Fleet *f, CheckState *c, DurDb *db) {
        Strv pool = {}, images = {};
        int r;

        r = dur_db_query(db,
                         "SELECT 'names', name FROM pool_names UNION ALL "
                         "SELECT CASE family WHEN 4 THEN 'ipv4' ELSE 'ipv6' END, address FROM pool_addresses",
                         NULL, 0, strv_row, &pool);
        if (r >= 0)
                r = dur_db_query(db,
                                 "SELECT name, uki_sha256, CASE WHEN retired_at IS NULL THEN 'in-service' "
                                 "ELSE 'retired' END FROM images",
                                 NULL, 0, strv_row, &images);
        if (r >= 0) {
                sort_strv(pool.items, pool.n);
                sort_strv(images.items, images.n);
                for (size_t i = 0; i < f->n_pool; i++)
                        if (!sorted_has(pool.items, pool.n, f->pool[i]))
                                check_violation(f, c, "pool entry %s acknowledged, not in the pool", f->pool[i]);
                c->changes_checked += f->n_pool;
                for (size_t i = 0; i < f->n_images; i++) {
                        _cleanup_free_ char *in_service = NULL, *retired = NULL;
                        DurImage *im = &f->images[i];
                        bool is_retired, is_in_service;

                        if (asprintf(&in_service, "%s %s in-service", im->name, im->sha256) < 0 ||
                            asprintf(&retired, "%s %s retired", im->name, im->sha256) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        is_retired = sorted_has(images.items, images.n, retired);
                        is_in_service = sorted_has(images.items, images.n, in_service);
                        if (!is_retired && !is_in_service)
                                check_violation(f, c, "image %s acknowledged, not registered", im->name);
                        else if (im->retire_unknown) {
                                im->retired = is_retired;
                                im->retire_unknown = false;
                        } else if (im->retired != is_retired)
                                check_violation(f, c, "image %s: %s, acknowledged %s", im->name,
                                          is_retired ? "retired" : "in service", im->retired ? "retired" : "in service");
                        c->changes_checked += 1 + im->retired;
                }
        }
        strv_free_n(pool.items, pool.n);
        strv_free_n(images.items, images.n);
        return r < 0 ? r : 0;
}

int check_database(Fleet *f, CheckState *c) {
        /* In this order; the transparency log's last: it runs the CLI, which opens the database too, so ours is
         * closed first (no reader of ours pinning the WAL meanwhile). */
        static int (*const checks[])(Fleet *f, CheckState *c, DurDb *db) = {
                check_nodes, check_invariants, check_pools_images, check_attestations, check_tlog_kinds, check_tlog,
        };
        _cleanup_(dur_db_closep) DurDb *db = NULL;
        _cleanup_free_ char *problem = NULL;
        int r;

        r = dur_db_open(f->database, &db);
        if (r < 0)
                return r;
        c->shown = 0;
        r = dur_db_integrity(db, &problem);
        if (r == -EBADMSG)
                check_violation(f, c, "integrity check: %s", problem);
        else if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                if (checks[i] == check_tlog) {
                        db = dur_db_close(db);
                        r = dur_db_open(f->database, &db);
                        if (r < 0)
                                return r;
                }
                c->shown = 0;
                r = checks[i](f, c, db);
                if (r < 0)
                        return log_error_errno(r, "Round %u: a check failed to run: %m", f->round);
        }
        return 0;
}

int check_server(Fleet *f, CheckState *c) {
        _cleanup_(bench_http_freep) BenchHttp *h = NULL;
        int r;

        r = bench_http_new(f->url, f->cacert, /* fresh_connections= */ false, &h);
        if (r < 0)
                return log_error_errno(r, "Failed to set up an HTTPS client: %m");
        c->shown = 0;
        for (size_t i = 0; i < f->n_nodes; i++) {
                DurNode *n = f->nodes[i];
                const char *reply;
                size_t size;
                long status;
                bool want_ok;

                if (!n->token[0])
                        continue;
                if (n->state == DUR_ENABLED && n->token_live)
                        want_ok = true;
                else if (n->state != DUR_ENABLED && !n->token_refused)
                        want_ok = false;
                else
                        continue;
                r = bench_http_get(h, proto_endpoint_path(PROTO_NODE_CHECK), n->token, &status, &reply, &size);
                if (r < 0)
                        return log_error_errno(r, "Round %u: GET /v1/node/check failed: %s", f->round,
                                               r == -EIO ? bench_http_error(h) : strerror(-r));
                c->tokens_checked++;
                if (want_ok && status != 200)
                        check_violation(f, c, "node %s: its acknowledged token is answered HTTP %ld", n->fingerprint, status);
                else if (!want_ok && status != 401)
                        check_violation(f, c, "node %s (%s): its token is answered HTTP %ld, not 401", n->fingerprint,
                                  dur_state_to_string(n->state), status);
                else if (!want_ok)
                        n->token_refused = true;
        }
        return 0;
}
