/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MetricsListen=: GET /metrics and /metrics/relays (Prometheus) and GET /v1/status (JSON) on a listener of their own, TLS 1.3 with the
 * server's certificate, behind a bearer token (MetricsTokenFile=). Not on the nodes' listeners: an operator firewalls
 * it apart, and a scrape never takes a request thread or the request threads' database connection. One thread
 * serves it, on a database connection of its own: on WAL its read transactions never wait for the request threads'
 * writes, and they never wait for it (docs/observability.md). */
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "digest-util.h"
#include "fd-util.h"
#include "log.h"
#include "server-http.h"
#include "server-status.h"
#include "string-util.h"

/* A token shorter than this is refused at start: it is the only thing between the network and the fleet's
 * inventory. `openssl rand -base64 32` makes a good one. */
#define METRICS_TOKEN_MIN 16U
#define METRICS_TOKEN_MAX 1024U
/* Scrapers at once: Prometheus keeps one connection per target; a few more for curl and a dashboard. */
#define METRICS_CONNECTIONS_MAX 32U
#define METRICS_CONNECTIONS_PER_SOURCE 8U
#define METRICS_IDLE_TIMEOUT_SEC 120U

int metrics_token_load(const char *path, uint8_t ret[static 32]) {
        _cleanup_free_ char *text = NULL;
        size_t size, len;
        int r;

        r = read_full_file(path, METRICS_TOKEN_MAX, (void **) &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read the metrics token %s: %m", path);
        len = strcspn(text, "\r\n");
        /* One line of printable ASCII without spaces: what an Authorization header can carry as it is. */
        for (size_t i = 0; i < len; i++)
                if (text[i] <= ' ' || text[i] > '~')
                        r = -EBADMSG;
        if (r >= 0 && len < METRICS_TOKEN_MIN)
                r = -EBADMSG;
        if (r >= 0 && !sha256_digest(text, len, ret))
                r = -ENOMEM;
        explicit_bzero(text, size);
        if (r < 0)
                return log_error_errno(r, "%s: the metrics token is one line of at least %u printable characters "
                                       "without spaces (e.g. `openssl rand -base64 32`).", path, METRICS_TOKEN_MIN);
        return 0;
}

int certificate_not_after(const char *pem, size_t size, int64_t *ret) {
        BIO *bio = BIO_new_mem_buf(pem, (int) size);
        X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        struct tm tm = {};
        int r = -EBADMSG;

        if (x && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
                *ret = (int64_t) timegm(&tm);
                r = 0;
        }
        X509_free(x);
        BIO_free(bio);
        return r;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type, char *body, size_t size) {
        struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(size, body, free);
        enum MHD_Result ret;

        if (!resp) {
                free(body);
                return MHD_NO;
        }
        (void) MHD_add_response_header(resp, "Content-Type", type);
        (void) MHD_add_response_header(resp, "Cache-Control", "no-store");
        if (status == MHD_HTTP_UNAUTHORIZED)
                (void) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"patela-metrics\"");
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result respond_message(struct MHD_Connection *c, unsigned status, const char *message) {
        char *body = strdup(message);
        return body ? respond(c, status, "text/plain; charset=utf-8", body, strlen(body)) : MHD_NO;
}

/* The bearer token, compared as SHA-256 digests in constant time: neither its length nor its content leaks
 * through the time a refusal takes. */
static bool token_ok(Server *s, struct MHD_Connection *c) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *token;
        uint8_t hash[32];

        if (!h || !(token = startswith(h, "Bearer ")) || strlen(token) > METRICS_TOKEN_MAX)
                return false;
        if (!sha256_digest(token, strlen(token), hash))
                return false;
        return CRYPTO_memcmp(hash, s->metrics_token, sizeof(hash)) == 0;
}

/* A /metrics/relays answer's buffer, given back to the metrics thread once sent (MHD calls this in that thread, or
 * in metrics_listener_stop() after it ended): kept for the next scrape unless one is kept already. */
typedef struct SpareReturn {
        Server *server;
        MetricsBuf buf;
} SpareReturn;

static void spare_return(void *cls) {
        SpareReturn *r = cls;

        if (!r->server->metrics_spare.data)
                r->server->metrics_spare = (MetricsBuf) { .data = r->buf.data, .allocated = r->buf.allocated };
        else
                free(r->buf.data);
        free(r);
}

static enum MHD_Result serve_relays(Server *s, struct MHD_Connection *c) {
        SpareReturn *ret = calloc(1, sizeof(SpareReturn));
        struct MHD_Response *resp;
        enum MHD_Result result;
        int r;

        if (!ret)
                return MHD_NO;
        ret->server = s;
        /* The last scrape's buffer, if it came back: its pages are already there. */
        ret->buf = (MetricsBuf) { .data = s->metrics_spare.data, .allocated = s->metrics_spare.allocated };
        s->metrics_spare = (MetricsBuf) {};
        uint64_t start = now_monotonic_usec();
        r = metrics_render_relays(s->metrics_db, &s->relay_metrics, &s->metrics_scratch, &ret->buf);
        atomic_store_explicit(&s->metrics.last_relays_render_usec, now_monotonic_usec() - start, memory_order_relaxed);
        if (r < 0) {
                spare_return(ret);
                return respond_message(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Reading the relays' metrics failed.\n");
        }
        resp = MHD_create_response_from_buffer_with_free_callback_cls(ret->buf.size, ret->buf.data, spare_return, ret);
        if (!resp) {
                spare_return(ret);
                return MHD_NO;
        }
        (void) MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        (void) MHD_add_response_header(resp, "Cache-Control", "no-store");
        result = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return result;
}

static enum MHD_Result serve_metrics(Server *s, struct MHD_Connection *c) {
        MetricsContext ctx = {
                .metrics = &s->metrics,
                .database_path = s->config->database,
                .tls_not_after = s->tls_not_after,
                .ca_not_after = s->ca_not_after,
                .session_lifetime_usec = s->config->session_lifetime_usec,
                .check_interval_usec = s->config->check_interval_usec,
                .relay_metrics_interval_usec = s->config->relay_metrics_interval_usec,
        };
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return MHD_NO;
        (void) __fsetlocking(f, FSETLOCKING_BYCALLER); /* this thread's alone */
        uint64_t start = now_monotonic_usec();
        r = metrics_render(&ctx, s->metrics_db, f);
        if (fclose(f) != 0)
                r = -ENOMEM;
        atomic_store_explicit(&s->metrics.last_render_usec, now_monotonic_usec() - start, memory_order_relaxed);
        if (r < 0) {
                free(buf);
                /* A partial exposition would read as series gone: answer none. */
                return respond_message(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Reading the database failed.\n");
        }
        return respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf, size);
}

/* ?after=ID&limit=N, both optional. */
static enum MHD_Result serve_status(Server *s, struct MHD_Connection *c) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *after_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
        const char *limit_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
        unsigned long long after = 0, limit = STATUS_LIMIT_DEFAULT;
        const char *text;
        char *body;
        int r;

        if (after_s && safe_atou64(after_s, INT64_MAX, &after) < 0)
                return respond_message(c, MHD_HTTP_BAD_REQUEST, "after= is a node id.\n");
        if (limit_s && (safe_atou64(limit_s, STATUS_LIMIT_MAX, &limit) < 0 || limit == 0))
                return respond_message(c, MHD_HTTP_BAD_REQUEST, "limit= is 1 to 1000.\n");
        r = server_status_json(s->metrics_db, &s->relay_metrics, (int64_t) after, (unsigned) limit, &o);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the status: %m");
                return respond_message(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Reading the database failed.\n");
        }
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        body = text ? strdup(text) : NULL;
        if (!body)
                return MHD_NO;
        return respond(c, MHD_HTTP_OK, "application/json", body, strlen(body));
}

static enum MHD_Result on_metrics_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                          const char *version, const char *upload_data, size_t *upload_data_size,
                                          void **req_cls) {
        static int seen;
        Server *s = cls;
        char source[64];

        (void) version, (void) upload_data;
        if (!*req_cls) { /* the headers: answer once the request is complete */
                *req_cls = &seen;
                return MHD_YES;
        }
        if (*upload_data_size > 0) { /* a body: read, never used (MHD bounds it by its connection memory) */
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (!token_ok(s, c)) {
                atomic_fetch_add_explicit(&s->metrics.scrapes_refused, 1, memory_order_relaxed);
                server_format_source(c, source, sizeof(source));
                log_info("%s %s from %s: 401, no valid metrics token.", method, url, source);
                return respond_message(c, MHD_HTTP_UNAUTHORIZED,
                                       "An 'Authorization: Bearer TOKEN' header with the token of MetricsTokenFile= is "
                                       "required.\n");
        }
        if (!streq(method, "GET") && !streq(method, "HEAD"))
                return respond_message(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Use GET.\n");
        if (streq(url, "/metrics"))
                return serve_metrics(s, c);
        if (streq(url, "/metrics/relays"))
                return serve_relays(s, c);
        if (streq(url, "/v1/status"))
                return serve_status(s, c);
        return respond_message(c, MHD_HTTP_NOT_FOUND, "Only /metrics, /metrics/relays and /v1/status are served here.\n");
}

/* The metrics listener's handshakes wait out of libmicrohttpd's loop too (server-tls-wait.h), for the nodes'
 * listeners' longest time; not counted. */
static void on_metrics_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                                  enum MHD_ConnectionNotificationCode toe) {
        Server *s = cls;
        TlsWait *w = NULL;

        if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                *socket_context = tls_wait_detach(*socket_context);
                return;
        }
        if (toe != MHD_CONNECTION_NOTIFY_STARTED)
                return;
        if (tls_wait_attach(s->tls_waits, connection, SERVER_HANDSHAKE_TIMEOUT_MAX_USEC, NULL, NULL, &w) < 0)
                log_debug("A metrics connection's TLS handshake runs in libmicrohttpd's loop alone.");
        *socket_context = w;
}

int metrics_listener_start(Server *s, int fd) {
        const ServerConfig *config = s->config;
        unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG;
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        char path[PATH_MAX];
        struct sockaddr_storage ss;
        socklen_t len;
        int family = 0, r;

        if (fd < 0) {
                family = server_parse_listen(config->metrics_listen, &ss, &len);
                if (family < 0)
                        return log_error_errno(EINVAL, "Invalid MetricsListen= address '%s' (use 127.0.0.1:9443 or "
                                               "[::1]:9443).", config->metrics_listen);
        }
        /* MetricsTokenFile=, else the credential systemd passed (LoadCredential=metrics-token). Never served
         * without one. */
        if (config->metrics_token_file)
                snprintf(path, sizeof(path), "%s", config->metrics_token_file);
        else if (creds)
                snprintf(path, sizeof(path), "%s/metrics-token", creds);
        else
                return log_error_errno(EINVAL, "MetricsListen= needs MetricsTokenFile= (or the credential "
                                       "metrics-token): the metrics are never served without a token.");
        r = metrics_token_load(path, s->metrics_token);
        if (r < 0)
                return r;

        r = db_open(config->database, &s->metrics_db);
        if (r < 0)
                return r;
        r = db_exec(s->metrics_db, "PRAGMA query_only = 1");
        if (r < 0)
                return log_error_errno(r, "Failed to make the metrics' database connection read-only: %m");
        /* A scrape reads every node and relay: through SQLite's small page cache, that was a pread() and a copy of
         * most of the database at every scrape (a third of /metrics' time, perf). Mapped, the reads are the page
         * cache's own pages (shared, not this process's memory). */
        r = db_exec(s->metrics_db, "PRAGMA mmap_size = 268435456");
        if (r < 0)
                log_warning_errno(r, "Failed to map the database for the metrics, reading it instead: %m");

        if (family == AF_INET6)
                flags |= MHD_USE_IPv6;
        s->metrics_daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_metrics_request, s,
                                             MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
                                             MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
                                             MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3",
                                             MHD_OPTION_CONNECTION_TIMEOUT, METRICS_IDLE_TIMEOUT_SEC,
                                             MHD_OPTION_CONNECTION_LIMIT, METRICS_CONNECTIONS_MAX,
                                             MHD_OPTION_PER_IP_CONNECTION_LIMIT, METRICS_CONNECTIONS_PER_SOURCE,
                                             MHD_OPTION_NOTIFY_CONNECTION, on_metrics_connection, s,
                                             fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
                                             fd >= 0 ? (intptr_t) fd : (intptr_t) &ss,
                                             MHD_OPTION_END);
        if (!s->metrics_daemon)
                return log_error_errno(EIO, "Failed to serve the metrics on %s.",
                                       fd >= 0 ? "the passed socket 'metrics'" : config->metrics_listen);
        if (fd < 0)
                log_info("Metrics on https://%s/metrics", config->metrics_listen);
        else
                log_info("Metrics on the passed socket 'metrics' (/metrics, /v1/status).");
        return 0;
}

void metrics_listener_stop(Server *s) {
        if (s->metrics_daemon)
                MHD_stop_daemon(s->metrics_daemon);
        s->metrics_daemon = NULL;
        s->metrics_db = db_close(s->metrics_db);
        metrics_relay_scratch_done(&s->metrics_scratch);
        free(s->metrics_spare.data);
        s->metrics_spare = (MetricsBuf) {};
        explicit_bzero(s->metrics_token, sizeof(s->metrics_token));
}
