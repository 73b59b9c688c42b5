/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by torrc.c, torrc-parse.c, torrc-merge.c and torrc-render.c; not for other users. */

#include "torrc.h"

/* Fills e (if not NULL) and returns r, for "return torrc_error(…);". */
int torrc_error(TorrcError *e, unsigned line, int r, const char *format, ...) _printf_(4, 5);

/* For the public entry points: on failure, copies e to ret_error (if not NULL), with strerror() as the
 * message where nothing more specific was said (-ENOMEM). Returns r. */
int torrc_error_finish(TorrcError *ret_error, const TorrcError *e, int r);

/* Copies s into buf (size > 4) for an error message: printable ASCII kept, other bytes as '?', cut
 * with "..." if longer than size - 1. Returns buf. */
char *torrc_error_quote(const char *s, char *buf, size_t size);

/* Appends an entry; takes ownership of value (also on failure). -E2BIG past TORRC_ENTRIES_MAX. */
int torrc_add_entry(Torrc *t, TorrcOp op, const TorOption *option, char *value, unsigned line);

/* Finds the option, refusing unknown and Virtual options with a message. */
int torrc_find_option(const char *name, unsigned line, const TorOption **ret, TorrcError *ret_error);

/* As torrc_normalize_value() for a value of the given length that may contain NUL bytes (from
 * escapes), reporting the given line. */
int torrc_normalize_value_full(const TorOption *option, const char *value, size_t size, unsigned line,
                               char **ret, TorrcError *ret_error);
