/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* The server API's wire format: JSON objects (json-c), binary values in base64, unknown fields rejected,
 * bodies bounded by the caller before parsing. Every decoder names the offending field on failure. */

#define WIRE_DEPTH_MAX 8

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* Parses a request body that must be one JSON object, with nothing after it. */
int wire_parse(const char *body, size_t size, json_object **ret);

/* -EBADMSG with *ret_field set to the first key not in allowed (NULL-terminated). */
int wire_check_fields(json_object *o, const char *const *allowed, const char **ret_field);

/* Field accessors: -ENOENT if missing (or null) and required, -EINVAL for a wrong type or bad encoding,
 * -E2BIG past max. Optional missing fields give *ret = NULL / 0 and return 0. */
int wire_get_string(json_object *o, const char *key, bool required, size_t max, const char **ret);
int wire_get_base64(json_object *o, const char *key, bool required, size_t max, void **ret, size_t *ret_size);
int wire_get_hex(json_object *o, const char *key, size_t size, void *ret);

/* Serialises an object (compact); the string belongs to the object. */
const char *wire_to_string(json_object *o);

/* json_object_new_string of base64/hex of the data (NULL on OOM). */
json_object *wire_new_base64(const void *p, size_t size);
json_object *wire_new_hex(const void *p, size_t size);
