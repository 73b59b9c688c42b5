/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* The identity of an image from its os-release file (os-release(5)), as a UKI carries it in its .osrel
 * section: mkosi writes the distribution's /usr/lib/os-release plus IMAGE_ID= (and IMAGE_VERSION= when the
 * build sets one). Only the fields that identify a build are kept; os-release(5) restricts each of them to
 * a few characters, and so does this parser, which keeps them usable as names and in terminals.
 * Nothing here logs. */

typedef enum OsReleaseField {
        OS_RELEASE_ID,
        OS_RELEASE_VERSION_ID,
        OS_RELEASE_IMAGE_ID,
        OS_RELEASE_IMAGE_VERSION,
        OS_RELEASE_BUILD_ID,
        _OS_RELEASE_FIELD_MAX,
        _OS_RELEASE_FIELD_INVALID = -EINVAL,
} OsReleaseField;

/* A value holds at most OS_RELEASE_VALUE_MAX - 1 characters of [A-Za-z0-9._~+-]. */
#define OS_RELEASE_VALUE_MAX 64U
/* Larger than any os-release seen (Debian's is 0.3 KB); the parser refuses more. */
#define OS_RELEASE_SIZE_MAX (16U * 1024U)

typedef struct OsRelease {
        char values[_OS_RELEASE_FIELD_MAX][OS_RELEASE_VALUE_MAX]; /* "" when the file does not set it */
} OsRelease;

const char *os_release_field_to_string(OsReleaseField f) _const_;
OsReleaseField os_release_field_from_string(const char *s) _pure_;
bool os_release_value_is_valid(const char *s) _pure_;

/* Parses KEY=VALUE lines with shell quoting ('…', "…" with \ escapes), comments and blank lines; a later
 * assignment wins, as when a shell sources the file. Keeps the fields above. -EBADMSG for a line that is
 * no assignment, an unterminated quote or an identity value outside the character set, -E2BIG past
 * OS_RELEASE_SIZE_MAX or a value past OS_RELEASE_VALUE_MAX. text need not be NUL-terminated. */
int os_release_parse(const char *text, size_t size, OsRelease *ret);
