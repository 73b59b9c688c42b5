/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* Strict JSON with json-c, for what peers send: the node↔server protocol and systemd's userspace event log.
 * json-c's strict mode refuses what RFC 8259 refuses, except two things it lets through silently: a key
 * repeated in one object (the last value wins) and, the other way round, raw UTF-8 inside strings (refused
 * although valid). json_parse_one() and json_unique_keys() close both. */

/* The deepest nesting any caller may ask for. */
#define JSON_DEPTH_MAX 16U

/* text[0..size) (no NUL needed after it) as exactly one JSON value, whitespace around it allowed, at most depth
 * levels deep. allow_utf8: raw UTF-8 in strings is checked (well-formed, shortest form, no surrogates) and
 * handed to json-c as \u escapes, so the strings decode to the same bytes; without it, bytes beyond ASCII are
 * json-c's to judge (refused in strings, taken in keys: a caller that wants ASCII checks it first, as the
 * protocol does). sensitive: json-c's scratch buffer (which keeps the last string it decoded) is wiped. 0 with
 * *ret set; -EBADMSG if it is not one such value, -ENOMEM. */
int json_parse_one(const char *text, size_t size, unsigned depth, bool allow_utf8, bool sensitive,
                   json_object **ret);

/* Whether no object in tree o, which json_parse_one() made of text[0..size), had a key twice in the text:
 * 1 if none did; 0 if one did, its name (as written, at most duplicate_size - 1 bytes; "?" if unknown) in
 * ret_duplicate when that is not NULL; -EBADMSG if the text has a single-quoted string (json-c's strict mode
 * takes them); -ENOMEM. Call it on every tree json_parse_one() returns. */
int json_unique_keys(json_object *o, const char *text, size_t size, char *ret_duplicate, size_t duplicate_size);

/* Drops o after wiping every string in it (json-c's string storage is the object's own). NULL is fine. */
void json_put_erase(json_object *o);

static inline void json_put_erasep(json_object **o) {
        json_put_erase(*o);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
