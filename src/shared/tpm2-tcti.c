/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "string-util.h"
#include "tpm2-tcti.h"

static const char *const known_modules[] = { "device", "swtpm", "mssim", "libtpms", "tabrmd" };

int tpm2_tcti_parse(const char *s, char **ret_module, char **ret_conf) {
        _cleanup_free_ char *module = NULL, *conf = NULL;
        const char *colon;
        bool known = false;

        if (isempty(s) || !ret_module || !ret_conf)
                return -EINVAL;
        if (strlen(s) > TPM2_TCTI_STRING_MAX)
                return -E2BIG;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f) /* no control characters in a config value */
                        return -EINVAL;

        if (s[0] == '/') {
                module = strdup("device");
                conf = strdup(s);
                if (!module || !conf)
                        return -ENOMEM;
                goto done;
        }

        colon = strchr(s, ':');
        module = colon ? strndup(s, (size_t) (colon - s)) : strdup(s);
        if (!module)
                return -ENOMEM;
        if (colon && colon[1] != '\0') {
                conf = strdup(colon + 1);
                if (!conf)
                        return -ENOMEM;
        }

        for (size_t i = 0; i < ELEMENTSOF(known_modules); i++)
                if (streq(module, known_modules[i]))
                        known = true;
        if (!known)
                return -EOPNOTSUPP;

done:
        *ret_module = TAKE_PTR(module);
        *ret_conf = TAKE_PTR(conf);
        return 0;
}

const char *tpm2_tcti_select(const char *configured) {
        const char *e = getenv(TPM2_TCTI_ENV);

        if (!isempty(e))
                return e;
        if (!isempty(configured))
                return configured;
        return TPM2_TCTI_DEFAULT;
}
