/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TCTI strings come from configuration and the environment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tpm2-tcti.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s, *module = NULL, *conf = NULL;

        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (tpm2_tcti_parse(s, &module, &conf) >= 0) {
                if (!module || strchr(module, ':') || strchr(module, '/'))
                        abort();
        }
        free(module);
        free(conf);
        free(s);
        return 0;
}
