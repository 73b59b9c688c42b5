/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <limits.h>
#include <stddef.h>

/* systemd-style configuration files: one "[Section]" of "Key=Value" lines, "#" and ";" comments, read
 * from a main file (may be absent) and then DIR/ *.conf drop-ins in lexical order; later assignments win.
 * Bounded: files of CONF_FILE_MAX bytes, lines of CONF_LINE_MAX, CONF_DROPINS_MAX drop-ins, no NUL. */

#define CONF_FILE_MAX (256U * 1024U)
#define CONF_LINE_MAX 4096U
#define CONF_DROPINS_MAX 128U

/* Sets one option; returns -ENOENT for an unknown key, -EINVAL for a bad value, or another error. */
typedef int (*conf_set_t)(void *userdata, const char *key, const char *value);

typedef struct ConfError {
        char path[PATH_MAX]; /* the file, empty for conf_parse() */
        unsigned line;       /* 0 if the error is not about a line */
} ConfError;

/* -EBADMSG for a line that is not a comment, the section header or Key=Value inside the section (another
 * section is an error: a typo must not silently drop options), -E2BIG past the limits, or set's error. */
int conf_parse(const char *text, size_t size, const char *section, conf_set_t set, void *userdata,
               unsigned *ret_line);

/* With path: that file only (it must exist). Otherwise main_file (absent is fine) and the drop-ins. */
int conf_load(const char *path, const char *main_file, const char *dropin_dir, const char *section, conf_set_t set,
              void *userdata, ConfError *ret_error);
