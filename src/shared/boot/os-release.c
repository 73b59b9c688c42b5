/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "os-release.h"
#include "string-util.h"

static const char *const field_table[_OS_RELEASE_FIELD_MAX] = {
        [OS_RELEASE_ID] = "ID",
        [OS_RELEASE_VERSION_ID] = "VERSION_ID",
        [OS_RELEASE_IMAGE_ID] = "IMAGE_ID",
        [OS_RELEASE_IMAGE_VERSION] = "IMAGE_VERSION",
        [OS_RELEASE_BUILD_ID] = "BUILD_ID",
};

const char *os_release_field_to_string(OsReleaseField f) {
        return f >= 0 && f < _OS_RELEASE_FIELD_MAX ? field_table[f] : NULL;
}

OsReleaseField os_release_field_from_string(const char *s) {
        for (int i = 0; s && i < _OS_RELEASE_FIELD_MAX; i++)
                if (streq(s, field_table[i]))
                        return (OsReleaseField) i;
        return _OS_RELEASE_FIELD_INVALID;
}

/* os-release(5) allows less for ID (lower case, no '~' or '+'); IMAGE_VERSION and BUILD_ID are looser in
 * practice (Fedora's BUILD_ID has upper case). No space, quote, '/' or control character: the values
 * become image names and table cells. */
#define VALUE_CHARSET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+-"

bool os_release_value_is_valid(const char *s) {
        return s && s[0] != '\0' && strlen(s) < OS_RELEASE_VALUE_MAX && in_charset(s, VALUE_CHARSET);
}

/* One assignment's value at *p (up to end), unquoted into out; *ret_truncated if it did not fit in
 * out_size - 1 bytes. Moves *p to the end of the line. */
static int parse_value(const char **p, const char *end, char *out, size_t out_size, bool *ret_truncated) {
        const char *s = *p;
        bool truncated = false;
        size_t n = 0;
        char quote = 0;

        if (s < end && (*s == '"' || *s == '\''))
                quote = *s++;
        for (;; s++) {
                char c;

                if (s >= end || *s == '\n') {
                        if (quote)
                                return -EBADMSG; /* unterminated; os-release values do not span lines */
                        break;
                }
                c = *s;
                if (c == '\0')
                        return -EBADMSG; /* no shell reads past it the same way */
                if (quote && c == quote) {
                        s++;
                        break;
                }
                /* Unquoted, a shell would split or expand these: no os-release writer leaves them bare. */
                if (!quote && strchr(" \t\"'\\$`", c))
                        return -EBADMSG;
                if (quote == '"' && c == '\\') {
                        /* In double quotes a shell keeps the backslash unless one of these follows. */
                        if (s + 1 < end && strchr("\"\\$`", s[1]))
                                c = *++s;
                }
                if (n + 1 < out_size)
                        out[n++] = c;
                else
                        truncated = true;
        }
        out[n] = '\0';
        /* After a closing quote only the end of the line. */
        if (s < end && *s != '\n')
                return -EBADMSG;
        *p = s;
        *ret_truncated = truncated;
        return 0;
}

int os_release_parse(const char *text, size_t size, OsRelease *ret) {
        const char *p = text, *end = text + size;
        OsRelease o = {};

        if (size > OS_RELEASE_SIZE_MAX)
                return -E2BIG;
        while (p < end) {
                char key[64], value[OS_RELEASE_VALUE_MAX];
                bool truncated;
                const char *eq;
                size_t klen;
                OsReleaseField f;
                int r;

                /* Blank lines and comments; leading blanks are allowed by shells, so by us. */
                while (p < end && (*p == ' ' || *p == '\t'))
                        p++;
                if (p >= end)
                        break;
                if (*p == '\n' || *p == '#') {
                        while (p < end && *p != '\n')
                                p++;
                        if (p < end)
                                p++;
                        continue;
                }
                eq = memchr(p, '=', (size_t) (end - p));
                if (!eq)
                        return -EBADMSG;
                klen = (size_t) (eq - p);
                if (klen == 0 || klen >= sizeof(key) || memchr(p, '\n', klen) || memchr(p, '\0', klen))
                        return -EBADMSG;
                memcpy(key, p, klen);
                key[klen] = '\0';
                if (!in_charset(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ||
                    (key[0] >= '0' && key[0] <= '9'))
                        return -EBADMSG;
                p = eq + 1;
                f = os_release_field_from_string(key);
                r = parse_value(&p, end, value, sizeof(value), &truncated);
                if (r < 0)
                        return r;
                /* Long values of fields we do not keep (a URL, a logo name) do not matter. */
                if (f >= 0) {
                        if (truncated)
                                return -E2BIG;
                        /* An empty assignment unsets, as in a shell. */
                        if (value[0] != '\0' && !os_release_value_is_valid(value))
                                return -EBADMSG;
                        snprintf(o.values[f], sizeof(o.values[f]), "%s", value);
                }
                if (p < end)
                        p++; /* the newline */
        }
        *ret = o;
        return 0;
}
