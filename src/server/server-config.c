/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf-parser.h"
#include "fd-util.h"
#include "log.h"
#include "protocol.h"
#include "server-config.h"
#include "string-util.h"
#include "tpm2-util.h"

void server_config_init(ServerConfig *c) {
        *c = (ServerConfig) {
                .session_lifetime_usec = 3600ULL * 1000000ULL,
                .challenge_lifetime_usec = 60ULL * 1000000ULL,
                .pending_lifetime_usec = 24ULL * 3600ULL * 1000000ULL,
                .max_pending_nodes = 100,
                .enroll_rate_per_minute = 30,
                /* Firmware code and config, boot loader/UKI, kernel and initrd, systemd's phases. Not 15:
                 * its machine-id is random on every stateless boot. */
                .quote_pcr_mask = (1U << 0) | (1U << 1) | (1U << 2) | (1U << 3) | (1U << 4) | (1U << 5) |
                                  (1U << 7) | (1U << 9) | (1U << 11) | (1U << 12),
                .threads = 0,
                .max_body_size = 1024U * 1024U,
                /* Unauthenticated memory is bounded: MaxConnections= connections each uploading
                 * MaxBodySize= slowly would hold gigabytes (MaxBufferedBytes= refuses that). A node makes
                 * one connection at a time and keeps it between its checks. */
                .max_connections_per_source = 32,
                .max_buffered_bytes = 64ULL * 1024ULL * 1024ULL,
                .max_connections = SERVER_MAX_CONNECTIONS_DEFAULT,
                .idle_timeout_usec = SERVER_IDLE_TIMEOUT_DEFAULT_USEC,
                .tls_ticket_lifetime_usec = SERVER_TLS_TICKET_LIFETIME_DEFAULT_USEC,
                .default_relay_count = 1,
                .relays_per_address = SERVER_RELAYS_PER_ADDRESS_DEFAULT,
                .or_port_min = SERVER_OR_PORT_MIN_DEFAULT,
                .or_port_max = SERVER_OR_PORT_MAX_DEFAULT,
                .check_interval_usec = SERVER_CHECK_INTERVAL_DEFAULT_USEC,
                .relay_metrics_interval_usec = SERVER_RELAY_METRICS_INTERVAL_DEFAULT_USEC,
        };
}

void server_config_done(ServerConfig *c) {
        free(c->database);
        for (unsigned i = 0; i < c->n_listen; i++)
                free(c->listen[i]);
        free(c->certificate);
        free(c->private_key);
        free(c->quote_bank);
        free(c->ek_ca_directory);
        free(c->log_key);
        free(c->metrics_listen);
        free(c->metrics_token_file);
        free(c->ca_certificate);
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

/* "LOW-HIGH" or a single port, 1 ≤ LOW ≤ HIGH ≤ 65535. */
static int parse_port_range(const char *value, unsigned *ret_min, unsigned *ret_max) {
        unsigned long long lo, hi;
        const char *dash = value ? strchr(value, '-') : NULL;
        char buf[8];

        if (!value)
                return -EINVAL;
        if (!dash) {
                if (safe_atou64(value, 65535, &lo) < 0 || lo == 0)
                        return -EINVAL;
                hi = lo;
        } else {
                if ((size_t) (dash - value) >= sizeof(buf))
                        return -EINVAL;
                memcpy(buf, value, (size_t) (dash - value));
                buf[dash - value] = '\0';
                if (safe_atou64(buf, 65535, &lo) < 0 || safe_atou64(dash + 1, 65535, &hi) < 0 || lo == 0 || lo > hi)
                        return -EINVAL;
        }
        *ret_min = (unsigned) lo;
        *ret_max = (unsigned) hi;
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
        if (streq(key, "PendingLifetime")) {
                r = parse_duration_usec(value, &usec);
                if (r < 0 || usec < 1000000ULL || usec > 365ULL * 24 * 3600 * 1000000ULL)
                        return -EINVAL;
                c->pending_lifetime_usec = usec;
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
        if (streq(key, "MaxConnectionsPerSource"))
                return set_unsigned(&c->max_connections_per_source, value, 65536);
        if (streq(key, "MaxConnections")) {
                unsigned long long v;

                if (safe_atou64(value, SERVER_MAX_CONNECTIONS_MAX, &v) < 0 || v == 0)
                        return -EINVAL;
                c->max_connections = (unsigned) v;
                return 0;
        }
        if (streq(key, "TLSTicketLifetime")) {
                /* Whole seconds (RFC 8446's ticket_lifetime); 0 turns session tickets off. */
                r = parse_duration_usec(value, &usec);
                if (r < 0 || (usec > 0 && usec < 1000000ULL) || usec > SERVER_TLS_TICKET_LIFETIME_MAX_USEC)
                        return -EINVAL;
                c->tls_ticket_lifetime_usec = usec / 1000000ULL * 1000000ULL;
                return 0;
        }
        if (streq(key, "IdleTimeout")) {
                r = parse_duration_usec(value, &usec);
                if (r < 0 || usec < SERVER_IDLE_TIMEOUT_MIN_USEC || usec > SERVER_IDLE_TIMEOUT_MAX_USEC)
                        return -EINVAL;
                c->idle_timeout_usec = usec;
                return 0;
        }
        if (streq(key, "MaxBufferedBytes")) {
                unsigned long long v;

                if (safe_atou64(value, 1ULL << 40, &v) < 0 || v == 0)
                        return -EINVAL;
                c->max_buffered_bytes = v;
                return 0;
        }
        if (streq(key, "EkCertificate")) {
                static const char *const table[_EK_CERTIFICATE_POLICY_MAX] = {
                        [EK_CERTIFICATE_VERIFY] = "verify",
                        [EK_CERTIFICATE_REQUIRE] = "require",
                        [EK_CERTIFICATE_IGNORE] = "ignore",
                };
                for (EkCertificatePolicy p = 0; p < _EK_CERTIFICATE_POLICY_MAX; p++)
                        if (streq(value, table[p])) {
                                c->ek_certificate = p;
                                return 0;
                        }
                return -EINVAL;
        }
        if (streq(key, "MeasuredBoot")) {
                if (isempty(value))
                        c->measured_boot = MEASURED_BOOT_DEFAULT;
                else if (streq(value, "enforce"))
                        c->measured_boot = MEASURED_BOOT_ENFORCE;
                else if (streq(value, "warn"))
                        c->measured_boot = MEASURED_BOOT_WARN;
                else
                        return -EINVAL;
                return 0;
        }
        if (streq(key, "CheckInterval")) {
                r = parse_duration_usec(value, &usec);
                if (r < 0 || usec < 1000000ULL || usec > PROTO_CHECK_INTERVAL_MAX_SEC * 1000000ULL)
                        return -EINVAL;
                c->check_interval_usec = usec;
                return 0;
        }
        if (streq(key, "RelayMetricsInterval")) {
                r = parse_duration_usec(value, &usec);
                if (r < 0 || usec < 1000000ULL || usec > PROTO_RELAY_METRICS_INTERVAL_MAX_SEC * 1000000ULL)
                        return -EINVAL;
                c->relay_metrics_interval_usec = usec;
                return 0;
        }
        if (streq(key, "EkCaDirectory"))
                return set_str(&c->ek_ca_directory, value);
        if (streq(key, "LogKey"))
                return set_str(&c->log_key, value);
        if (streq(key, "MetricsListen")) {
                if (isempty(value)) { /* empty: not served (the default) */
                        free(c->metrics_listen);
                        c->metrics_listen = NULL;
                        return 0;
                }
                return set_str(&c->metrics_listen, value);
        }
        if (streq(key, "MetricsTokenFile"))
                return set_str(&c->metrics_token_file, value);
        if (streq(key, "CACertificate"))
                return set_str(&c->ca_certificate, value);
        if (streq(key, "DefaultRelayCount"))
                return set_unsigned(&c->default_relay_count, value, 64);
        if (streq(key, "RelaysPerAddress")) {
                unsigned long long v;

                if (safe_atou64(value, PROTO_RELAYS_MAX, &v) < 0 || v == 0)
                        return -EINVAL;
                c->relays_per_address = (unsigned) v;
                return 0;
        }
        if (streq(key, "ORPortRange"))
                return parse_port_range(value, &c->or_port_min, &c->or_port_max);
        return -ENOENT;
}

static int set_option(void *userdata, const char *key, const char *value) {
        return server_config_set(userdata, key, value);
}

int server_config_parse(ServerConfig *c, const char *text, unsigned *ret_line) {
        return conf_parse(text, strlen(text), "Server", set_option, c, ret_line);
}

int server_config_load(ServerConfig *c, const char *path) {
        ConfError e;
        int r;

        r = conf_load(path, SERVER_CONFIG_FILE, SERVER_CONFIG_DROPIN_DIR, "Server", set_option, c, &e);
        if (r >= 0)
                return 0;
        if (e.line == 0)
                return log_error_errno(r, "Failed to read %s: %m", e.path);
        if (r == -ENOENT)
                return log_error_errno(r, "%s:%u: unknown option.", e.path, e.line);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s:%u: expected [Server] and Key=Value lines.", e.path, e.line);
        return log_error_errno(r, "%s:%u: invalid value: %m", e.path, e.line);
}
