/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* Returns a pointer behind the prefix, or NULL. */
char *startswith(const char *s, const char *prefix) _pure_;
/* True if s consists only of characters in the set (and is not NULL). */
bool in_charset(const char *s, const char *charset) _pure_;
/* Strips leading and trailing spaces and tabs (and a trailing CR) in place; returns the new start. */
char *strstrip(char *s);
/* Parses a decimal unsigned integer in [0, max]; no sign, no whitespace, no trailing garbage. */
int safe_atou64(const char *s, unsigned long long max, unsigned long long *ret);
/* Parses "30", "30s", "5min", "2h", "100ms" into microseconds. */
int parse_duration_usec(const char *s, unsigned long long *ret);
