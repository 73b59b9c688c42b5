/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A relay's MetricsPort: the Prometheus text exposition format (version 0.0.4) as tor writes it
 * (src/lib/metrics/prometheus.c in tor: "name{label="value",…} value" lines, HELP and TYPE comments). Only the
 * series of TorRelayMetrics are read; everything else is skipped, line by line, within fixed bounds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "string-util.h"
#include "tor-metrics.h"

static const char *const dns_reasons[_TOR_DNS_REASON_MAX] = {
        [TOR_DNS_SUCCESS] = "success",     [TOR_DNS_FORMAT] = "format",     [TOR_DNS_SERVERFAILED] = "serverfailed",
        [TOR_DNS_NOTEXIST] = "notexist",   [TOR_DNS_NOTIMPL] = "notimpl",   [TOR_DNS_REFUSED] = "refused",
        [TOR_DNS_TRUNCATED] = "truncated", [TOR_DNS_UNKNOWN] = "unknown",   [TOR_DNS_TOR_TIMEOUT] = "tor_timeout",
        [TOR_DNS_SHUTDOWN] = "shutdown",   [TOR_DNS_CANCEL] = "cancel",     [TOR_DNS_NODATA] = "nodata",
};

static const char *const relay_flags[_TOR_RELAY_FLAG_MAX] = {
        [TOR_FLAG_FAST] = "Fast",     [TOR_FLAG_EXIT] = "Exit",   [TOR_FLAG_AUTHORITY] = "Authority",
        [TOR_FLAG_STABLE] = "Stable", [TOR_FLAG_HSDIR] = "HSDir", [TOR_FLAG_RUNNING] = "Running",
        [TOR_FLAG_V2DIR] = "V2Dir",   [TOR_FLAG_SYBIL] = "Sybil", [TOR_FLAG_GUARD] = "Guard",
        [TOR_FLAG_BADEXIT] = "BadExit", [TOR_FLAG_VALID] = "Valid",
};

const char *tor_dns_reason_to_string(TorDnsReason r) {
        return r >= 0 && r < _TOR_DNS_REASON_MAX ? dns_reasons[r] : NULL;
}

TorDnsReason tor_dns_reason_from_string(const char *s) {
        for (TorDnsReason r = 0; s && r < _TOR_DNS_REASON_MAX; r++)
                if (streq(s, dns_reasons[r]))
                        return r;
        return _TOR_DNS_REASON_INVALID;
}

const char *tor_relay_flag_to_string(TorRelayFlag f) {
        return f >= 0 && f < _TOR_RELAY_FLAG_MAX ? relay_flags[f] : NULL;
}

TorRelayFlag tor_relay_flag_from_string(const char *s) {
        for (TorRelayFlag f = 0; s && f < _TOR_RELAY_FLAG_MAX; f++)
                if (streq(s, relay_flags[f]))
                        return f;
        return _TOR_RELAY_FLAG_INVALID;
}

#define LABELS_MAX 4U
#define LABEL_MAX 64U

typedef struct Sample {
        char name[TOR_METRICS_LINE_MAX];
        unsigned n_labels;
        char keys[LABELS_MAX][LABEL_MAX];
        char values[LABELS_MAX][LABEL_MAX];
        uint64_t value;
} Sample;

static const char *label(const Sample *s, const char *key) {
        for (unsigned i = 0; i < s->n_labels; i++)
                if (streq(s->keys[i], key))
                        return s->values[i];
        return "";
}

/* A counter's value as an unsigned integer. tor writes integers (then a timestamp may follow); a float, a
 * negative value, NaN or one past 2^64 - 1 is clamped. */
static int parse_value(const char *p, uint64_t *ret) {
        unsigned long long v;
        char *end;
        double d;

        if (*p >= '0' && *p <= '9') {
                errno = 0;
                v = strtoull(p, &end, 10);
                if (*end == '\0' || *end == ' ' || *end == '\t') {
                        *ret = errno == ERANGE ? UINT64_MAX : v;
                        return 0;
                }
        }
        d = strtod(p, &end);
        if (end == p || (*end != '\0' && *end != ' ' && *end != '\t'))
                return -EBADMSG;
        *ret = !(d > 0) ? 0 : d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t) d;
        return 0;
}

/* One sample line: name, optional {key="value",…}, value. -EBADMSG if it is not one (skipped by the caller). */
static int parse_sample(const char *line, Sample *s) {
        const char *p = line;
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");

        if (n == 0 || n >= sizeof(s->name))
                return -EBADMSG;
        memcpy(s->name, p, n);
        s->name[n] = '\0';
        s->n_labels = 0;
        p += n;
        if (*p == '{') {
                p++;
                while (*p != '}') {
                        size_t k = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), v = 0;
                        bool keep = s->n_labels < LABELS_MAX && k > 0 && k < LABEL_MAX;

                        if (k == 0 || p[k] != '=' || p[k + 1] != '"')
                                return -EBADMSG;
                        if (keep) {
                                memcpy(s->keys[s->n_labels], p, k);
                                s->keys[s->n_labels][k] = '\0';
                        }
                        p += k + 2;
                        for (; *p != '"'; p++) {
                                char c = *p;

                                if (c == '\0')
                                        return -EBADMSG;
                                if (c == '\\') {
                                        p++;
                                        c = *p == 'n' ? '\n' : *p;
                                        if (c == '\0')
                                                return -EBADMSG;
                                }
                                if (keep && v + 1 < LABEL_MAX)
                                        s->values[s->n_labels][v++] = c;
                        }
                        if (keep) {
                                s->values[s->n_labels][v] = '\0';
                                s->n_labels++;
                        }
                        p++;
                        if (*p == ',')
                                p++;
                        else if (*p != '}')
                                return -EBADMSG;
                }
                p++;
        }
        if (*p != ' ' && *p != '\t')
                return -EBADMSG;
        while (*p == ' ' || *p == '\t')
                p++;
        return parse_value(p, &s->value);
}

static uint64_t add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void take(TorRelayMetrics *m, const Sample *s) {
        if (streq(s->name, "tor_relay_load_onionskins_total")) {
                if (streq(label(s, "action"), "dropped"))
                        m->onionskins_dropped = add(m->onionskins_dropped, s->value);
        } else if (streq(s->name, "tor_relay_load_oom_bytes_total"))
                m->oom_bytes = add(m->oom_bytes, s->value);
        else if (streq(s->name, "tor_relay_load_tcp_exhaustion_total"))
                m->tcp_exhaustion = add(m->tcp_exhaustion, s->value);
        else if (streq(s->name, "tor_relay_load_global_rate_limit_reached_total"))
                m->rate_limit_reached = add(m->rate_limit_reached, s->value);
        else if (streq(s->name, "tor_relay_exit_dns_query_total"))
                m->dns_queries = add(m->dns_queries, s->value);
        else if (streq(s->name, "tor_relay_exit_dns_error_total")) {
                TorDnsReason r = tor_dns_reason_from_string(label(s, "reason"));
                if (r >= 0)
                        m->dns_errors[r] = add(m->dns_errors[r], s->value);
        } else if (streq(s->name, "tor_relay_flag")) {
                TorRelayFlag f = tor_relay_flag_from_string(label(s, "type"));
                if (f >= 0 && s->value > 0)
                        m->flags |= 1U << f;
        } else if (streq(s->name, "tor_relay_traffic_bytes")) {
                if (streq(label(s, "direction"), "read"))
                        m->read_bytes = add(m->read_bytes, s->value);
                else if (streq(label(s, "direction"), "written"))
                        m->written_bytes = add(m->written_bytes, s->value);
        }
}

int tor_metrics_parse(const char *text, size_t size, TorRelayMetrics *ret) {
        TorRelayMetrics m = {};
        bool relay = false;
        Sample *s;
        char line[TOR_METRICS_LINE_MAX + 1];

        if (size > TOR_METRICS_MAX)
                return -E2BIG;
        if (memchr(text, '\0', size))
                return -EBADMSG;
        s = malloc(sizeof(*s));
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < size;) {
                const char *nl = memchr(text + i, '\n', size - i);
                size_t len = (nl ? (size_t) (nl - text) : size) - i;

                if (len > TOR_METRICS_LINE_MAX) {
                        free(s);
                        return -EBADMSG;
                }
                memcpy(line, text + i, len);
                line[len] = '\0';
                if (len > 0 && line[len - 1] == '\r')
                        line[len - 1] = '\0';
                i += len + 1;
                if (line[0] == '#' || line[0] == '\0')
                        continue;
                if (parse_sample(line, s) < 0)
                        continue;
                if (startswith(s->name, "tor_relay_"))
                        relay = true;
                take(&m, s);
        }
        free(s);
        if (!relay)
                return -EBADMSG;
        *ret = m;
        return 0;
}
