/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "json-strict.h"

/* The length of the UTF-8 sequence at s[0..n) and its code point, or 0 if it is not a well-formed one (RFC 3629:
 * shortest form, no surrogates, at most U+10FFFF). */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *ret) {
        uint32_t c;
        size_t len;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if (s[0] >= 0xC2 && s[0] <= 0xDF)
                len = 2, c = s[0] & 0x1F;
        else if (s[0] >= 0xE0 && s[0] <= 0xEF)
                len = 3, c = s[0] & 0x0F;
        else if (s[0] >= 0xF0 && s[0] <= 0xF4)
                len = 4, c = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3F);
        }
        if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF))
                return 0;
        *ret = c;
        return len;
}

/* text with every byte beyond ASCII rewritten as \u escapes (a pair for a code point beyond the BMP), for json-c,
 * whose strict mode refuses raw UTF-8 in strings. Outside strings such a byte is an error either way; right
 * after a backslash it is one too, and stays one (the escape would otherwise turn an invalid escape into a
 * valid "\\"). -EBADMSG for malformed UTF-8. */
static int escape_utf8(const char *text, size_t size, char **ret, size_t *ret_size) {
        _cleanup_free_ char *out = NULL;
        const uint8_t *s = (const uint8_t *) text;
        bool in_string = false, escaped = false;
        size_t o = 0;

        /* At most 12 bytes of escapes (two \uXXXX) for 4 bytes of input. */
        if (size > (SIZE_MAX - 1) / 3)
                return -EBADMSG;
        out = malloc(size * 3 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < size;) {
                uint32_t c;
                size_t len;

                if (s[i] < 0x80) {
                        if (escaped)
                                escaped = false;
                        else if (in_string && s[i] == '\\')
                                escaped = true;
                        else if (s[i] == '"')
                                in_string = !in_string;
                        out[o++] = (char) s[i++];
                        continue;
                }
                if (!in_string || escaped)
                        return -EBADMSG;
                len = utf8_decode(s + i, size - i, &c);
                if (len == 0)
                        return -EBADMSG;
                if (c >= 0x10000) {
                        c -= 0x10000;
                        o += (size_t) snprintf(out + o, 13, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
                } else
                        o += (size_t) snprintf(out + o, 7, "\\u%04x", c);
                i += len;
        }
        out[o] = '\0';
        *ret = TAKE_PTR(out);
        *ret_size = o;
        return 0;
}

int json_parse_one(const char *text, size_t size, unsigned depth, bool allow_utf8, bool sensitive,
                   json_object **ret) {
        _cleanup_free_ char *escaped = NULL;
        json_object *o;
        json_tokener *tok;
        size_t end;
        int r;

        assert(text || size == 0);
        assert(depth >= 1 && depth <= JSON_DEPTH_MAX);
        assert(ret);

        if (size > INT32_MAX)
                return -EBADMSG;
        if (allow_utf8)
                for (size_t i = 0; i < size; i++)
                        if ((uint8_t) text[i] >= 0x80) {
                                r = escape_utf8(text, size, &escaped, &size);
                                if (r < 0)
                                        return r;
                                text = escaped;
                                break;
                        }

        tok = json_tokener_new_ex((int) depth);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int) size);
        r = o && json_tokener_get_error(tok) == json_tokener_success ? 0 : -EBADMSG;
        end = json_tokener_get_parse_end(tok);
        /* json-c keeps the last string it decoded in its scratch buffer and no call wipes it: for a secret, wipe
         * it here, through the struct its header still declares. */
        if (sensitive && tok->pb && tok->pb->buf)
                explicit_bzero(tok->pb->buf, (size_t) tok->pb->size);
        json_tokener_free(tok);
        if (escaped && sensitive)
                explicit_bzero(escaped, size);
        /* Only whitespace after the value; text need not end in a NUL. */
        for (size_t i = end; r >= 0 && i < size; i++)
                if (!strchr(" \t\r\n", text[i]) || text[i] == '\0')
                        r = -EBADMSG;
        if (r < 0) {
                if (sensitive)
                        json_put_erase(o);
                else if (o)
                        json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

/* json-c keeps the last member and the keys of objects it replaced nowhere but in its tree: a duplicate key
 * simply replaces the earlier value. To find duplicates, the number of keys of each object in the text (in the
 * order the objects open) is compared with the number of members of each object of the tree (in the same,
 * depth-first order): they differ exactly when some object had a key twice. */
typedef struct ObjectCounts {
        int *counts;
        size_t n, allocated;
} ObjectCounts;

static int tree_counts(json_object *o, ObjectCounts *c) {
        if (json_object_is_type(o, json_type_object)) {
                if (c->n == c->allocated) {
                        size_t k = c->allocated ? c->allocated * 2 : 16;
                        int *p = reallocarray(c->counts, k, sizeof(int));
                        if (!p)
                                return -ENOMEM;
                        c->counts = p;
                        c->allocated = k;
                }
                c->counts[c->n++] = json_object_object_length(o);
                json_object_object_foreach(o, key, value) {
                        int r;
                        (void) key;
                        r = tree_counts(value, c);
                        if (r < 0)
                                return r;
                }
        } else if (json_object_is_type(o, json_type_array))
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        int r = tree_counts(json_object_array_get_idx(o, i), c);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* Walks text that json-c accepted (so: well-formed, depth bounded) and compares the colons of each object with
 * the tree's counts. 1 if they agree, 0 if not; -EBADMSG for a single-quoted string, which json-c takes even in
 * its strict mode. */
static int text_matches_tree(const char *s, size_t size, const ObjectCounts *c) {
        struct {
                bool object;
                size_t index;
                int keys;
        } stack[JSON_DEPTH_MAX + 1];
        size_t depth = 0, next = 0;
        bool in_string = false;

        for (size_t i = 0; i < size; i++) {
                char ch = s[i];

                if (in_string) {
                        /* Strings are most of an attestation's body (its base64 event logs): to their end with
                         * memchr() rather than a byte at a time. */
                        const char *quote = memchr(s + i, '"', size - i), *escape;

                        if (!quote)
                                return 0;
                        escape = memchr(s + i, '\\', (size_t) (quote - (s + i)));
                        if (escape)
                                i = (size_t) (escape - s) + 1; /* the escaped character, skipped by the loop */
                        else {
                                i = (size_t) (quote - s);
                                in_string = false;
                        }
                        continue;
                }
                switch (ch) {
                case '"':
                        in_string = true;
                        break;
                case '\'':
                        return -EBADMSG;
                case '{':
                case '[':
                        if (depth >= ELEMENTSOF(stack))
                                return 0;
                        stack[depth].object = ch == '{';
                        stack[depth].keys = 0;
                        if (ch == '{') {
                                if (next >= c->n)
                                        return 0;
                                stack[depth].index = next++;
                        }
                        depth++;
                        break;
                case ':':
                        if (depth > 0 && stack[depth - 1].object)
                                stack[depth - 1].keys++;
                        break;
                case '}':
                case ']':
                        if (depth == 0)
                                return 0;
                        depth--;
                        if (stack[depth].object && stack[depth].keys != c->counts[stack[depth].index])
                                return 0;
                        break;
                default:
                        break;
                }
        }
        return next == c->n;
}

/* The first key that appears twice in one object, for the message: keys compared as written (escaped), at most
 * 64 remembered; best effort, once a duplicate is known to exist. */
static void find_duplicate(const char *s, size_t size, char *ret, size_t ret_size) {
        const char *keys[64];
        size_t lens[64], n = 0, first[JSON_DEPTH_MAX + 1], depth = 0;
        bool object[JSON_DEPTH_MAX + 1];

        snprintf(ret, ret_size, "?");
        for (size_t i = 0; i < size; i++) {
                size_t start, j;

                switch (s[i]) {
                case '{':
                case '[':
                        if (depth >= ELEMENTSOF(first))
                                return;
                        object[depth] = s[i] == '{';
                        first[depth++] = n;
                        continue;
                case '}':
                case ']':
                        if (depth == 0)
                                return;
                        n = first[--depth];
                        continue;
                case '"':
                        break;
                default:
                        continue;
                }
                start = ++i;
                while (i < size && s[i] != '"')
                        i += s[i] == '\\' ? 2 : 1;
                if (i >= size)
                        return;
                for (j = i + 1; j < size && strchr(" \t\r\n", s[j]); j++)
                        ;
                if (depth == 0 || !object[depth - 1] || j >= size || s[j] != ':')
                        continue;
                for (size_t k = first[depth - 1]; k < n; k++)
                        if (lens[k] == i - start && memcmp(keys[k], s + start, lens[k]) == 0) {
                                snprintf(ret, ret_size, "%.*s", (int) MIN(lens[k], ret_size - 1), keys[k]);
                                return;
                        }
                if (n < ELEMENTSOF(keys)) {
                        keys[n] = s + start;
                        lens[n++] = i - start;
                }
        }
}

int json_unique_keys(json_object *o, const char *text, size_t size, char *ret_duplicate, size_t duplicate_size) {
        ObjectCounts c = {};
        int r;

        r = tree_counts(o, &c);
        if (r >= 0)
                r = text_matches_tree(text, size, &c);
        free(c.counts);
        if (r == 0 && ret_duplicate && duplicate_size > 0)
                find_duplicate(text, size, ret_duplicate, duplicate_size);
        return r;
}

static void erase_strings(json_object *o) {
        if (json_object_is_type(o, json_type_string)) {
                /* json-c's string storage is the object's own and writable. */
                char *s = (char *) json_object_get_string(o);
                explicit_bzero(s, (size_t) json_object_get_string_len(o));
        } else if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, key, value) {
                        (void) key;
                        erase_strings(value);
                }
        } else if (json_object_is_type(o, json_type_array))
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        erase_strings(json_object_array_get_idx(o, i));
}

void json_put_erase(json_object *o) {
        if (!o)
                return;
        erase_strings(o);
        json_object_put(o);
}
