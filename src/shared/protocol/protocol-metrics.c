/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/node/relay-metrics: each relay's MetricsPort summed up, as a node reports it with its checks. Public
 * values (tor publishes most of them in its extra-info descriptors): nothing here is wiped. */
#include <stdio.h>
#include <string.h>

#include "protocol-json.h"
#include "string-util.h"

static const struct {
        const char *name;
        size_t offset;
} counters[] = {
        { "onionskinsDropped", offsetof(TorRelayMetrics, onionskins_dropped) },
        { "oomBytes", offsetof(TorRelayMetrics, oom_bytes) },
        { "tcpExhaustion", offsetof(TorRelayMetrics, tcp_exhaustion) },
        { "rateLimitReached", offsetof(TorRelayMetrics, rate_limit_reached) },
        { "dnsQueries", offsetof(TorRelayMetrics, dns_queries) },
        { "readBytes", offsetof(TorRelayMetrics, read_bytes) },
        { "writtenBytes", offsetof(TorRelayMetrics, written_bytes) },
};
#define N_COUNTERS ELEMENTSOF(counters)

static uint64_t *counter(TorRelayMetrics *m, size_t i) {
        return (uint64_t *) ((uint8_t *) m + counters[i].offset);
}

int proto_relay_metrics_request_encode(const ProtoRelayMetricsRequest *r, char **ret) {
        json_object *o = json_object_new_object(), *a = NULL;
        int k = o ? 0 : -ENOMEM;

        if (r->n_relays == 0 || r->n_relays > PROTO_RELAYS_MAX)
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "relays", a = json_object_new_array());
        for (size_t i = 0; k >= 0 && i < r->n_relays; i++) {
                TorRelayMetrics m = r->relays[i].m;
                json_object *e, *dns = NULL, *flags = NULL;

                if (!tor_nickname_ok(r->relays[i].name)) {
                        k = -EINVAL;
                        break;
                }
                e = proto_json_append(a, json_object_new_object());
                if (!e) {
                        k = -ENOMEM;
                        break;
                }
                k = proto_json_add(e, "name", json_object_new_string(r->relays[i].name));
                for (size_t c = 0; k >= 0 && c < N_COUNTERS; c++)
                        k = proto_json_add(e, counters[c].name, json_object_new_uint64(*counter(&m, c)));
                if (k >= 0)
                        k = proto_json_add(e, "dnsErrors", dns = json_object_new_object());
                for (TorDnsReason d = 0; k >= 0 && d < _TOR_DNS_REASON_MAX; d++)
                        if (m.dns_errors[d] > 0)
                                k = proto_json_add(dns, tor_dns_reason_to_string(d), json_object_new_uint64(m.dns_errors[d]));
                if (k >= 0)
                        k = proto_json_add(e, "flags", flags = json_object_new_array());
                for (TorRelayFlag f = 0; k >= 0 && f < _TOR_RELAY_FLAG_MAX; f++)
                        if (m.flags & (1U << f) &&
                            json_object_array_add(flags, json_object_new_string(tor_relay_flag_to_string(f))) < 0)
                                k = -ENOMEM;
        }
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

/* A non-negative JSON integer: json-c keeps those past INT64_MAX as unsigned. */
static int get_u64(json_object *v, const char *what, const char *relay, const char *field, uint64_t *ret,
                   ProtoDiag *diag) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, field,
                                  "%s: relay %s: '%s' is not an integer 0…2^64-1", what, relay, field);
        *ret = json_object_get_uint64(v);
        return 0;
}

static int decode_relay(json_object *o, const char *what, size_t i, ProtoRelayMetrics *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "name", json_type_string, PROTO_REQUIRED },
                { "onionskinsDropped", json_type_int, PROTO_REQUIRED },
                { "oomBytes", json_type_int, PROTO_REQUIRED },
                { "tcpExhaustion", json_type_int, PROTO_REQUIRED },
                { "rateLimitReached", json_type_int, PROTO_REQUIRED },
                { "dnsQueries", json_type_int, PROTO_REQUIRED },
                { "readBytes", json_type_int, PROTO_REQUIRED },
                { "writtenBytes", json_type_int, PROTO_REQUIRED },
                { "dnsErrors", json_type_object, PROTO_REQUIRED },
                { "flags", json_type_array, PROTO_REQUIRED },
        };
        json_object *v[ELEMENTSOF(fields)];
        ProtoRelayMetrics r = {};
        const char *name;
        size_t n;
        int k;

        if (!json_object_is_type(o, json_type_object))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "relays", "%s: relay %zu is not an object", what, i);
        k = proto_fields(o, what, fields, ELEMENTSOF(fields), v, diag);
        if (k < 0)
                return k;
        if (proto_string(v[0], what, "name", TOR_NICKNAME_MAX, &name, NULL) < 0 || !tor_nickname_ok(name))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "name",
                                  "%s: relay %zu: 'name' is not a tor nickname (1-%u letters and digits)", what, i,
                                  TOR_NICKNAME_MAX);
        snprintf(r.name, sizeof(r.name), "%s", name);
        for (size_t c = 0; c < N_COUNTERS; c++) {
                k = get_u64(v[1 + c], what, name, counters[c].name, counter(&r.m, c), diag);
                if (k < 0)
                        return k;
        }
        /* dnsErrors: json-c keeps one value per key (the parser refuses duplicates), at most one per reason. */
        if ((size_t) json_object_object_length(v[8]) > _TOR_DNS_REASON_MAX)
                return proto_fail_too_large(diag, "dnsErrors", "%s: relay %s: more than %u DNS error reasons", what,
                                            name, _TOR_DNS_REASON_MAX);
        json_object_object_foreach(v[8], key, value) {
                TorDnsReason d = tor_dns_reason_from_string(key);

                if (d < 0)
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "dnsErrors",
                                          "%s: relay %s: 'dnsErrors' has an unknown reason", what, name);
                k = get_u64(value, what, name, "dnsErrors", &r.m.dns_errors[d], diag);
                if (k < 0)
                        return k;
        }
        n = json_object_array_length(v[9]);
        if (n > _TOR_RELAY_FLAG_MAX)
                return proto_fail_too_large(diag, "flags", "%s: relay %s: more than %u flags", what, name,
                                            _TOR_RELAY_FLAG_MAX);
        for (size_t j = 0; j < n; j++) {
                json_object *f = json_object_array_get_idx(v[9], j);
                TorRelayFlag flag = json_object_is_type(f, json_type_string)
                                            ? tor_relay_flag_from_string(json_object_get_string(f))
                                            : _TOR_RELAY_FLAG_INVALID;

                if (flag < 0 || (r.m.flags & (1U << flag)))
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "flags",
                                          "%s: relay %s: 'flags' holds an unknown or repeated flag", what, name);
                r.m.flags |= 1U << flag;
        }
        *ret = r;
        return 0;
}

/* ---- the report's fast path ------------------------------------------------------------------------------------------
 * A node reports with its checks, every RelayMetricsInterval=: through json-c's objects (a hash table per relay and
 * one per dnsErrors), the report's decoding cost more than the check it replaces. As the attestation request's (see
 * protocol-attest.c): the body read in place, what configd writes taken, anything else left to the json-c decoder,
 * which decides; both give the same report for every body the fast path takes (test-protocol, fuzz-protocol). */

/* A short string in buf (a nickname, a flag, a DNS error reason): false past size - 1 characters. */
static bool scan_short_string(ProtoScan *s, char *buf, size_t size) {
        ProtoSlice v;

        if (!proto_scan_string(s, &v) || v.n >= size)
                return false;
        proto_slice_str(v, buf);
        return true;
}

/* 1: relay taken into *ret, 0: not. */
static int scan_relay(ProtoScan *s, ProtoRelayMetrics *ret) {
        enum { NAME = N_COUNTERS, DNS_ERRORS, FLAGS, _N };
        bool present[_N] = {};
        ProtoRelayMetrics r = {};

        if (!proto_scan_char(s, '{'))
                return 0;
        do {
                char key[32];
                int f = -1;

                if (!scan_short_string(s, key, sizeof(key)) || !proto_scan_char(s, ':'))
                        return 0;
                if (streq(key, "name"))
                        f = NAME;
                else if (streq(key, "dnsErrors"))
                        f = DNS_ERRORS;
                else if (streq(key, "flags"))
                        f = FLAGS;
                else
                        for (size_t c = 0; c < N_COUNTERS && f < 0; c++)
                                if (streq(key, counters[c].name))
                                        f = (int) c;
                if (f < 0 || present[f])
                        return 0;
                present[f] = true;
                if (f == NAME) {
                        if (!scan_short_string(s, r.name, sizeof(r.name)) || !tor_nickname_ok(r.name))
                                return 0;
                } else if (f == DNS_ERRORS) {
                        if (!proto_scan_char(s, '{'))
                                return 0;
                        if (proto_scan_char(s, '}'))
                                continue;
                        do {
                                char reason[32];
                                TorDnsReason d;

                                if (!scan_short_string(s, reason, sizeof(reason)) || !proto_scan_char(s, ':'))
                                        return 0;
                                d = tor_dns_reason_from_string(reason);
                                /* a reason twice: json-c's decoder refuses it */
                                if (d < 0 || r.m.dns_errors[d] > 0 || !proto_scan_u64(s, 18, &r.m.dns_errors[d]) ||
                                    r.m.dns_errors[d] == 0)
                                        return 0;
                        } while (proto_scan_char(s, ','));
                        if (!proto_scan_char(s, '}'))
                                return 0;
                } else if (f == FLAGS) {
                        if (!proto_scan_char(s, '['))
                                return 0;
                        if (proto_scan_char(s, ']'))
                                continue;
                        do {
                                char flag[32];
                                TorRelayFlag g;

                                if (!scan_short_string(s, flag, sizeof(flag)))
                                        return 0;
                                g = tor_relay_flag_from_string(flag);
                                if (g < 0 || (r.m.flags & (1U << g)))
                                        return 0;
                                r.m.flags |= 1U << g;
                        } while (proto_scan_char(s, ','));
                        if (!proto_scan_char(s, ']'))
                                return 0;
                } else if (!proto_scan_u64(s, 18, counter(&r.m, (size_t) f)))
                        return 0;
        } while (proto_scan_char(s, ','));
        if (!proto_scan_char(s, '}'))
                return 0;
        for (size_t i = 0; i < _N; i++)
                if (!present[i])
                        return 0;
        *ret = r;
        return 1;
}

int proto_relay_metrics_request_decode_fast(const char *body, size_t size, ProtoRelayMetricsRequest *ret) {
        ProtoScan s = { body, body + size };
        ProtoRelayMetricsRequest r = {};
        ProtoSlice key;

        /* An object from the body's first byte, with "relays" only (see the attestation request's). */
        if (!body || size == 0 || size > INT32_MAX || *body != '{')
                return 0;
        s.p++;
        if (!proto_scan_string(&s, &key) || !proto_slice_is(key, "relays") || !proto_scan_char(&s, ':') ||
            !proto_scan_char(&s, '['))
                return 0;
        do {
                if (r.n_relays >= PROTO_RELAYS_MAX || scan_relay(&s, &r.relays[r.n_relays]) <= 0)
                        return 0;
                for (size_t j = 0; j < r.n_relays; j++)
                        if (streq(r.relays[j].name, r.relays[r.n_relays].name))
                                return 0;
                r.n_relays++;
        } while (proto_scan_char(&s, ','));
        if (!proto_scan_char(&s, ']') || !proto_scan_char(&s, '}'))
                return 0;
        proto_scan_ws(&s);
        if (s.p != s.end)
                return 0;
        *ret = r;
        return 1;
}

bool proto_relay_metrics_request_equal(const ProtoRelayMetricsRequest *a, const ProtoRelayMetricsRequest *b) {
        if (a->n_relays != b->n_relays)
                return false;
        for (size_t i = 0; i < a->n_relays; i++) {
                const TorRelayMetrics *x = &a->relays[i].m, *y = &b->relays[i].m;

                if (!streq(a->relays[i].name, b->relays[i].name) || x->flags != y->flags)
                        return false;
                for (size_t c = 0; c < N_COUNTERS; c++)
                        if (*counter((TorRelayMetrics *) x, c) != *counter((TorRelayMetrics *) y, c))
                                return false;
                for (size_t d = 0; d < _TOR_DNS_REASON_MAX; d++)
                        if (x->dns_errors[d] != y->dns_errors[d])
                                return false;
        }
        return true;
}

int proto_relay_metrics_request_decode(const char *body, size_t size, ProtoRelayMetricsRequest *ret, ProtoDiag *diag) {
        return proto_relay_metrics_request_decode_fast(body, size, ret) > 0
                       ? 0
                       : proto_relay_metrics_request_decode_json(body, size, ret, diag);
}

int proto_relay_metrics_request_decode_json(const char *body, size_t size, ProtoRelayMetricsRequest *ret,
                                            ProtoDiag *diag) {
        static const char what[] = "relay metrics report";
        _cleanup_(json_object_putp) json_object *o = NULL;
        ProtoRelayMetricsRequest r = {};
        const char *names[PROTO_RELAYS_MAX];
        json_object *relays;
        size_t n;
        int k;

        k = proto_relays_body(body, size, /* min_relays= */ 1, what, &o, &relays, &n, diag);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                k = decode_relay(json_object_array_get_idx(relays, i), what, i, &r.relays[i], diag);
                if (k >= 0)
                        k = proto_relay_unique(r.relays[i].name, names, i, what, diag);
                if (k < 0)
                        return k;
                names[i] = r.relays[i].name;
                r.n_relays = i + 1;
        }
        *ret = r;
        return 0;
}

int proto_relay_metrics_reply_encode(const ProtoRelayMetricsReply *r, char **ret) {
        ProtoWriter w = {};

        if (r->report_in == 0 || r->report_in > PROTO_RELAY_METRICS_INTERVAL_MAX_SEC || !r->has_check ||
            r->check.check_in == 0 || r->check.check_in > PROTO_CHECK_INTERVAL_MAX_SEC)
                return -EINVAL;
        /* As proto_relay_metrics_reply_encode_json() writes it: numbers and a boolean, nothing to escape. */
        proto_writer_raw(&w, "{");
        proto_writer_key(&w, "reportIn");
        proto_writer_int(&w, (int64_t) r->report_in);
        proto_writer_key(&w, "reattest");
        proto_writer_raw(&w, r->check.reattest ? "true" : "false");
        proto_writer_key(&w, "checkIn");
        proto_writer_int(&w, (int64_t) r->check.check_in);
        proto_writer_raw(&w, "}");
        return proto_writer_finish(&w, ret);
}

int proto_relay_metrics_reply_encode_json(const ProtoRelayMetricsReply *r, char **ret) {
        json_object *o = json_object_new_object();
        int k = o ? 0 : -ENOMEM;

        if (r->report_in == 0 || r->report_in > PROTO_RELAY_METRICS_INTERVAL_MAX_SEC || !r->has_check ||
            r->check.check_in == 0 || r->check.check_in > PROTO_CHECK_INTERVAL_MAX_SEC)
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "reportIn", json_object_new_int64((int64_t) r->report_in));
        if (k >= 0)
                k = proto_json_add(o, "reattest", json_object_new_boolean(r->check.reattest));
        if (k >= 0)
                k = proto_json_add(o, "checkIn", json_object_new_int64((int64_t) r->check.check_in));
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

int proto_relay_metrics_reply_decode(const char *body, size_t size, ProtoRelayMetricsReply *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                /* all absent from a server before them: {} */
                { "reportIn", json_type_int, 0 },
                { "reattest", json_type_boolean, 0 },
                { "checkIn", json_type_int, 0 },
        };
        static const char what[] = "relay metrics reply";
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v[ELEMENTSOF(fields)];
        int64_t report_in = 0, check_in = 0;
        int k;

        k = proto_json_decode(body, size, PROTO_REPLY_MAX, /* sensitive= */ false, what, fields, ELEMENTSOF(fields), &o,
                              v, diag);
        if (k < 0)
                return k;
        if (v[0]) {
                report_in = json_object_get_int64(v[0]);
                if (report_in <= 0 || report_in > (int64_t) PROTO_RELAY_METRICS_INTERVAL_MAX_SEC)
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "reportIn", "%s: 'reportIn' out of range",
                                          what);
        }
        if (!v[1] != !v[2])
                return proto_fail(diag, PROTO_ERROR_MISSING_FIELD, v[1] ? "checkIn" : "reattest",
                                  "%s: 'reattest' and 'checkIn' come together", what);
        if (v[2]) {
                check_in = json_object_get_int64(v[2]);
                if (check_in <= 0 || check_in > (int64_t) PROTO_CHECK_INTERVAL_MAX_SEC)
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "checkIn", "%s: 'checkIn' out of range",
                                          what);
        }
        *ret = (ProtoRelayMetricsReply) {
                .report_in = (uint64_t) report_in,
                .has_check = v[2] != NULL,
                .check = { .reattest = v[1] && json_object_get_boolean(v[1]), .check_in = (uint64_t) check_in },
        };
        return 0;
}
