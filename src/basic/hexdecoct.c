/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hexdecoct.h"
#include "macro.h"

int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

char *hexmem_to(const void *p, size_t size, char *ret) {
        static const char table[] = "0123456789abcdef";
        const uint8_t *x = p;

        for (size_t i = 0; i < size; i++) {
                ret[i * 2] = table[x[i] >> 4];
                ret[i * 2 + 1] = table[x[i] & 15];
        }
        ret[size * 2] = '\0';
        return ret;
}

char *hexmem(const void *p, size_t size) {
        char *r = malloc(size * 2 + 1);

        return r ? hexmem_to(p, size, r) : NULL;
}

int unhexmem(const char *s, size_t max_size, void **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t l;

        if (!s || !ret || !ret_size)
                return -EINVAL;
        l = strlen(s);
        if (l % 2 != 0)
                return -EINVAL;
        if (l / 2 > max_size)
                return -E2BIG;

        buf = malloc(l / 2 + 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < l / 2; i++) {
                int a = unhexchar(s[i * 2]), b = unhexchar(s[i * 2 + 1]);
                if (a < 0 || b < 0)
                        return -EINVAL;
                buf[i] = (uint8_t) (a << 4 | b);
        }
        buf[l / 2] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = l / 2;
        return 0;
}

static const char b64_table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A table, not strchr() over b64_table nor a chain of range tests: the server decodes every event log it
 * receives (~12 KB of base64 per attestation); strchr() per character was most of that cost, and the range
 * tests' branches, unpredictable on random data, 5 % of the server's CPU per authentication. The table holds
 * value + 1, so that the bytes it does not name are 0 and unbase64_value() maps them to 0xff (padding
 * included: the decoder handles '=' itself). */
static const uint8_t unbase64_table[256] = {
        ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
        ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
        ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
        ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
        ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
        ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
        ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
        ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

static uint8_t unbase64_value(char c) {
        return (uint8_t) (unbase64_table[(uint8_t) c] - 1);
}

static int unbase64char(char c) {
        uint8_t v = unbase64_value(c);
        return v == 0xff ? -EINVAL : v;
}

char *base64mem(const void *p, size_t size) {
        const uint8_t *x = p;
        char *r, *z;

        if (size > (SIZE_MAX - 1) / 4 * 3 - 3)
                return NULL;
        z = r = malloc((size + 2) / 3 * 4 + 1);
        if (!r)
                return NULL;

        for (size_t i = 0; i < size; i += 3) {
                uint32_t v = (uint32_t) x[i] << 16;
                if (i + 1 < size)
                        v |= (uint32_t) x[i + 1] << 8;
                if (i + 2 < size)
                        v |= x[i + 2];
                *z++ = b64_table[(v >> 18) & 63];
                *z++ = b64_table[(v >> 12) & 63];
                *z++ = i + 1 < size ? b64_table[(v >> 6) & 63] : '=';
                *z++ = i + 2 < size ? b64_table[v & 63] : '=';
        }
        *z = '\0';
        return r;
}

int unbase64mem(const char *s, size_t max_size, void **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t l, pad = 0, n;
        uint8_t *z;

        if (!s || !ret || !ret_size)
                return -EINVAL;

        l = strlen(s);
        if (l % 4 != 0)
                return -EINVAL;
        if (l >= 1 && s[l - 1] == '=')
                pad++;
        if (l >= 2 && s[l - 2] == '=')
                pad++;
        n = l / 4 * 3 - pad;
        if (n > max_size)
                return -E2BIG;

        z = buf = malloc(n + 1);
        if (!buf)
                return -ENOMEM;

        /* Every group but the last: one test per four characters (an invalid one has the 0x80 bit). */
        size_t i = 0;
        for (; i + 4 < l; i += 4) {
                uint8_t a = unbase64_value(s[i]), b = unbase64_value(s[i + 1]), c = unbase64_value(s[i + 2]),
                        d = unbase64_value(s[i + 3]);

                if ((a | b | c | d) & 0x80)
                        return -EINVAL;
                *z++ = (uint8_t) (a << 2 | b >> 4);
                *z++ = (uint8_t) ((b & 15) << 4 | c >> 2);
                *z++ = (uint8_t) ((c & 3) << 6 | d);
        }

        for (; i < l; i += 4) {
                bool last = i + 4 == l;
                int a, b, c = 0, d = 0;

                a = unbase64char(s[i]);
                b = unbase64char(s[i + 1]);
                if (a < 0 || b < 0)
                        return -EINVAL;

                if (last && pad == 2) {
                        if (b & 15) /* non-canonical: bits beyond the data */
                                return -EINVAL;
                        *z++ = (uint8_t) (a << 2 | b >> 4);
                        break;
                }
                c = unbase64char(s[i + 2]);
                if (c < 0)
                        return -EINVAL;
                if (last && pad == 1) {
                        if (c & 3)
                                return -EINVAL;
                        *z++ = (uint8_t) (a << 2 | b >> 4);
                        *z++ = (uint8_t) ((b & 15) << 4 | c >> 2);
                        break;
                }
                d = unbase64char(s[i + 3]);
                if (d < 0)
                        return -EINVAL;
                *z++ = (uint8_t) (a << 2 | b >> 4);
                *z++ = (uint8_t) ((b & 15) << 4 | c >> 2);
                *z++ = (uint8_t) ((c & 3) << 6 | d);
        }

        *z = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

char *base32mem(const void *p, size_t size) {
        /* Crockford's alphabet: no I, L, O, U, so that what is read aloud is hard to confuse. */
        static const char table[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        const uint8_t *x = p;
        size_t bits = size * 8, n = (bits + 4) / 5;
        char *r;

        r = malloc(n + 1);
        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                size_t bit = i * 5;
                unsigned v = 0;
                for (size_t k = 0; k < 5; k++, bit++) {
                        v <<= 1;
                        if (bit < bits)
                                v |= (x[bit / 8] >> (7 - bit % 8)) & 1;
                }
                r[i] = table[v];
        }
        r[n] = '\0';
        return r;
}
