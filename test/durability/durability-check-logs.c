/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The checks of the append-only logs: the attestation log's rows and the transparency log's entries against
 * the previous round's, `patela-server log verify`, signed checkpoints and their consistency proofs, and the
 * log's entries against the tables they record. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "digest-util.h"
#include "durability-check.h"
#include "durability-db.h"
#include "hexdecoct.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* ---- the attestation log ------------------------------------------------------------------------------- */

typedef struct RowDigests {
        RowDigest *items;
        size_t n, max;
} RowDigests;

static int attestation_row(void *userdata, size_t n, const char *const *v) {
        RowDigests *d = userdata;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        if (n < 1 || !v[0])
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                len += strlen(v[i] ? v[i] : "") + 3;
        text = calloc(len + 1, 1);
        if (!text)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                /* NULL and '' differ: a marker byte before each value. */
                strcat(text, v[i] ? "\x1f" : "\x1e");
                strcat(text, v[i] ? v[i] : "");
        }
        if (d->n >= d->max) {
                size_t m = MAX(d->max * 2, 256U);
                RowDigest *p = reallocarray(d->items, m, sizeof(RowDigest));
                if (!p)
                        return -ENOMEM;
                d->items = p;
                d->max = m;
        }
        d->items[d->n].id = strtoll(v[0], NULL, 10);
        if (!sha256_digest(text, strlen(text), d->items[d->n].digest))
                return -ENOMEM;
        d->n++;
        return 0;
}

int check_attestations(Fleet *f, CheckState *c, DurDb *db) {
        RowDigests d = {};
        size_t j = 0;
        int r;

        r = dur_db_query(db, "SELECT * FROM attestations ORDER BY id", NULL, 0, attestation_row, &d);
        if (r < 0) {
                free(d.items);
                return r;
        }
        /* Every row of the previous round, unchanged, in id order; new rows only after them or between. */
        for (size_t i = 0; i < c->n_attestations; i++) {
                const RowDigest *old = &c->attestations[i];

                while (j < d.n && d.items[j].id < old->id)
                        j++;
                if (j >= d.n || d.items[j].id != old->id)
                        check_violation(f, c, "attestation %lld is gone", old->id);
                else if (memcmp(d.items[j].digest, old->digest, 32) != 0)
                        check_violation(f, c, "attestation %lld changed", old->id);
        }
        if (c->n_attestations > 0 && d.n > 0 && d.items[0].id < c->attestations[0].id)
                check_violation(f, c, "attestation %lld appeared before the oldest one", d.items[0].id);
        free(c->attestations);
        c->attestations = d.items;
        c->n_attestations = d.n;
        return 0;
}

/* ---- the transparency log ------------------------------------------------------------------------------ */

typedef struct Leaves {
        TlogHash *items;
        size_t n, max;
        bool gap;
} Leaves;

static int leaf_row(void *userdata, size_t n, const char *const *v) {
        Leaves *l = userdata;
        _cleanup_free_ void *entry = NULL;
        size_t size;
        int r;

        if (n < 2 || !v[0] || !v[1])
                return -EBADMSG;
        if (strtoull(v[0], NULL, 10) != l->n)
                l->gap = true;
        r = unhexmem(v[1], strlen(v[1]), &entry, &size);
        if (r < 0)
                return r;
        if (l->n >= l->max) {
                size_t m = MAX(l->max * 2, 256U);
                TlogHash *p = reallocarray(l->items, m, sizeof(TlogHash));
                if (!p)
                        return -ENOMEM;
                l->items = p;
                l->max = m;
        }
        if (!tlog_leaf_hash(entry, size, &l->items[l->n]))
                return -ENOMEM;
        l->n++;
        return 0;
}

static int tree_root(const TlogHash *leaves, size_t n, TlogHash *ret) {
        TlogCompact compact = {};
        int r;

        for (size_t i = 0; i < n; i++) {
                r = tlog_compact_append(&compact, &leaves[i]);
                if (r < 0)
                        return r;
        }
        return tlog_compact_root(&compact, ret);
}

static int json_hash(json_object *o, const char *key, TlogHash *ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        return tlog_hash_parse(json_object_get_string(v), ret);
}

static int cli_json(Fleet *f, char *const *args, int *ret_status, json_object **ret) {
        _cleanup_free_ char *out = NULL;
        int r;

        r = fleet_cli(f, args, &out, ret_status);
        if (r < 0)
                return r;
        *ret = json_tokener_parse(out);
        return 0;
}

int check_tlog(Fleet *f, CheckState *c, DurDb *db) {
        Leaves l = {};
        TlogHash root = {}, prefix_root;
        int status, r;

        r = dur_db_query(db, "SELECT idx, entry FROM tlog_entries ORDER BY idx", NULL, 0, leaf_row, &l);
        if (r < 0)
                goto finish;
        if (l.gap)
                check_violation(f, c, "the transparency log's entries are not numbered 0…%zu", l.n);
        if (l.n < c->n_leaves)
                check_violation(f, c, "the transparency log shrank from %zu to %zu entries", c->n_leaves, l.n);
        for (size_t i = 0; i < MIN(l.n, c->n_leaves); i++)
                if (!tlog_hash_equal(&l.items[i], &c->leaves[i])) {
                        check_violation(f, c, "transparency log entry %zu changed", i);
                        break;
                }
        if (l.n > 0) {
                r = tree_root(l.items, l.n, &root);
                if (r < 0)
                        goto finish;
        }

        /* patela-server log verify: the stored subtree hashes against the entries, and its head against ours. */
        {
                _cleanup_(json_object_putp) json_object *o = NULL;
                char *args[] = { (char *) "--json", (char *) "log", (char *) "verify", NULL };
                json_object *v;
                TlogHash head;

                r = cli_json(f, args, &status, &o);
                if (r < 0)
                        goto finish;
                if (status != 0 || !o || !json_object_object_get_ex(o, "verified", &v) || !json_object_get_boolean(v))
                        check_violation(f, c, "patela-server log verify: exit status %d, %s", status,
                                  o ? json_object_to_json_string(o) : "no JSON");
                else if (!json_object_object_get_ex(o, "size", &v) || (size_t) json_object_get_int64(v) != l.n ||
                         (l.n > 0 && (json_hash(o, "root", &head) < 0 || !tlog_hash_equal(&head, &root))))
                        check_violation(f, c, "patela-server log verify: %s, the entries give %zu entries",
                                  json_object_to_json_string(o), l.n);
        }

        /* A signed checkpoint of the log now, consistent with the previous round's: the old tree is a prefix of
         * the new one, by the server's consistency proof and by the entries themselves. */
        if (l.n > 0) {
                _cleanup_free_ char *note = NULL;
                char *args[] = { (char *) "log", (char *) "checkpoint", c->key_path, NULL };
                TlogCheckpoint cp;
                size_t text_size;

                r = fleet_cli(f, args, &note, &status);
                if (r < 0)
                        goto finish;
                if (status != 0 || tlog_note_open(note, strlen(note), &c->verifier, &text_size) < 0 ||
                    tlog_checkpoint_parse(note, text_size, &cp) < 0) {
                        check_violation(f, c, "patela-server log checkpoint: exit status %d, not a signed checkpoint", status);
                        goto finish;
                }
                if (cp.size != l.n || !tlog_hash_equal(&cp.root, &root))
                        check_violation(f, c, "the checkpoint's size %" PRIu64 " or root is not the entries' (%zu)", cp.size,
                                  l.n);
                if (c->checkpoint_size > 0 && c->checkpoint_size <= l.n) {
                        if (tree_root(l.items, c->checkpoint_size, &prefix_root) < 0 ||
                            !tlog_hash_equal(&prefix_root, &c->checkpoint_root))
                                check_violation(f, c, "the first %" PRIu64 " entries no longer give the previous checkpoint",
                                          c->checkpoint_size);
                        if (c->checkpoint_size < cp.size) {
                                _cleanup_(json_object_putp) json_object *o = NULL;
                                TlogHash proof[TLOG_PROOF_MAX];
                                char s1[32], s2[32];
                                json_object *p = NULL;
                                size_t n = 0;

                                snprintf(s1, sizeof(s1), "%" PRIu64, c->checkpoint_size);
                                snprintf(s2, sizeof(s2), "%" PRIu64, cp.size);
                                char *pargs[] = { (char *) "--json", (char *) "log", (char *) "proof",
                                                  (char *) "--consistency", s1, s2, NULL };
                                r = cli_json(f, pargs, &status, &o);
                                if (r < 0)
                                        goto finish;
                                if (status == 0 && o && json_object_object_get_ex(o, "proof", &p) &&
                                    json_object_is_type(p, json_type_array))
                                        for (; n < json_object_array_length(p) && n < TLOG_PROOF_MAX; n++)
                                                if (tlog_hash_parse(json_object_get_string(
                                                                            json_object_array_get_idx(p, n)),
                                                                    &proof[n]) < 0)
                                                        break;
                                if (!p || !tlog_verify_consistency(c->checkpoint_size, cp.size, &c->checkpoint_root,
                                                                   &cp.root, proof, n))
                                        check_violation(f, c, "no valid consistency proof from checkpoint %s to %s", s1, s2);
                        }
                } else if (c->checkpoint_size > l.n)
                        check_violation(f, c, "the log has %zu entries, the previous checkpoint %" PRIu64, l.n,
                                  c->checkpoint_size);
                c->checkpoint_size = cp.size;
                c->checkpoint_root = cp.root;
        }
        r = 0;
finish:
        if (r >= 0) {
                free(c->leaves);
                c->leaves = l.items;
                c->n_leaves = l.n;
        } else
                free(l.items);
        return r;
}

/* Each change of the transparency log's kinds is in the transaction of its change: the log and the tables
 * agree, and the CLI's changes are there as acknowledged (up to the ones cut off). */
int check_tlog_kinds(Fleet *f, CheckState *c, DurDb *db) {
        static const struct {
                const char *what;
                const char *sql; /* a count that must be 0 */
        } agree[] = {
                { "node-enabled entries less node-disabled ones, against the enabled nodes",
                  "SELECT (SELECT COUNT(*) FROM tlog_entries WHERE kind = 'node-enabled') - "
                  "(SELECT COUNT(*) FROM tlog_entries WHERE kind = 'node-disabled') - "
                  "(SELECT COUNT(*) FROM nodes WHERE state = 'enabled')" },
                { "image-registered entries against the images",
                  "SELECT (SELECT COUNT(*) FROM tlog_entries WHERE kind = 'image-registered') - "
                  "(SELECT COUNT(*) FROM images)" },
                { "image-retired entries against the retired images",
                  "SELECT (SELECT COUNT(*) FROM tlog_entries WHERE kind = 'image-retired') - "
                  "(SELECT COUNT(*) FROM images WHERE retired_at IS NOT NULL)" },
        };
        static const struct {
                const char *kind;
                DurOp op;
        } acked[] = {
                { "node-enabled", DUR_OP_ENABLE },
                { "node-disabled", DUR_OP_DISABLE },
                { "image-registered", DUR_OP_IMAGE_ADD },
                { "verdict", DUR_OP_AUTH },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(agree); i++) {
                long long v;

                r = dur_db_query_int(db, agree[i].sql, NULL, 0, &v);
                if (r < 0)
                        return r;
                if (v != 0)
                        check_violation(f, c, "the transparency log is off by %lld: %s", v, agree[i].what);
        }
        for (size_t i = 0; i < ELEMENTSOF(acked); i++) {
                const char *params[] = { acked[i].kind };
                unsigned long long lo = atomic_load(&f->counters.acked[acked[i].op]),
                                   hi = lo + atomic_load(&f->counters.unknown[acked[i].op]) +
                                        atomic_load(&f->counters.refused[acked[i].op]);
                long long v;

                r = dur_db_query_int(db, "SELECT COUNT(*) FROM tlog_entries WHERE kind = ?", params, 1, &v);
                if (r < 0)
                        return r;
                if (v < 0 || (unsigned long long) v < lo || (acked[i].op != DUR_OP_AUTH && (unsigned long long) v > hi))
                        check_violation(f, c, "%lld %s entries in the transparency log, %llu acknowledged, at most %llu "
                                  "attempted", v, acked[i].kind, lo, hi);
        }
        return 0;
}
