/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Strict base64 and hex decoding of peer strings: bounded, and canonical (decode → encode gives the input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hexdecoct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s, *e;
        void *d;
        size_t n;

        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';

        if (unbase64mem(s, 4096, &d, &n) >= 0) {
                if (n > 4096)
                        abort();
                e = base64mem(d, n);
                if (!e || strcmp(e, s) != 0)
                        abort();
                free(e);
                free(d);
        }
        if (unhexmem(s, 4096, &d, &n) >= 0) {
                if (n * 2 != strlen(s))
                        abort();
                free(d);
        }
        free(s);
        return 0;
}
