/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "alloc-util.h"
#include "torrc-internal.h"

typedef struct Pending {
        const TorrcEntry *entry;
        TorrcLevel level;
        size_t group; /* index of the option's list in tor_options[] */
        size_t seq;   /* position in application order */
} Pending;

static int pending_compare(const void *a, const void *b) {
        const Pending *x = a, *y = b;

        /* By list (tor_options[] is sorted by name), then in the order the levels gave the lines. */
        if (x->group != y->group)
                return x->group < y->group ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* tor's first-match policies: an earlier line wins, so their order is their meaning. */
bool tor_option_is_first_match(const TorOption *o) {
        static const char *const names[] = { "ExitPolicy", "SocksPolicy", "DirPolicy", "MetricsPortPolicy" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(o->name, names[i]))
                        return true;
        return false;
}

/* One policy item that matches every address and port: "accept *:*", "reject *4:*", "reject6 *6:*"… */
static bool policy_item_catch_all(const char *item, size_t n) {
        static const char *const actions[] = { "accept6", "reject6", "accept", "reject" };
        static const char *const patterns[] = { "*:*", "*4:*", "*6:*" };
        const char *p = item, *end = item + n;

        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        for (size_t a = 0; a < ELEMENTSOF(actions); a++) {
                size_t la = strlen(actions[a]);
                const char *q;

                if ((size_t) (end - p) <= la || strncasecmp(p, actions[a], la) != 0 || (p[la] != ' ' && p[la] != '\t'))
                        continue;
                q = p + la;
                while (q < end && (*q == ' ' || *q == '\t'))
                        q++;
                for (size_t k = 0; k < ELEMENTSOF(patterns); k++)
                        if ((size_t) (end - q) == strlen(patterns[k]) && strncmp(q, patterns[k], (size_t) (end - q)) == 0)
                                return true;
                return false;
        }
        return false;
}

/* A policy line (a comma-separated list of items) that matches everything, whatever came before it. */
static bool policy_line_catch_all(const char *value) {
        const char *p = value;

        for (;;) {
                size_t n = strcspn(p, ",");

                if (!policy_item_catch_all(p, n))
                        return false;
                if (!p[n])
                        return true;
                p += n + 1;
        }
}

/* Reorders one first-match list (pending[from..to), sorted in application order) the way operators mean a
 * cascade: each level's lines are its body and its catch-all tail (its trailing lines that match everything,
 * e.g. "reject *:*"). The bodies come first, the more specific level first (relay, node, default: a node's
 * "reject *:25" overrides the fleet's "accept *:25"), then the tails in the same order — the most specific
 * catch-all decides what nobody listed. */
static int reorder_first_match(Pending *pending, size_t from, size_t to) {
        _cleanup_free_ Pending *out = calloc(MAX(to - from, (size_t) 1), sizeof(Pending));
        size_t tail_from[_TORRC_LEVEL_MAX], n = 0;

        if (!out)
                return -ENOMEM;
        for (TorrcLevel l = 0; l < _TORRC_LEVEL_MAX; l++) {
                /* the level's tail: from after its last line that is not a catch-all */
                tail_from[l] = from;
                for (size_t i = from; i < to; i++)
                        if (pending[i].level == l && !policy_line_catch_all(pending[i].entry->value))
                                tail_from[l] = i + 1;
        }
        for (int pass = 0; pass < 2; pass++)
                for (int l = _TORRC_LEVEL_MAX - 1; l >= 0; l--)
                        for (size_t i = from; i < to; i++)
                                if (pending[i].level == (TorrcLevel) l && (pass == 0) == (i < tail_from[l]))
                                        out[n++] = pending[i];
        assert(n == to - from);
        memcpy(pending + from, out, n * sizeof(Pending));
        return 0;
}

TorrcMerged *torrc_merged_free(TorrcMerged *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_lines; i++)
                free(m->lines[i].value);
        free(m->lines);
        free(m);
        return NULL;
}

int torrc_merge(const Torrc *const levels[static _TORRC_LEVEL_MAX], TorrcMerged **ret) {
        _cleanup_(torrc_merged_freep) TorrcMerged *m = NULL;
        _cleanup_free_ Pending *pending = NULL;
        _cleanup_free_ size_t *live_from = NULL;
        size_t total = 0, n = 0, k = 0;

        if (!ret)
                return -EINVAL;
        for (TorrcLevel l = 0; l < _TORRC_LEVEL_MAX; l++)
                if (levels[l])
                        total += levels[l]->n_entries;

        /* A SET or UNSET kills every line its list has so far: rather than removing them, remember
         * per list from which line on lines are alive. Linear in the number of entries. */
        pending = calloc(MAX(total, (size_t) 1), sizeof(Pending));
        live_from = calloc(tor_options_count, sizeof(size_t));
        m = calloc(1, sizeof(TorrcMerged));
        if (!pending || !live_from || !m)
                return -ENOMEM;

        for (TorrcLevel l = 0; l < _TORRC_LEVEL_MAX; l++) {
                if (!levels[l])
                        continue;
                for (size_t i = 0; i < levels[l]->n_entries; i++) {
                        const TorrcEntry *e = levels[l]->entries + i;
                        size_t g = tor_option_index(tor_option_group(e->option));

                        if (e->op != TORRC_OP_APPEND || !tor_option_is_cumulative(e->option))
                                live_from[g] = n;
                        if (e->op == TORRC_OP_UNSET)
                                continue;
                        pending[n] = (Pending) { .entry = e, .level = l, .group = g, .seq = n };
                        n++;
                }
        }

        for (size_t i = 0; i < n; i++)
                if (pending[i].seq >= live_from[pending[i].group])
                        pending[k++] = pending[i];
        qsort(pending, k, sizeof(Pending), pending_compare);
        for (size_t i = 0, j; i < k; i = j) {
                for (j = i + 1; j < k && pending[j].group == pending[i].group; j++)
                        ;
                if (tor_option_is_first_match(pending[i].entry->option)) {
                        int r = reorder_first_match(pending, i, j);
                        if (r < 0)
                                return r;
                }
        }

        m->lines = calloc(MAX(k, (size_t) 1), sizeof(TorrcLine));
        if (!m->lines)
                return -ENOMEM;
        for (size_t i = 0; i < k; i++) {
                TorrcLine *line = m->lines + m->n_lines;

                line->value = strdup(pending[i].entry->value);
                if (!line->value)
                        return -ENOMEM;
                line->option = pending[i].entry->option;
                line->level = pending[i].level;
                line->line = pending[i].entry->line;
                m->n_lines++;
        }

        *ret = TAKE_PTR(m);
        return 0;
}

bool torrc_merged_equal(const TorrcMerged *a, const TorrcMerged *b) {
        if (a->n_lines != b->n_lines)
                return false;
        for (size_t i = 0; i < a->n_lines; i++)
                if (a->lines[i].option != b->lines[i].option || !streq(a->lines[i].value, b->lines[i].value))
                        return false;
        return true;
}
