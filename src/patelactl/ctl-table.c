/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-table.h"

struct Table {
        size_t n_columns;
        size_t n_cells; /* header included */
        char **cells;
};

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

static int table_add_rowv(Table *t, va_list ap) {
        char **cells = realloc(t->cells, (t->n_cells + t->n_columns) * sizeof(char *));
        if (!cells)
                return -ENOMEM;
        t->cells = cells;

        for (size_t c = 0; c < t->n_columns; c++) {
                const char *s = va_arg(ap, const char *);
                char *copy = strdup(s ?: "-");
                if (!copy) {
                        /* Drop the partial row. */
                        for (size_t k = 0; k < c; k++)
                                free(t->cells[t->n_cells + k]);
                        return -ENOMEM;
                }
                t->cells[t->n_cells + c] = copy;
        }
        t->n_cells += t->n_columns;
        return 0;
}

Table *table_new(size_t n_columns, ...) {
        _cleanup_(table_freep) Table *t = NULL;
        va_list ap;
        int r;

        if (n_columns == 0)
                return NULL;
        t = calloc(1, sizeof(Table));
        if (!t)
                return NULL;
        t->n_columns = n_columns;

        va_start(ap, n_columns);
        r = table_add_rowv(t, ap);
        va_end(ap);
        if (r < 0)
                return NULL;
        return TAKE_PTR(t);
}

int table_add_row(Table *t, ...) {
        va_list ap;
        int r;

        va_start(ap, t);
        r = table_add_rowv(t, ap);
        va_end(ap);
        return r;
}

size_t table_n_rows(const Table *t) {
        return t->n_cells / t->n_columns - 1;
}

void table_print(const Table *t, bool header) {
        size_t n_rows = t->n_cells / t->n_columns;
        size_t width[t->n_columns];

        for (size_t c = 0; c < t->n_columns; c++) {
                width[c] = 0;
                for (size_t r = header ? 0 : 1; r < n_rows; r++)
                        width[c] = MAX(width[c], strlen(t->cells[r * t->n_columns + c]));
        }

        for (size_t r = header ? 0 : 1; r < n_rows; r++)
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *s = t->cells[r * t->n_columns + c];
                        if (c + 1 == t->n_columns)
                                printf("%s\n", s);
                        else
                                printf("%-*s ", (int) width[c], s);
                }
}
