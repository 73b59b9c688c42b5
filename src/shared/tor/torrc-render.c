/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torrc-internal.h"

static void fclose_and_free(FILE *f, char **buf) {
        fclose(f);
        free(*buf);
        *buf = NULL;
}

/* A plain value is copied verbatim by tor up to a '#' or the end of the line, trailing blanks cut, and
 * leading blanks are taken as the separator; a backslash before the newline continues the line and a
 * leading '"' starts a quoted value. Anything that would be read differently gets quotes. */
static bool value_needs_quotes(const char *v) {
        size_t n = strlen(v);

        if (n == 0)
                return true;
        if (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t')
                return true;
        return strpbrk(v, "#\\\"") != NULL;
}

static void render_value(FILE *f, const char *v) {
        if (!value_needs_quotes(v)) {
                fputs(v, f);
                return;
        }
        /* Only what tor's unescape_string() decodes; values never hold other control characters. */
        fputc('"', f);
        for (const char *p = v; *p; p++)
                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        fputc(*p, f);
                }
        fputc('"', f);
}

static int render_finish(FILE *f, char **buf, char **ret) {
        if (ferror(f)) {
                fclose_and_free(f, buf);
                return -ENOMEM;
        }
        if (fclose(f) != 0) {
                free(*buf);
                return -ENOMEM;
        }
        *ret = *buf;
        return 0;
}

int torrc_render(const Torrc *t, char **ret) {
        _cleanup_free_ bool *started_by_set = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!t || !ret)
                return -EINVAL;
        /* Per list: does this level's first entry for it SET? Then later lines are plain, as tor's
         * own torrc would have them; otherwise appends keep their explicit "+". */
        started_by_set = calloc(tor_options_count, sizeof(bool));
        if (!started_by_set)
                return -ENOMEM;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        for (size_t i = 0; i < t->n_entries; i++) {
                const TorrcEntry *e = t->entries + i;
                size_t g = tor_option_index(tor_option_group(e->option));

                switch (e->op) {
                case TORRC_OP_SET:
                        started_by_set[g] = true;
                        fprintf(f, "%s ", e->option->name);
                        break;
                case TORRC_OP_APPEND:
                        fprintf(f, "%s%s ", started_by_set[g] ? "" : "+", e->option->name);
                        break;
                case TORRC_OP_UNSET:
                        fprintf(f, "/%s\n", e->option->name);
                        continue;
                default:
                        fclose_and_free(f, &buf);
                        return -EINVAL;
                }
                render_value(f, e->value);
                fputc('\n', f);
        }
        return render_finish(f, &buf, ret);
}

int torrc_merged_render(const TorrcMerged *m, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!m || !ret)
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_lines; i++) {
                fprintf(f, "%s ", m->lines[i].option->name);
                render_value(f, m->lines[i].value);
                fputc('\n', f);
        }
        return render_finish(f, &buf, ret);
}
