/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl-json.h"

const char *json_str(sd_json_variant *v, const char *key) {
        sd_json_variant *f = sd_json_variant_by_key(v, key);
        return sd_json_variant_is_string(f) ? sd_json_variant_string(f) : NULL;
}

int64_t json_int(sd_json_variant *v, const char *key, bool *ret_present) {
        sd_json_variant *f = sd_json_variant_by_key(v, key);
        bool present = sd_json_variant_is_integer(f);

        if (ret_present)
                *ret_present = present;
        return present ? sd_json_variant_integer(f) : 0;
}

bool json_bool(sd_json_variant *v, const char *key) {
        sd_json_variant *f = sd_json_variant_by_key(v, key);
        return sd_json_variant_is_boolean(f) && sd_json_variant_boolean(f);
}

sd_json_variant *json_array(sd_json_variant *v, const char *key, size_t *ret_n) {
        sd_json_variant *f = sd_json_variant_by_key(v, key);

        if (!sd_json_variant_is_array(f)) {
                *ret_n = 0;
                return NULL;
        }
        *ret_n = sd_json_variant_elements(f);
        return f;
}

char *json_int_list(sd_json_variant *v, const char *key) {
        char *buf = NULL;
        size_t size = 0, n;
        sd_json_variant *a = json_array(v, key, &n);
        FILE *f;

        if (n == 0)
                return strdup("none");
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *e = sd_json_variant_by_index(a, i);
                fprintf(f, "%s%jd", i > 0 ? " " : "",
                        sd_json_variant_is_integer(e) ? (intmax_t) sd_json_variant_integer(e) : -1);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

const char *format_usec(sd_json_variant *v, const char *key, char *buf, size_t size) {
        bool present;
        int64_t usec = json_int(v, key, &present);
        time_t t;
        struct tm tm;

        if (!present)
                return "never";
        t = (time_t) (usec / 1000000);
        if (!localtime_r(&t, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "@%jd", (intmax_t) usec);
        return buf;
}
