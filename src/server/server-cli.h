/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "server-config.h"
#include "server-db.h"

/* Exit codes of the admin CLI (patela-server(8), EXIT STATUS). */
enum {
        EXIT_USAGE = 2,     /* invalid verb, option or argument */
        EXIT_NOT_FOUND = 3, /* no such node, relay or file */
        EXIT_REFUSED = 4,   /* refused: pool exhausted, duplicate, state conflict */
};

typedef struct Cli {
        ServerConfig *config;
        bool json;
        bool no_legend;
        Db *db;
} Cli;

/* Opens the database on first use. */
int cli_db(Cli *cli, Db **ret);
/* Maps a negative errno to an exit status. */
int cli_exit_status(int r) _const_;

/* Prints a JSON value (pretty) to stdout; consumes it. */
void cli_print_json(json_object *o);
/* Prints an object's fields as "key: value" lines, nested objects as "key.field"; does not consume it. */
void cli_print_fields(json_object *o);
/* Seconds since the epoch as UTC ISO 8601, "-" for none (≤ 0). */
void cli_format_time(int64_t t, char *buf, size_t size);

/* A small table printer: columns sized to their content, a header unless --no-legend. */
typedef struct Table Table;
Table *table_new(const char *const *headers, unsigned n_columns);
int table_add_row(Table *t, const char *const *cells);
void table_print(Table *t, bool legend);
/* A list verb's output: arr (JSON, consumed) with --json, else the table (legend unless --no-legend). */
void cli_print_list(Cli *cli, json_object *arr, Table *t);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* Verbs: argc/argv start at the verb's own arguments. */
int verb_node(Cli *cli, int argc, char **argv);
int verb_list(Cli *cli, int argc, char **argv);
int verb_pool(Cli *cli, int argc, char **argv);
int verb_attestations(Cli *cli, int argc, char **argv);
int verb_ca(Cli *cli, int argc, char **argv);
int verb_torrc(Cli *cli, int argc, char **argv);
int verb_diff(Cli *cli, int argc, char **argv);
int verb_run(Cli *cli, int argc, char **argv);
int verb_image(Cli *cli, int argc, char **argv);
int verb_contactinfo(Cli *cli, int argc, char **argv);
int verb_log(Cli *cli, int argc, char **argv);
int verb_family(Cli *cli, int argc, char **argv);
int verb_status(Cli *cli, int argc, char **argv);
