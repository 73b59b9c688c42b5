/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "conf-parser.h"
#include "configd-config.h"
#include "configd-files.h"
#include "fd-util.h"
#include "log.h"
#include "string-util.h"
#include "tlog-note.h"
#include "tpm2-tcti.h"

#define USEC_PER_SEC 1000000ULL

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static int set_string(char **dst, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

void configd_config_init(ConfigdConfig *c) {
        *c = (ConfigdConfig) {
                .reattest_usec = 3600 * USEC_PER_SEC,
                .state_save_usec = 3600 * USEC_PER_SEC,
                .retry_usec = 5 * USEC_PER_SEC,
                .retry_max_usec = 300 * USEC_PER_SEC,
                .connect_timeout_usec = 10 * USEC_PER_SEC,
                .request_timeout_usec = 60 * USEC_PER_SEC,
                .tor_allocator = TOR_ALLOCATOR_JEMALLOC,
                .route_table = CONFIGD_ROUTE_TABLE_DEFAULT,
                .manage_units = true,
                .relay_metrics = true,
        };
}

static const char *const tor_allocator_table[_TOR_ALLOCATOR_MAX] = {
        [TOR_ALLOCATOR_JEMALLOC] = "jemalloc",
        [TOR_ALLOCATOR_MIMALLOC] = "mimalloc",
        [TOR_ALLOCATOR_SYSTEM] = "system",
};

/* Sonames without a directory: the dynamic loader finds them in the multiarch library path. */
static const char *const tor_allocator_library_table[_TOR_ALLOCATOR_MAX] = {
        [TOR_ALLOCATOR_JEMALLOC] = "libjemalloc.so.2",
        [TOR_ALLOCATOR_MIMALLOC] = "libmimalloc.so.3",
        [TOR_ALLOCATOR_SYSTEM] = "",
};

const char *tor_allocator_to_string(TorAllocator a) {
        return a >= 0 && a < _TOR_ALLOCATOR_MAX ? tor_allocator_table[a] : NULL;
}

TorAllocator tor_allocator_from_string(const char *s) {
        for (TorAllocator a = 0; a < _TOR_ALLOCATOR_MAX; a++)
                if (s && streq(s, tor_allocator_table[a]))
                        return a;
        return _TOR_ALLOCATOR_INVALID;
}

const char *tor_allocator_library(TorAllocator a) {
        return a >= 0 && a < _TOR_ALLOCATOR_MAX ? tor_allocator_library_table[a] : NULL;
}

void configd_config_done(ConfigdConfig *c) {
        free(c->server_url);
        free(c->ca_certificate);
        free(c->log_key);
        free(c->state_directory);
        free(c->torrc_directory);
        free(c->network_directory);
        free(c->network_file);
        free(c->attest_socket);
        free(c->keys_socket);
        free(c->relay_user);
        free(c->data_directory);
        free(c->key_directory);
        free(c->tpm_device);
        free(c->resolver_file);
        *c = (ConfigdConfig) {};
}

bool configd_path_ok(const char *p, bool pattern) {
        size_t n = strlen(p);

        if (n < 1 || n >= PATH_MAX || p[0] != '/')
                return false;
        for (const char *s = p; *s; s++) {
                if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\' || *s == '#')
                        return false;
                if (*s == '%' && (!pattern || (s[1] != 'n' && s[1] != '%')))
                        return false;
                if (*s == '%')
                        s++;
        }
        for (const char *s = p; (s = strchr(s, '/')); s++)
                if (strneq(s, "/./", 3) || strneq(s, "/../", 4) || streq(s, "/.") || streq(s, "/.."))
                        return false;
        return true;
}

static int set_path(char **dst, const char *value, bool pattern) {
        if (!configd_path_ok(value, pattern))
                return -EINVAL;
        return set_string(dst, value);
}

/* https://HOST[:PORT][/PATH]: printable ASCII, no user info, query or fragment. A trailing slash is
 * dropped so that "/v1/…" can be appended. */
static int set_server_url(ConfigdConfig *c, const char *value) {
        _cleanup_free_ char *s = NULL;
        const char *host;
        size_t n;

        n = strlen(value);
        if (n > CONFIGD_URL_MAX)
                return -EINVAL;
        host = startswith(value, "https://");
        if (!host || host[0] == '\0' || host[0] == '/' || host[0] == ':')
                return -EINVAL;
        for (const char *p = value; *p; p++)
                if (*p <= ' ' || *p > '~' || *p == '?' || *p == '#' || *p == '@' || *p == '\\' || *p == '"')
                        return -EINVAL;
        s = strdup(value);
        if (!s)
                return -ENOMEM;
        while (n > 0 && s[n - 1] == '/')
                s[--n] = '\0';
        free(c->server_url);
        c->server_url = TAKE_PTR(s);
        return 0;
}

/* The verifier key of the fleet's transparency log, "name+ID+base64" as `patela-server log init` prints it:
 * checked here, so that a bad key shows when configd starts rather than at the first `patelactl log verify`. */
static int set_log_key(ConfigdConfig *c, const char *value) {
        TlogKey k;

        if (isempty(value)) {
                free(c->log_key);
                c->log_key = NULL;
                return 0;
        }
        if (tlog_key_parse_verifier(value, &k) < 0)
                return -EINVAL;
        return set_string(&c->log_key, value);
}

static int set_duration(uint64_t *dst, const char *value, uint64_t min, uint64_t max) {
        unsigned long long usec;

        if (parse_duration_usec(value, &usec) < 0 || usec < min || usec > max)
                return -EINVAL;
        *dst = usec;
        return 0;
}

static int parse_boolean(const char *v) {
        static const char *const yes[] = { "1", "yes", "true", "on" };
        static const char *const no[] = { "0", "no", "false", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0)
                        return 1;
                if (strcasecmp(v, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

int configd_config_set(ConfigdConfig *c, const char *key, const char *value) {
        int b;

        if (streq(key, "ServerURL"))
                return set_server_url(c, value);
        if (streq(key, "CACertificate"))
                return set_path(&c->ca_certificate, value, /* pattern= */ false);
        if (streq(key, "LogKey"))
                return set_log_key(c, value);
        if (streq(key, "ReattestInterval"))
                return set_duration(&c->reattest_usec, value, USEC_PER_SEC, 7 * 24 * 3600 * USEC_PER_SEC);
        if (streq(key, "StateSaveInterval")) /* 0: only when configd stops */
                return set_duration(&c->state_save_usec, value, 0, 7 * 24 * 3600 * USEC_PER_SEC);
        if (streq(key, "RetryInterval"))
                return set_duration(&c->retry_usec, value, 100000, 3600 * USEC_PER_SEC);
        if (streq(key, "RetryIntervalMax"))
                return set_duration(&c->retry_max_usec, value, 100000, 24 * 3600 * USEC_PER_SEC);
        if (streq(key, "ConnectTimeout"))
                return set_duration(&c->connect_timeout_usec, value, 100000, 600 * USEC_PER_SEC);
        if (streq(key, "Timeout"))
                return set_duration(&c->request_timeout_usec, value, 100000, 600 * USEC_PER_SEC);
        if (streq(key, "StateDirectory"))
                return set_path(&c->state_directory, value, false);
        if (streq(key, "TorrcDirectory"))
                return set_path(&c->torrc_directory, value, false);
        if (streq(key, "NetworkDirectory"))
                return set_path(&c->network_directory, value, false);
        if (streq(key, "NetworkFile")) {
                size_t n = strlen(value);
                if (n <= strlen(".network") || n > 255 || !streq(value + n - strlen(".network"), ".network") ||
                    value[0] == '.' || !in_charset(value, ALNUM "_.@-"))
                        return -EINVAL;
                return set_string(&c->network_file, value);
        }
        if (streq(key, "ResolverFile")) {
                /* Empty: configd leaves the resolver alone (tests, a node with a resolver of its own). */
                if (isempty(value))
                        return set_string(&c->resolver_file, "");
                return set_path(&c->resolver_file, value, /* pattern= */ false);
        }
        if (streq(key, "AttestSocket"))
                return set_path(&c->attest_socket, value, false);
        if (streq(key, "KeysSocket"))
                return set_path(&c->keys_socket, value, false);
        if (streq(key, "RelayUser")) {
                /* A user name with %n: what keyd resolves with getpwnam(); root is allowed (tests). */
                if (isempty(value) || strlen(value) > CONFIGD_PATTERN_MAX || value[0] == '-' ||
                    !in_charset(value, ALNUM "_.-%"))
                        return -EINVAL;
                for (const char *p = strchr(value, '%'); p; p = strchr(p + 2, '%'))
                        if (p[1] != 'n' && p[1] != '%')
                                return -EINVAL;
                return set_string(&c->relay_user, value);
        }
        if (streq(key, "DataDirectory"))
                return set_path(&c->data_directory, value, /* pattern= */ true);
        if (streq(key, "KeyDirectory")) {
                /* Empty: tor reads the directory keyd wrote (no unit copies the keys; tests, manual runs). */
                if (isempty(value))
                        return set_string(&c->key_directory, "");
                return set_path(&c->key_directory, value, /* pattern= */ true);
        }
        if (streq(key, "TorAllocator")) {
                TorAllocator a = tor_allocator_from_string(value);
                if (a < 0)
                        return a;
                c->tor_allocator = a;
                return 0;
        }
        if (streq(key, TPM2_TCTI_CONFIG_KEY)) {
                /* For patela-attestd and patela-keyd, which read it from the same file: checked here too, so
                 * that a bad value shows when configd starts. */
                _cleanup_free_ char *module = NULL, *conf = NULL;
                b = tpm2_tcti_parse(value, &module, &conf);
                if (b < 0)
                        return b == -ENOMEM ? b : -EINVAL;
                return set_string(&c->tpm_device, value);
        }
        if (streq(key, "RouteTable")) {
                unsigned long long t;
                /* Not 0 (unspecified) and not the kernel's own: 253 default, 254 main, 255 local. */
                if (safe_atou64(value, UINT32_MAX, &t) < 0 || t == 0 || (t >= 253 && t <= 255))
                        return -EINVAL;
                c->route_table = (uint32_t) t;
                return 0;
        }
        if (streq(key, "RelayMetrics")) {
                b = parse_boolean(value);
                if (b < 0)
                        return b;
                c->relay_metrics = b;
                return 0;
        }
        if (streq(key, "ManageUnits")) {
                b = parse_boolean(value);
                if (b < 0)
                        return b;
                c->manage_units = b;
                return 0;
        }
        return -ENOENT;
}

static int set_option(void *userdata, const char *key, const char *value) {
        return configd_config_set(userdata, key, value);
}

int configd_config_parse(ConfigdConfig *c, const char *text, size_t size, unsigned *ret_line) {
        return conf_parse(text, size, "Config", set_option, c, ret_line);
}

int configd_config_load(ConfigdConfig *c, const char *path, const char *main_file, const char *dropin_dir) {
        ConfError e;
        int r;

        r = conf_load(path, main_file, dropin_dir, "Config", set_option, c, &e);
        if (r >= 0)
                return 0;
        if (e.line == 0)
                return log_error_errno(r, "Failed to read %s: %m", e.path);
        switch (r) {
        case -ENOENT:
                return log_error_errno(r, "%s:%u: unknown option.", e.path, e.line);
        case -EBADMSG:
                return log_error_errno(r, "%s:%u: expected a [Config] section of Key=Value lines.", e.path, e.line);
        case -E2BIG:
                return log_error_errno(r, "%s:%u: line longer than %u bytes.", e.path, e.line, CONF_LINE_MAX);
        case -EINVAL:
                return log_error_errno(r, "%s:%u: invalid value.", e.path, e.line);
        default:
                return log_error_errno(r, "%s:%u: %m", e.path, e.line);
        }
}

/* A credential of one line, as "echo" or systemd-creds write it (trailing newlines are not part of it): 1 and its
 * text in *ret, 0 if there is none; logs failures. */
static int read_credential_line(const char *path, size_t max, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(path, max, (void **) &text, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to read credential %s: %m", path);
        if (strlen(text) != size)
                return log_error_errno(EINVAL, "Credential %s contains a NUL byte.", path);
        while (size > 0 && (text[size - 1] == '\n' || text[size - 1] == '\r'))
                text[--size] = '\0';
        *ret = TAKE_PTR(text);
        return 1;
}

int configd_config_load_credentials(ConfigdConfig *c, const char *directory) {
        _cleanup_free_ char *url = NULL, *ca = NULL, *url_path = NULL, *key = NULL, *key_path = NULL;
        int r, n = 0;

        if (isempty(directory))
                return 0;

        if (asprintf(&url_path, "%s/%s", directory, CONFIGD_CREDENTIAL_SERVER_URL) < 0)
                return log_oom();
        r = read_credential_line(url_path, CONFIGD_URL_MAX + 2, &url);
        if (r < 0)
                return r;
        if (r > 0) {
                r = set_server_url(c, strstrip(url));
                if (r < 0)
                        return log_error_errno(r, "Credential %s is not an https:// URL.", url_path);
                n++;
        }

        if (asprintf(&ca, "%s/%s", directory, CONFIGD_CREDENTIAL_CA) < 0)
                return log_oom();
        if (access(ca, R_OK) >= 0) {
                r = set_path(&c->ca_certificate, ca, /* pattern= */ false);
                if (r < 0)
                        return log_error_errno(r, "Credential path %s is not usable.", ca);
                n++;
        } else if (errno != ENOENT)
                return log_error_errno(errno, "Failed to access credential %s: %m", ca);

        if (asprintf(&key_path, "%s/%s", directory, CONFIGD_CREDENTIAL_LOG_KEY) < 0)
                return log_oom();
        r = read_credential_line(key_path, TLOG_KEY_NAME_MAX + 128, &key);
        if (r < 0)
                return r;
        if (r > 0) {
                r = set_log_key(c, strstrip(key));
                if (r < 0 || !c->log_key)
                        return log_error_errno(r < 0 ? r : EINVAL,
                                               "Credential %s is not the verifier key of a transparency log.",
                                               key_path);
                n++;
        }
        return n;
}

int configd_config_check(const ConfigdConfig *c) {
        if (!c->server_url)
                return log_error_errno(EINVAL,
                                       "No ServerURL= configured (patela.conf, credential %s or --server-url=).",
                                       CONFIGD_CREDENTIAL_SERVER_URL);
        if (!c->ca_certificate)
                return log_error_errno(EINVAL,
                                       "No CACertificate= configured (patela.conf, credential %s or "
                                       "--ca-certificate=): the server is trusted only through a pinned CA.",
                                       CONFIGD_CREDENTIAL_CA);
        if (c->retry_max_usec < c->retry_usec)
                return log_error_errno(EINVAL, "RetryIntervalMax= is shorter than RetryInterval=.");
        return 0;
}

int configd_expand_pattern(const char *pattern, const char *name, char **ret) {
        size_t n = 0, len = strlen(pattern) + 1;
        char *s;

        for (const char *p = strchr(pattern, '%'); p; p = strchr(p + 2, '%'))
                if (p[1] == 'n')
                        len += strlen(name);
        s = malloc(len);
        if (!s)
                return -ENOMEM;
        for (const char *p = pattern; *p; p++) {
                if (p[0] == '%' && p[1] == 'n') {
                        memcpy(s + n, name, strlen(name));
                        n += strlen(name);
                        p++;
                } else if (p[0] == '%' && p[1] == '%') {
                        s[n++] = '%';
                        p++;
                } else if (p[0] == '%') {
                        free(s);
                        return -EINVAL;
                } else
                        s[n++] = *p;
        }
        s[n] = '\0';
        *ret = s;
        return 0;
}

uint64_t configd_jitter(uint64_t usec, unsigned percent) {
        uint64_t span = usec / 100 * percent, rnd = 0;

        if (span == 0)
                return usec;
        /* Not a secret, but nodes of one fleet must not re-attest in lockstep: per-call randomness. */
        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
                rnd = (uint64_t) random();
        return usec - span + rnd % (2 * span + 1);
}
