/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-json.h>

/* Field accessors for replies: a missing field or one of another type reads as NULL, 0 or false. */
const char *json_str(sd_json_variant *v, const char *key);
int64_t json_int(sd_json_variant *v, const char *key, bool *ret_present);
bool json_bool(sd_json_variant *v, const char *key);
/* An array field (NULL if absent) and its length. */
sd_json_variant *json_array(sd_json_variant *v, const char *key, size_t *ret_n);
/* "0 2 4 7" from an array of integers, "none" if empty; malloc'd. */
char *json_int_list(sd_json_variant *v, const char *key);
/* µs since the epoch as local time, "never" for absent; into buf. */
const char *format_usec(sd_json_variant *v, const char *key, char *buf, size_t size);
