/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
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
