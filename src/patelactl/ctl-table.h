/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* A text table as systemd's tools print them: a header row, columns padded to their widest cell, the
 * last column not padded. Cells are copied; NULL prints as "-". */
typedef struct Table Table;

Table *table_new(size_t n_columns, ...);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* Adds one row of exactly n_columns cells. */
int table_add_row(Table *t, ...);
size_t table_n_rows(const Table *t);
/* Prints the rows, and the header row unless header is false. */
void table_print(const Table *t, bool header);
