/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "conf-parser.h"
#include "log.h"
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

        if (!isempty(configured))
                return configured;
        if (!isempty(e))
                return e;
        return TPM2_TCTI_DEFAULT;
}

static int set_tpm_device(void *userdata, const char *key, const char *value) {
        char **tcti = userdata, *module = NULL, *conf = NULL, *copy;
        int r;

        if (!streq(key, TPM2_TCTI_CONFIG_KEY))
                return 0; /* patela-configd's: it checks them */
        r = tpm2_tcti_parse(value, &module, &conf);
        free(module);
        free(conf);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        free(*tcti);
        *tcti = copy;
        return 0;
}

int tpm2_tcti_load_config(const char *path, char **ret) {
        _cleanup_free_ char *tcti = NULL;
        ConfError e;
        int r;

        r = conf_load(path, TPM2_TCTI_CONFIG_FILE, TPM2_TCTI_CONFIG_DROPIN_DIR, "Config", set_tpm_device, &tcti, &e);
        if (r < 0) {
                if (e.line == 0)
                        return log_error_errno(r, "Failed to read %s: %m", e.path);
                if (r == -EINVAL)
                        return log_error_errno(r, "%s:%u: invalid %s= (a device path or a TCTI such as "
                                               "device:/dev/tpmrm0 or swtpm:path=SOCKET).", e.path, e.line,
                                               TPM2_TCTI_CONFIG_KEY);
                return log_error_errno(r, "%s:%u: %m", e.path, e.line);
        }
        *ret = TAKE_PTR(tcti);
        return 0;
}

int tpm2_tcti_configure(char **tcti, const char *path) {
        const char *e = getenv(TPM2_TCTI_ENV);

        /* The flag wins, then the environment, then the node's configuration file: as everywhere. */
        if (*tcti)
                return 0;
        if (!isempty(e)) {
                *tcti = strdup(e);
                return *tcti ? 0 : -ENOMEM;
        }
        return tpm2_tcti_load_config(path, tcti);
}
