/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "string-util.h"

char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);

        if (strncmp(s, prefix, l) != 0)
                return NULL;
        return (char *) s + l;
}

bool in_charset(const char *s, const char *charset) {
        if (!s)
                return false;
        return s[strspn(s, charset)] == '\0';
}

char *strstrip(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

int safe_atou64(const char *s, unsigned long long max, unsigned long long *ret) {
        unsigned long long v;
        char *end;

        if (isempty(s) || !in_charset(s, "0123456789"))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE || v > max)
                return -ERANGE;
        if (*end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_duration_usec(const char *s, unsigned long long *ret) {
        static const struct {
                const char *suffix;
                unsigned long long usec;
        } units[] = {
                { "ms", 1000ULL },       { "min", 60000000ULL }, { "s", 1000000ULL },
                { "h", 3600000000ULL },  { "d", 86400000000ULL }, { "", 1000000ULL },
        };
        size_t digits;
        char buf[24];
        unsigned long long v;
        int r;

        if (isempty(s))
                return -EINVAL;
        digits = strspn(s, "0123456789");
        if (digits == 0 || digits >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, digits);
        buf[digits] = '\0';
        r = safe_atou64(buf, ULLONG_MAX, &v);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(s + digits, units[i].suffix)) {
                        if (v > ULLONG_MAX / units[i].usec)
                                return -ERANGE;
                        *ret = v * units[i].usec;
                        return 0;
                }
        return -EINVAL;
}
