/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The admin CLI's output: tables, JSON, "key: value" fields, times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server-cli.h"

void cli_print_json(json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

struct Table {
        unsigned n_columns;
        size_t n_rows;
        char **cells; /* row-major, row 0 = headers */
};

Table *table_new(const char *const *headers, unsigned n_columns) {
        Table *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        if (table_add_row(t, headers) < 0)
                return table_free(t);
        return t;
}

int table_add_row(Table *t, const char *const *cells) {
        char **p = realloc(t->cells, (t->n_rows + 1) * t->n_columns * sizeof(char *));
        if (!p)
                return -ENOMEM;
        t->cells = p;
        for (unsigned c = 0; c < t->n_columns; c++) {
                p[t->n_rows * t->n_columns + c] = strdup(cells[c] ? cells[c] : "-");
                if (!p[t->n_rows * t->n_columns + c])
                        return -ENOMEM;
        }
        t->n_rows++;
        return 0;
}

void table_print(Table *t, bool legend) {
        size_t width[16] = {};

        for (size_t r = 0; r < t->n_rows; r++)
                for (unsigned c = 0; c < t->n_columns && c < 16; c++)
                        width[c] = MAX(width[c], strlen(t->cells[r * t->n_columns + c]));
        for (size_t r = legend ? 0 : 1; r < t->n_rows; r++) {
                for (unsigned c = 0; c < t->n_columns; c++)
                        printf(c + 1 < t->n_columns ? "%-*s " : "%-*s", c + 1 < t->n_columns ? (int) width[c] : 0,
                               t->cells[r * t->n_columns + c]);
                putchar('\n');
        }
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

void cli_format_time(int64_t t, char *buf, size_t size) {
        struct tm tm;
        time_t tt = (time_t) t;

        if (t <= 0 || !gmtime_r(&tt, &tm))
                snprintf(buf, size, "-");
        else
                strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Nested objects (an image's PCR 11 phases, its os-release) one line per field: "pcr11.boot". */
static size_t fields_width(json_object *o, size_t prefix) {
        size_t w = 0;

        json_object_object_foreach(o, key, value)
                w = MAX(w, json_object_is_type(value, json_type_object) ? fields_width(value, prefix + strlen(key) + 1)
                                                                        : prefix + strlen(key));
        return w;
}

static void print_fields(json_object *o, const char *prefix, int width) {
        json_object_object_foreach(o, key, value) {
                char name[128];

                snprintf(name, sizeof(name), "%s%s", prefix, key);
                if (json_object_is_type(value, json_type_object)) {
                        char sub[sizeof(name) + 1];

                        snprintf(sub, sizeof(sub), "%s.", name);
                        print_fields(value, sub, width);
                        continue;
                }
                printf("%*s: %s\n", width, name,
                       json_object_is_type(value, json_type_string) ? json_object_get_string(value)
                       : value                                      ? json_object_to_json_string(value)
                                                                    : "-");
        }
}

void cli_print_fields(json_object *o) {
        print_fields(o, "", (int) MIN(fields_width(o, 0), 64U));
}

void cli_print_list(Cli *cli, json_object *arr, Table *t) {
        if (cli->json) {
                cli_print_json(arr);
                return;
        }
        json_object_put(arr);
        table_print(t, !cli->no_legend);
}
