/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* torrc text from operators and the server's database: parsing is bounded and never crashes, errors say
 * why, and whatever parses renders to text that parses back the same (as a level, and merged). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "torrc.h"

static void check_merged_round_trip(const Torrc *t) {
        const Torrc *levels[_TORRC_LEVEL_MAX] = { [TORRC_LEVEL_NODE] = t };
        TorrcMerged *m = NULL, *again = NULL;
        Torrc *u = NULL;
        char *text = NULL;

        if (torrc_merge(levels, &m) < 0)
                return;
        if (torrc_merged_render(m, &text) < 0)
                goto finish;
        if (torrc_parse(text, strlen(text), &u, NULL) < 0)
                abort();
        levels[TORRC_LEVEL_NODE] = NULL;
        levels[TORRC_LEVEL_FORCED] = u;
        if (torrc_merge(levels, &again) < 0)
                goto finish;
        if (!torrc_merged_equal(m, again))
                abort();
        for (size_t i = 0; i < again->n_lines; i++)
                if (again->lines[i].level != TORRC_LEVEL_FORCED)
                        abort();
finish:
        torrc_merged_free(again);
        torrc_merged_free(m);
        torrc_free(u);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        TorrcError e = {};
        Torrc *t = NULL, *u = NULL;
        char *text = NULL;

        if (torrc_parse((const char *) data, size, &t, &e) < 0) {
                if (e.message[0] == '\0' || !memchr(e.message, '\0', sizeof(e.message)))
                        abort();
                /* The line named is one of the input's (or 0 for the whole text). */
                if (e.line > 1 + size)
                        abort();
                return 0;
        }
        if (t->n_entries > TORRC_ENTRIES_MAX)
                abort();

        if (torrc_render(t, &text) >= 0) {
                if (torrc_parse(text, strlen(text), &u, NULL) < 0)
                        abort();
                if (!torrc_equal(t, u))
                        abort();
        }
        check_merged_round_trip(t);

        torrc_free(u);
        torrc_free(t);
        free(text);
        return 0;
}
