/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela.conf(5) as patela-configd parses it (and the pattern expansion of the values it accepts). */
#include <stdlib.h>

#include "configd-config.h"
#include "fuzz.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ConfigdConfig c;
        unsigned line = 0;
        char *s = NULL;

        /* configd_config_check() says what it refuses, as configd should; millions of lines here. */
        log_set_max_level(LOG_CRIT);
        configd_config_init(&c);
        if (configd_config_parse(&c, (const char *) data, size, &line) >= 0) {
                (void) configd_config_check(&c);
                if (c.relay_user && configd_expand_pattern(c.relay_user, "exitA", &s) >= 0)
                        free(s);
                if (c.data_directory && configd_expand_pattern(c.data_directory, "exitA", &s) >= 0)
                        free(s);
        }
        configd_config_done(&c);
        return 0;
}
