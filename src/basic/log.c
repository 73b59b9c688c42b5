/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",         [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",       [LOG_DEBUG] = "debug",
        };

        if (isempty(s))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

void log_parse_environment(void) {
        const char *e = getenv("PATELA_LOG_LEVEL");
        int l;

        if (!e)
                e = getenv("SYSTEMD_LOG_LEVEL");
        l = log_level_from_string(e);
        if (l >= 0)
                max_level = l;
}

/* One message is one line: every C0 control character and DEL becomes \xNN. What a peer sends (a URL that
 * libmicrohttpd has unescaped, a name, a reason) ends up in messages; a newline in it would start a new
 * journal entry, and "<0>" at its start would give that entry any priority. */
void log_escape_controls(const char *in, char *out, size_t size) {
        size_t o = 0;

        for (const unsigned char *p = (const unsigned char *) in; *p && o + 5 < size; p++) {
                if (*p < 0x20 || *p == 0x7f) {
                        snprintf(out + o, size - o, "\\x%02x", *p);
                        o += 4;
                } else
                        out[o++] = (char) *p;
        }
        out[o] = '\0';
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...) {
        char buf[2048], escaped[2048];
        int saved = errno;
        va_list ap;

        (void) file, (void) line, (void) func;
        error = error < 0 ? -error : error;

        if (level <= max_level) {
                /* %m must expand to the error we were given, not to whatever errno happens to be. */
                errno = error;
                va_start(ap, format);
                vsnprintf(buf, sizeof(buf), format, ap);
                va_end(ap);

                /* Under systemd stderr is connected to the journal: a "<N>" prefix carries the level. */
                log_escape_controls(buf, escaped, sizeof(escaped));
                if (getenv("JOURNAL_STREAM"))
                        fprintf(stderr, "<%d>%s\n", level, escaped);
                else
                        fprintf(stderr, "%s\n", escaped);
        }

        errno = saved;
        return error > 0 ? -error : -EIO;
}
