/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test tool, not installed: merges torrc level files and prints the rendered torrc, or with
 * --provenance "LEVEL:LINE<TAB>Name value" per line.
 *
 *   torrc-render [--default FILE] [--node FILE] [--relay FILE] [--forced FILE] [--provenance] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd-util.h"
#include "torrc.h"

static int load_level(const char *path, Torrc **ret) {
        _cleanup_free_ void *data = NULL;
        TorrcError e = {};
        size_t size;
        int r;

        r = read_full_file(path, TORRC_SIZE_MAX, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-r));
                return r;
        }
        r = torrc_parse(data, size, ret, &e);
        if (r < 0)
                fprintf(stderr, "%s:%u: %s\n", path, e.line, e.message);
        return r;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "default", required_argument, NULL, 'd' },
                { "node", required_argument, NULL, 'n' },
                { "relay", required_argument, NULL, 'r' },
                { "forced", required_argument, NULL, 'f' },
                { "provenance", no_argument, NULL, 'p' },
                {}
        };
        Torrc *levels[_TORRC_LEVEL_MAX] = {};
        _cleanup_(torrc_merged_freep) TorrcMerged *m = NULL;
        _cleanup_free_ char *text = NULL;
        bool provenance = false;
        int c, r = 0, ret = EXIT_FAILURE;
        TorrcLevel l;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'd':
                        l = TORRC_LEVEL_DEFAULT;
                        break;
                case 'n':
                        l = TORRC_LEVEL_NODE;
                        break;
                case 'r':
                        l = TORRC_LEVEL_RELAY;
                        break;
                case 'f':
                        l = TORRC_LEVEL_FORCED;
                        break;
                case 'p':
                        provenance = true;
                        continue;
                default:
                        goto finish;
                }
                torrc_free(levels[l]);
                levels[l] = NULL;
                r = load_level(optarg, &levels[l]);
                if (r < 0)
                        goto finish;
        }
        if (optind < argc) {
                fprintf(stderr, "Unexpected argument: %s\n", argv[optind]);
                goto finish;
        }

        r = torrc_merge((const Torrc *const *) levels, &m);
        if (r < 0) {
                fprintf(stderr, "Merge failed: %s\n", strerror(-r));
                goto finish;
        }
        if (provenance) {
                for (size_t i = 0; i < m->n_lines; i++)
                        printf("%s:%u\t%s %s\n", torrc_level_to_string(m->lines[i].level), m->lines[i].line,
                               m->lines[i].option->name, m->lines[i].value);
        } else {
                r = torrc_merged_render(m, &text);
                if (r < 0) {
                        fprintf(stderr, "Rendering failed: %s\n", strerror(-r));
                        goto finish;
                }
                fputs(text, stdout);
        }
        ret = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
finish:
        for (l = 0; l < _TORRC_LEVEL_MAX; l++)
                torrc_free(levels[l]);
        return ret;
}
