/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "server-config.h"
#include "string-util.h"
#include "tpm2-util.h"

#define CONFIG_FILE_MAX (256U * 1024U)

void server_config_init(ServerConfig *c) {
        *c = (ServerConfig) {
                .session_lifetime_usec = 3600ULL * 1000000ULL,
                .challenge_lifetime_usec = 60ULL * 1000000ULL,
                .max_pending_nodes = 100,
                .enroll_rate_per_minute = 30,
                /* Firmware code and config, boot loader/UKI, kernel and initrd, systemd's phases. Not 15:
                 * its machine-id is random on every stateless boot. */
                .quote_pcr_mask = (1U << 0) | (1U << 1) | (1U << 2) | (1U << 3) | (1U << 4) | (1U << 5) |
                                  (1U << 7) | (1U << 9) | (1U << 11) | (1U << 12),
                .threads = 0,
                .max_body_size = 1024U * 1024U,
                .default_relay_count = 1,
        };
}

void server_config_done(ServerConfig *c) {
        free(c->database);
        for (unsigned i = 0; i < c->n_listen; i++)
                free(c->listen[i]);
        free(c->certificate);
        free(c->private_key);
        free(c->quote_bank);
        *c = (ServerConfig) {};
}

static int set_str(char **dst, const char *value) {
        char *s;

        if (isempty(value))
                return -EINVAL;
        s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

static int set_unsigned(unsigned *dst, const char *value, unsigned long long max) {
        unsigned long long v;
        int r = safe_atou64(value, max, &v);
        if (r < 0)
                return -EINVAL;
        *dst = (unsigned) v;
        return 0;
}

int server_config_set(ServerConfig *c, const char *key, const char *value) {
        unsigned long long usec;
        int r;

        if (streq(key, "Database"))
                return set_str(&c->database, value);
        if (streq(key, "Listen")) {
                if (isempty(value)) { /* an empty assignment resets the list, as in systemd */
                        for (unsigned i = 0; i < c->n_listen; i++)
                                free(c->listen[i]);
                        c->n_listen = 0;
                        return 0;
                }
                if (c->n_listen >= SERVER_LISTEN_MAX)
                        return -E2BIG;
                c->listen[c->n_listen] = strdup(value);
                if (!c->listen[c->n_listen])
                        return -ENOMEM;
                c->n_listen++;
                return 0;
        }
        if (streq(key, "Certificate"))
                return set_str(&c->certificate, value);
        if (streq(key, "PrivateKey"))
                return set_str(&c->private_key, value);
        if (streq(key, "SessionLifetime") || streq(key, "ChallengeLifetime")) {
                r = parse_duration_usec(value, &usec);
                if (r < 0 || usec < 1000000ULL || usec > 7ULL * 24 * 3600 * 1000000ULL)
                        return -EINVAL;
                if (streq(key, "SessionLifetime"))
                        c->session_lifetime_usec = usec;
                else
                        c->challenge_lifetime_usec = usec;
                return 0;
        }
        if (streq(key, "MaxPendingNodes"))
                return set_unsigned(&c->max_pending_nodes, value, 1000000);
        if (streq(key, "EnrollRatePerMinute"))
                return set_unsigned(&c->enroll_rate_per_minute, value, 1000000);
        if (streq(key, "QuotePCRs"))
                return tpm2_parse_pcr_list(value, &c->quote_pcr_mask);
        if (streq(key, "QuoteBank")) {
                if (!streq(value, "sha256") && !streq(value, "sha1") && !streq(value, "sha384"))
                        return -EINVAL;
                return set_str(&c->quote_bank, value);
        }
        if (streq(key, "Threads"))
                return set_unsigned(&c->threads, value, 256);
        if (streq(key, "MaxBodySize"))
                return set_unsigned(&c->max_body_size, value, 64U * 1024U * 1024U);
        if (streq(key, "DefaultRelayCount"))
                return set_unsigned(&c->default_relay_count, value, 64);
        return -ENOENT;
}

static char *strip(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

int server_config_parse(ServerConfig *c, const char *text, unsigned *ret_line) {
        _cleanup_free_ char *copy = strdup(text);
        bool in_server = false;
        unsigned line = 0;
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *eq, *key, *value;

                line++;
                l = strip(l);
                if (*l == '\0' || *l == '#' || *l == ';')
                        continue;
                if (*l == '[') {
                        in_server = streq(l, "[Server]");
                        if (!in_server) {
                                *ret_line = line;
                                return -EBADMSG;
                        }
                        continue;
                }
                eq = strchr(l, '=');
                if (!in_server || !eq) {
                        *ret_line = line;
                        return -EBADMSG;
                }
                *eq = '\0';
                key = strip(l);
                value = strip(eq + 1);
                r = server_config_set(c, key, value);
                if (r < 0) {
                        *ret_line = line;
                        return r;
                }
        }
        return 0;
}

static int load_file(ServerConfig *c, const char *path, bool must_exist) {
        _cleanup_free_ char *text = NULL;
        unsigned line = 0;
        size_t size;
        int r;

        r = read_full_file(path, CONFIG_FILE_MAX, (void **) &text, &size);
        if (r == -ENOENT && !must_exist)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        if (strlen(text) != size)
                return log_error_errno(EBADMSG, "%s contains a NUL byte.", path);

        r = server_config_parse(c, text, &line);
        if (r == -ENOENT)
                return log_error_errno(r, "%s:%u: unknown option.", path, line);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s:%u: expected [Server] and Key=Value lines.", path, line);
        if (r < 0)
                return log_error_errno(r, "%s:%u: invalid value: %m", path, line);
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int server_config_load(ServerConfig *c, const char *path) {
        char *names[256];
        unsigned n = 0;
        DIR *d;
        int r;

        if (path)
                return load_file(c, path, /* must_exist= */ true);

        r = load_file(c, SERVER_CONFIG_FILE, /* must_exist= */ false);
        if (r < 0)
                return r;

        d = opendir(SERVER_CONFIG_DROPIN_DIR);
        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d)) && n < ELEMENTSOF(names);) {
                size_t l = strlen(de->d_name);
                if (de->d_name[0] == '.' || l < 6 || !streq(de->d_name + l - 5, ".conf"))
                        continue;
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        closedir(d);
                        r = -ENOMEM;
                        goto finish;
                }
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof(char *), cmp_str);

        r = 0;
        for (unsigned i = 0; i < n && r >= 0; i++) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/%s", SERVER_CONFIG_DROPIN_DIR, names[i]);
                r = load_file(c, p, /* must_exist= */ true);
        }
finish:
        for (unsigned i = 0; i < n; i++)
                free(names[i]);
        return r;
}
