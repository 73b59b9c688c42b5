/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "hexdecoct.h"
#include "server-wire.h"

int wire_parse(const char *body, size_t size, json_object **ret) {
        json_tokener *tok;
        json_object *o;

        if (!body || size == 0 || size > INT32_MAX)
                return -EINVAL;
        if (memchr(body, '\0', size))
                return -EINVAL;

        tok = json_tokener_new_ex(WIRE_DEPTH_MAX);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, body, (int) size);
        /* One object, consumed to the end (trailing whitespace allowed), not an incomplete document. */
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            strspn(body + json_tokener_get_parse_end(tok), " \t\r\n") != size - json_tokener_get_parse_end(tok) ||
            !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                json_tokener_free(tok);
                return -EINVAL;
        }
        json_tokener_free(tok);
        *ret = o;
        return 0;
}

int wire_check_fields(json_object *o, const char *const *allowed, const char **ret_field) {
        json_object_object_foreach(o, key, value) {
                bool ok = false;
                (void) value;
                for (const char *const *a = allowed; *a; a++)
                        if (streq(*a, key))
                                ok = true;
                if (!ok) {
                        *ret_field = key;
                        return -EBADMSG;
                }
        }
        return 0;
}

static int get(json_object *o, const char *key, bool required, json_type type, json_object **ret) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                *ret = NULL;
                return required ? -ENOENT : 0;
        }
        if (!json_object_is_type(v, type))
                return -EINVAL;
        *ret = v;
        return 1;
}

int wire_get_string(json_object *o, const char *key, bool required, size_t max, const char **ret) {
        json_object *v;
        int r;

        r = get(o, key, required, json_type_string, &v);
        if (r <= 0) {
                *ret = NULL;
                return r;
        }
        if ((size_t) json_object_get_string_len(v) > max)
                return -E2BIG;
        if (strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v))
                return -EINVAL; /* embedded NUL */
        *ret = json_object_get_string(v);
        return 0;
}

int wire_get_base64(json_object *o, const char *key, bool required, size_t max, void **ret, size_t *ret_size) {
        const char *s;
        int r;

        /* Base64 is 4/3 of the data: check the encoded length before decoding anything. */
        r = wire_get_string(o, key, required, (max + 2) / 3 * 4, &s);
        if (r < 0)
                return r;
        if (!s) {
                *ret = NULL;
                *ret_size = 0;
                return 0;
        }
        r = unbase64mem(s, max, ret, ret_size);
        return r == -E2BIG ? -E2BIG : r < 0 ? -EINVAL : 0;
}

int wire_get_hex(json_object *o, const char *key, size_t size, void *ret) {
        _cleanup_free_ void *buf = NULL;
        const char *s;
        size_t n;
        int r;

        r = wire_get_string(o, key, /* required= */ true, size * 2, &s);
        if (r < 0)
                return r;
        r = unhexmem(s, size, &buf, &n);
        if (r < 0 || n != size)
                return -EINVAL;
        memcpy(ret, buf, size);
        return 0;
}

const char *wire_to_string(json_object *o) {
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

json_object *wire_new_base64(const void *p, size_t size) {
        _cleanup_free_ char *s = base64mem(p, size);
        return s ? json_object_new_string(s) : NULL;
}

json_object *wire_new_hex(const void *p, size_t size) {
        _cleanup_free_ char *s = hexmem(p, size);
        return s ? json_object_new_string(s) : NULL;
}
