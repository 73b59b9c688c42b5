/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <assert.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fd-util.h"
#include "tpm2-ek-cert.h"
#include "log.h"
#include "server-api.h"
#include "server-db-pg.h"
#include "server-http.h"
#include "server-tls.h"
#include "server-tls-wait.h"
#include "server-verdict.h"
#include "string-util.h"

#define PEM_MAX (64U * 1024U)
#define RATELIMIT_SLOTS 4096U
/* The request connection's page cache: the nodes an authentication reads and the b-tree pages it writes stay
 * in memory (10,000 nodes take some 6 MiB of table and index pages). */
#define DB_SERVER_CACHE_KIB (16U * 1024U)
/* File descriptors besides the connections: listening sockets, the database and its WAL, libmicrohttpd's
 * epoll and event descriptors per thread, the EK roots read at start. */
#define NOFILE_RESERVE 256U
/* libmicrohttpd's memory per connection (MHD_OPTION_CONNECTION_MEMORY_LIMIT, default 32 KiB): the request
 * line and headers, a read buffer of half of it, the reply's header. Request bodies do not stay there:
 * on_request() copies them out, up to MaxBodySize=. libmicrohttpd zeroes the whole pool after each
 * request, so a kept-alive connection keeps all of it resident: holding 10,000 nodes' connections
 * (patela-bench checks, per-node load), the server grew by 44.6 kB per connection at 32 KiB, 20.0 kB at
 * 8 KiB. Request headers up to some 7 KiB fit (a node's take a few hundred bytes); larger ones are
 * answered 431. */
#define CONNECTION_MEMORY_BYTES (8U * 1024U)

struct RateLimit {
        pthread_mutex_t lock;
        double per_usec;
        double burst;
        struct {
                char source[64];
                double tokens;
                uint64_t last;
        } slots[RATELIMIT_SLOTS];
};

int ratelimit_new(unsigned per_minute, RateLimit **ret) {
        RateLimit *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        pthread_mutex_init(&r->lock, NULL);
        r->per_usec = per_minute / 60e6;
        r->burst = per_minute > 0 ? per_minute : 0;
        *ret = r;
        return 0;
}

RateLimit *ratelimit_free(RateLimit *r) {
        if (r)
                pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
}

/* One source as the rate limits count it: an IPv4 address, or an IPv6 /64 (one host usually has a whole /64:
 * counting addresses would let it enrol without bound). An IPv4-mapped IPv6 address is its IPv4 address. */
void ratelimit_source_key(const char *source, char *buf, size_t size) {
        struct in6_addr a;
        char text[INET6_ADDRSTRLEN];

        if (inet_pton(AF_INET6, source, &a) != 1) {
                snprintf(buf, size, "%s", source);
                return;
        }
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
                snprintf(buf, size, "%s", inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof(text)) ? text : source);
                return;
        }
        memset(&a.s6_addr[8], 0, 8);
        if (!inet_ntop(AF_INET6, &a, text, sizeof(text)))
                snprintf(buf, size, "%s", source);
        else
                snprintf(buf, size, "%s/64", text);
}

bool ratelimit_allow(RateLimit *r, const char *address) {
        uint64_t now = now_usec(), h = 1469598103934665603ULL;
        char source[INET6_ADDRSTRLEN + 4];
        unsigned best = 0;
        bool allowed;

        ratelimit_source_key(address, source, sizeof(source));

        for (const char *p = source; *p; p++)
                h = (h ^ (unsigned char) *p) * 1099511628211ULL;

        pthread_mutex_lock(&r->lock);
        /* Four probes; a new source takes the stalest of them. Losing a bucket only resets that source
         * to a full burst, which still bounds it. */
        for (unsigned i = 0; i < 4; i++) {
                unsigned k = (unsigned) ((h + i) % RATELIMIT_SLOTS);
                if (streq(r->slots[k].source, source)) {
                        best = k;
                        goto found;
                }
                if (i == 0 || r->slots[k].last < r->slots[best].last)
                        best = k;
        }
        snprintf(r->slots[best].source, sizeof(r->slots[best].source), "%s", source);
        r->slots[best].tokens = r->burst;
        r->slots[best].last = now;
found:
        r->slots[best].tokens = MIN(r->burst, r->slots[best].tokens + (double) (now - r->slots[best].last) * r->per_usec);
        r->slots[best].last = now;
        allowed = r->slots[best].tokens >= 1.0;
        if (allowed)
                r->slots[best].tokens -= 1.0;
        pthread_mutex_unlock(&r->lock);
        return allowed;
}

/* This thread's slot among a server's connections, + 1 (0: none yet), and the connection it holds. */
static _Thread_local unsigned db_slot;
static _Thread_local struct ServerDb *db_held;

Db *server_db_lock(Server *s) {
        struct ServerDb *d;

        assert(!db_held);
        if (db_slot == 0)
                db_slot = atomic_fetch_add(&s->db_next, 1U) + 1U;
        d = &s->dbs[(db_slot - 1U) % s->n_dbs];
        pthread_mutex_lock(&d->lock);
        db_held = d;
        return d->db;
}

void server_db_unlock(Server *s) {
        assert(db_held && db_held >= s->dbs && db_held < s->dbs + s->n_dbs);
        pthread_mutex_unlock(&db_held->lock);
        db_held = NULL;
}

/* The request threads' connections (server_db_lock()): one on SQLite; on PostgreSQL one per request thread of a
 * listening socket (MHD's pool; the threads of further sockets share them), at most SERVER_DB_CONNECTIONS_MAX. */
#define SERVER_DB_CONNECTIONS_MAX 64U

static int server_dbs_open(Server *s, const char *database) {
        unsigned threads = s->config->threads > 0 ? s->config->threads : (unsigned) sysconf(_SC_NPROCESSORS_ONLN);
        unsigned n = db_is_postgresql_uri(database) ? MIN(MAX(threads, 1U), SERVER_DB_CONNECTIONS_MAX) : 1U;
        int r;

        s->dbs = calloc(n, sizeof(struct ServerDb));
        if (!s->dbs)
                return log_oom();
        for (unsigned i = 0; i < n; i++) {
                pthread_mutex_init(&s->dbs[i].lock, NULL);
                s->n_dbs = i + 1;
                r = db_open(database, &s->dbs[i].db);
                if (r < 0)
                        return r;
        }
        if (n > 1)
                log_info("PostgreSQL: %u connections, one per request thread.", n);
        return 0;
}

static void server_dbs_close(Server *s) {
        for (unsigned i = 0; i < s->n_dbs; i++) {
                s->dbs[i].db = db_close(s->dbs[i].db);
                pthread_mutex_destroy(&s->dbs[i].lock);
        }
        free(s->dbs);
        s->dbs = NULL;
        s->n_dbs = 0;
}

static enum MHD_Result respond_typed_applied(Request *req, unsigned status, const char *type, const char *body,
                                            const char *applied) {
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer_copy(strlen(body), body);
        if (!resp)
                return MHD_NO;
        (void) MHD_add_response_header(resp, "Content-Type", type);
        (void) MHD_add_response_header(resp, "Cache-Control", "no-store");
        /* RFC 7240: the request's preference that shaped this reply. */
        if (applied)
                (void) MHD_add_response_header(resp, "Preference-Applied", applied);
        ret = MHD_queue_response(req->connection, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result respond_typed(Request *req, unsigned status, const char *type, const char *body) {
        return respond_typed_applied(req, status, type, body, NULL);
}

enum MHD_Result respond_text(Request *req, unsigned status, const char *text) {
        return respond_typed(req, status, "text/plain; charset=utf-8", text);
}

enum MHD_Result respond_body_applied(Request *req, unsigned status, char *body, const char *applied) {
        enum MHD_Result ret;

        if (!body)
                return MHD_NO;
        ret = respond_typed_applied(req, status, "application/json", body, applied);
        /* A session token is among the bodies: MHD has its own copy now. */
        erase_and_free_sized(body, strlen(body));
        return ret;
}

enum MHD_Result respond_body(Request *req, unsigned status, char *body) {
        return respond_body_applied(req, status, body, NULL);
}

static enum MHD_Result respond_verror(Request *req, unsigned status, ProtoErrorCode code, const char *fmt,
                                      va_list ap) {
        char message[512], *body = NULL;

        vsnprintf(message, sizeof(message), fmt, ap);
        req->result = (unsigned) code;
        log_info("%s %s from %s: %u %s: %s", req->method, req->url, req->source, status,
                 proto_error_to_string(code), message);
        if (proto_error_reply_encode(code, message, &body) < 0)
                return MHD_NO;
        return respond_body(req, status, body);
}

enum MHD_Result respond_error(Request *req, ProtoErrorCode code, const char *fmt, ...) {
        enum MHD_Result ret;
        va_list ap;

        va_start(ap, fmt);
        ret = respond_verror(req, proto_error_status(code), code, fmt, ap);
        va_end(ap);
        return ret;
}

enum MHD_Result respond_error_status(Request *req, unsigned status, ProtoErrorCode code, const char *fmt, ...) {
        enum MHD_Result ret;
        va_list ap;

        va_start(ap, fmt);
        ret = respond_verror(req, status, code, fmt, ap);
        va_end(ap);
        return ret;
}

enum MHD_Result respond_diag(Request *req, const ProtoDiag *diag) {
        return respond_error_status(req, diag->too_large ? MHD_HTTP_CONTENT_TOO_LARGE : proto_error_status(diag->code),
                                    diag->code, "%s.", diag->message);
}

void server_format_source(struct MHD_Connection *c, char *buf, size_t size) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;

        snprintf(buf, size, "unknown");
        if (!sa)
                return;
        if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, buf, (socklen_t) size);
        else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, buf, (socklen_t) size);
        else if (sa->sa_family == AF_UNIX)
                snprintf(buf, size, "unix");
}

/* Reserves size bytes of request body for req (beyond what it holds already) from MaxBufferedBytes=. */
static bool body_reserve(Request *req, size_t size) {
        Server *s = req->server;
        uint64_t more, before;

        if (size <= req->reserved)
                return true;
        more = size - req->reserved;
        before = atomic_fetch_add(&s->buffered, more);
        if (before + more > s->config->max_buffered_bytes) {
                atomic_fetch_sub(&s->buffered, more);
                return false;
        }
        req->reserved = size;
        return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
        Server *s = cls;
        Request *req = *req_cls;
        enum MHD_Result ret;
        ProtoEndpoint e;

        (void) version;
        if (!req) {
                const char *cl = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
                unsigned long long announced;

                req = calloc(1, sizeof(*req));
                if (!req)
                        return MHD_NO;
                *req = (Request) { .server = s, .connection = connection, .method = method, .url = url,
                                   .result = METRICS_RESULT_OK, .start_usec = now_monotonic_usec() };
                e = proto_endpoint_from_path(url);
                req->endpoint = e >= 0 ? (unsigned) e : METRICS_ENDPOINT_OTHER;
                server_format_source(connection, req->source, sizeof(req->source));
                /* Refuse an announced oversized body before reading it; reserve an announced body at once, so
                 * that slow uploads cannot add up past MaxBufferedBytes= before any of them is refused. */
                if (cl && safe_atou64(cl, UINT64_MAX, &announced) >= 0) {
                        if (announced > s->config->max_body_size)
                                req->too_large = true;
                        else if (!body_reserve(req, announced))
                                req->over_budget = true;
                }
                *req_cls = req;
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                if (!req->too_large && !req->over_budget && req->size + *upload_data_size > s->config->max_body_size)
                        req->too_large = true;
                if (!req->too_large && !req->over_budget && !body_reserve(req, req->size + *upload_data_size))
                        req->over_budget = true;
                if (!req->too_large && !req->over_budget) {
                        char *p = realloc(req->body, req->size + *upload_data_size + 1);
                        if (!p)
                                return MHD_NO;
                        memcpy(p + req->size, upload_data, *upload_data_size);
                        req->body = p;
                        req->size += *upload_data_size;
                        req->body[req->size] = '\0';
                }
                /* otherwise keep consuming, and answer at the end */
                *upload_data_size = 0;
                return MHD_YES;
        }

        if (req->too_large)
                ret = respond_error(req, PROTO_ERROR_BODY_TOO_LARGE, "Request body exceeds %u bytes.",
                                    s->config->max_body_size);
        else if (req->over_budget)
                ret = respond_error(req, PROTO_ERROR_RATE_LIMITED,
                                    "The server holds as many request bodies as it will (MaxBufferedBytes=); try again "
                                    "later.");
        else
                ret = api_dispatch(req);
        metrics_count_request(&s->metrics, req->endpoint, req->result, now_monotonic_usec() - req->start_usec);
        return ret;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
        Request *req = *req_cls;

        (void) cls, (void) connection, (void) toe;
        if (!req)
                return;
        /* An attestation's body holds the credential's secret. */
        if (req->body)
                erase_and_free_sized(req->body, req->size);
        if (req->reserved > 0)
                atomic_fetch_sub(&req->server->buffered, req->reserved);
        free(req);
        *req_cls = NULL;
}

/* A nodes' listener's handshake: complete (the client's Finished arrived), or ended for its time. */
static void on_handshake(void *userdata, bool resumed) {
        metrics_count_handshake(&((Server *) userdata)->metrics, resumed);
}

static void on_handshake_timeout(void *userdata) {
        metrics_count_handshake_timeout(&((Server *) userdata)->metrics);
}

static const TlsWaitHooks handshake_hooks = {
        .handshake = on_handshake,
        .timeout = on_handshake_timeout,
};

/* A new connection, before its TLS handshake: session tickets (TLSTicketLifetime=), the handshake's waits out of
 * libmicrohttpd's loop (server-tls-wait.h) and its count; at its end, the waits' record of it. */
static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        Server *s = cls;
        const union MHD_ConnectionInfo *ci;
        gnutls_session_t session;
        TlsWait *w = NULL;

        if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                *socket_context = tls_wait_detach(*socket_context);
                return;
        }
        if (toe != MHD_CONNECTION_NOTIFY_STARTED)
                return;
        ci = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        session = ci ? ci->tls_session : NULL;
        if (!session)
                return;
        if (s->tickets && tls_tickets_enable(s->tickets, session) < 0)
                log_debug("Session tickets could not be enabled on a connection: it makes a full handshake.");
        if (tls_wait_attach(s->tls_waits, connection, server_handshake_timeout_usec(s->config), &handshake_hooks, s,
                            &w) < 0)
                log_debug("A connection's TLS handshake runs in libmicrohttpd's loop alone (no memory, or its "
                          "descriptor is past the table's size).");
        *socket_context = w;
}

uint64_t server_handshake_timeout_usec(const ServerConfig *config) {
        return MIN(config->idle_timeout_usec, SERVER_HANDSHAKE_TIMEOUT_MAX_USEC);
}

int server_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        char host[INET6_ADDRSTRLEN + 2];
        const char *colon;
        unsigned long long port;
        size_t hl;

        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                if (!end || end[1] != ':')
                        return -EINVAL;
                hl = (size_t) (end - s - 1);
                if (hl >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s + 1, hl);
                host[hl] = '\0';
                colon = end + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon || (size_t) (colon - s) >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s, (size_t) (colon - s));
                host[colon - s] = '\0';
        }
        if (safe_atou64(colon + 1, 65535, &port) < 0 || port == 0)
                return -EINVAL;

        memset(ret, 0, sizeof(*ret));
        if (inet_pton(AF_INET, host, &((struct sockaddr_in *) ret)->sin_addr) == 1) {
                ((struct sockaddr_in *) ret)->sin_family = AF_INET;
                ((struct sockaddr_in *) ret)->sin_port = htons((uint16_t) port);
                *ret_len = sizeof(struct sockaddr_in);
                return AF_INET;
        }
        if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *) ret)->sin6_addr) == 1) {
                ((struct sockaddr_in6 *) ret)->sin6_family = AF_INET6;
                ((struct sockaddr_in6 *) ret)->sin6_port = htons((uint16_t) port);
                *ret_len = sizeof(struct sockaddr_in6);
                return AF_INET6;
        }
        return -EINVAL;
}

static int start_daemon(Server *s, int fd, const struct sockaddr *sa, int family) {
        unsigned threads = s->config->threads > 0 ? s->config->threads : (unsigned) sysconf(_SC_NPROCESSORS_ONLN);
        /* MHD_USE_TURBO: reads a connection before epoll reports it readable and skips shutdown() before
         * close(), about five system calls fewer per request. The skipped shutdown() matters only when the
         * server closes a connection with unread data in it (the peer may then see a reset); every handler
         * reads the whole request body before it answers, the oversized ones included. */
        unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
        /* libmicrohttpd counts whole seconds. */
        unsigned idle_sec = (unsigned) (s->config->idle_timeout_usec / 1000000ULL);
        struct MHD_Daemon *d;

        if (family == AF_INET6)
                flags |= MHD_USE_IPv6;
        /* TLS 1.3 only (GnuTLS priority string: libmicrohttpd uses GnuTLS). */
        d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                             MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
                             MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
                             MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3",
                             MHD_OPTION_THREAD_POOL_SIZE, MAX(threads, 1U),
                             MHD_OPTION_CONNECTION_TIMEOUT, idle_sec,
                             /* Shared out among the threads: one at its share stops accepting and leaves
                              * new connections to the others. */
                             MHD_OPTION_CONNECTION_LIMIT, s->config->max_connections,
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY_BYTES,
                             MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->config->max_connections_per_source,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                             fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
                             fd >= 0 ? (intptr_t) fd : (intptr_t) sa,
                             MHD_OPTION_END);
        if (!d)
                return -EIO;
        s->daemons[s->n_daemons++] = d;
        return 0;
}

/* Every held connection is a file descriptor, and a running node holds one between its checks. systemd
 * starts services with a soft limit of 1,024 (DefaultLimitNOFILE=1024:524288): programs that need more and
 * never use select() raise it themselves (libmicrohttpd runs on epoll here), up to the hard limit. */
static void raise_nofile_limit(const Server *s) {
        uint64_t want = (uint64_t) s->n_daemons * s->config->max_connections + NOFILE_RESERVE;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
                log_warning_errno(errno, "Failed to read RLIMIT_NOFILE: %m");
                return;
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
                rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : MIN((uint64_t) rl.rlim_max, want);
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                        log_warning_errno(errno, "Failed to raise RLIMIT_NOFILE to %llu: %m",
                                          (unsigned long long) rl.rlim_cur);
                        return;
                }
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
                log_warning("Only %llu file descriptors allowed (LimitNOFILE=), MaxConnections=%u on %u "
                            "listening sockets may need %llu: connections past the limit are not accepted.",
                            (unsigned long long) rl.rlim_cur, s->config->max_connections, s->n_daemons,
                            (unsigned long long) want);
}

int server_start(Server *s, const ServerConfig *config) {
        size_t size;
        int n, r;

        s->config = config;
        /* Configured paths, else the credentials systemd passed (LoadCredential=server.crt/server.key). */
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        char cert_path[PATH_MAX], key_path[PATH_MAX];
        if (config->certificate)
                snprintf(cert_path, sizeof(cert_path), "%s", config->certificate);
        else if (creds)
                snprintf(cert_path, sizeof(cert_path), "%s/server.crt", creds);
        else
                return log_error_errno(EINVAL, "Certificate= is required (see 'patela-server ca issue').");
        if (config->private_key)
                snprintf(key_path, sizeof(key_path), "%s", config->private_key);
        else if (creds)
                snprintf(key_path, sizeof(key_path), "%s/server.key", creds);
        else
                return log_error_errno(EINVAL, "PrivateKey= is required (see 'patela-server ca issue').");

        r = read_full_file(cert_path, PEM_MAX, (void **) &s->cert_pem, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read certificate %s: %m", cert_path);
        r = read_full_file(key_path, PEM_MAX, (void **) &s->key_pem, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read private key %s: %m", key_path);

        r = ratelimit_new(config->enroll_rate_per_minute, &s->enroll_limit);
        if (r < 0)
                return log_oom();
        relay_metrics_store_init(&s->relay_metrics);
        challenge_limits_init(&s->challenge_limits, config->challenge_lifetime_usec / 1000U);
        if (config->ek_certificate != EK_CERTIFICATE_IGNORE) {
                const char *dir = config->ek_ca_directory ?: SERVER_EK_CA_DIRECTORY;

                r = ek_roots_load(dir, &s->ek_roots, &s->n_ek_roots);
                if (r == -ENOENT) {
                        s->ek_roots = X509_STORE_new();
                        if (!s->ek_roots)
                                return log_oom();
                } else if (r < 0)
                        return log_error_errno(r, "Failed to read the EK roots in %s: %m", dir);
                log_info("EK certificates: %s, %u roots and intermediates from %s.",
                         config->ek_certificate == EK_CERTIFICATE_REQUIRE ? "required" : "verified when present",
                         s->n_ek_roots, dir);
        }
        if (config->log_key) {
                _cleanup_free_ char *text = NULL;
                size_t key_size;

                r = read_full_file(config->log_key, 1024, (void **) &text, &key_size);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the log key %s: %m", config->log_key);
                text[strcspn(text, "\n")] = '\0';
                r = tlog_key_parse_signer(text, &s->log_key);
                explicit_bzero(text, key_size);
                if (r < 0)
                        return log_error_errno(r, "%s is not a signer key of the transparency log (patela-server "
                                               "log init makes one).", config->log_key);
                log_info("Transparency log checkpoints signed as %s.", s->log_key.name);
        }
        r = server_dbs_open(s, config->database);
        if (r < 0)
                return r;
        r = db_cache_size(s->dbs[0].db, DB_SERVER_CACHE_KIB);
        if (r < 0)
                return log_error_errno(r, "Failed to size the database cache: %m");
        r = challenge_key_load(s->dbs[0].db, &s->challenge_key);
        if (r < 0)
                return log_error_errno(r, "Failed to load the challenge key from the database: %m");
        /* SQLite's WAL: the checkpointer thread checkpoints; the request path only appends to the WAL. PostgreSQL
         * checkpoints its own WAL (its checkpointer process): no thread, no connection for it. */
        if (!s->dbs[0].db->pg) {
                r = checkpointer_start(config->database, &s->dbs[0].lock, &s->checkpointer);
                if (r < 0)
                        return log_error_errno(r, "Failed to start the WAL checkpointer: %m");
                (void) db_disable_autocheckpoint(s->dbs[0].db);
        }

        r = certificate_not_after(s->cert_pem, strlen(s->cert_pem), &s->tls_not_after);
        if (r < 0)
                return log_error_errno(r, "%s holds no PEM certificate.", cert_path);
        if (config->ca_certificate) {
                _cleanup_free_ char *ca = NULL;

                r = read_full_file(config->ca_certificate, PEM_MAX, (void **) &ca, &size);
                if (r >= 0)
                        r = certificate_not_after(ca, size, &s->ca_not_after);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the CA certificate %s: %m", config->ca_certificate);
        }
        metrics_init(&s->metrics);
        r = verdict_cache_new(VERDICT_CACHE_SLOTS, &s->verdict_cache);
        if (r < 0)
                return log_oom();
        r = tls_waits_new(&s->tls_waits);
        if (r < 0)
                return log_error_errno(r, "Failed to start the TLS handshakes' watcher: %m");
        if (config->tls_ticket_lifetime_usec > 0) {
                r = tls_tickets_new(config->tls_ticket_lifetime_usec, &s->tickets);
                if (r < 0)
                        return log_error_errno(r, "Failed to make the TLS session ticket key: %m");
        }

        /* A socket named "metrics" (FileDescriptorName=metrics in its .socket unit) is the metrics listener; the
         * others serve the nodes. */
        char **names = NULL;
        int metrics_fd = -EBADF;
        n = sd_listen_fds_with_names(/* unset_environment= */ true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to get sockets from the service manager: %m");
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;

                if (names && names[i] && streq(names[i], "metrics") && metrics_fd < 0) {
                        metrics_fd = fd;
                        continue;
                }
                if (s->n_daemons >= SERVER_SOCKETS_MAX) {
                        r = log_error_errno(E2BIG, "The service manager passed %d sockets; patela-server serves at most "
                                            "%u (fewer ListenStream= lines in patela-server.socket).", n, SERVER_SOCKETS_MAX);
                        break;
                }
                r = start_daemon(s, fd, NULL, 0);
                if (r < 0) {
                        log_error_errno(r, "Failed to serve on passed socket %d.", fd);
                        break;
                }
        }
        for (int i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
        if (r < 0)
                return r;
        if (metrics_fd >= 0 || config->metrics_listen) {
                r = metrics_listener_start(s, metrics_fd);
                if (r < 0)
                        return r;
        }
        n -= metrics_fd >= 0;
        if (n == 0)
                for (unsigned i = 0; i < config->n_listen; i++) {
                        struct sockaddr_storage ss;
                        socklen_t len;
                        int family = server_parse_listen(config->listen[i], &ss, &len);

                        if (family < 0)
                                return log_error_errno(EINVAL, "Invalid Listen= address '%s' (use 127.0.0.1:8443 or [::1]:8443).",
                                                       config->listen[i]);
                        r = start_daemon(s, -1, (struct sockaddr *) &ss, family);
                        if (r < 0)
                                return log_error_errno(r, "Failed to listen on %s.", config->listen[i]);
                        log_info("Listening on https://%s/", config->listen[i]);
                }
        if (s->n_daemons == 0)
                return log_error_errno(EINVAL, "Nothing to listen on: no socket passed and no Listen= configured.");
        raise_nofile_limit(s);
        /* A node checks every CheckInterval= with up to 10 % jitter, over the connection of its last
         * check. */
        if (config->idle_timeout_usec <= config->check_interval_usec + config->check_interval_usec / 10)
                log_warning("IdleTimeout=%llus does not outlast CheckInterval=%llus with its jitter: every "
                            "node's check will open a new TLS connection, some 10 times the server's work.",
                            (unsigned long long) (config->idle_timeout_usec / 1000000ULL),
                            (unsigned long long) (config->check_interval_usec / 1000000ULL));
        return 0;
}

void server_stop(Server *s) {
        /* libmicrohttpd must not be stopped with suspended connections: the handshakes' waits end first. */
        tls_waits_stop(s->tls_waits);
        metrics_listener_stop(s);
        for (unsigned i = 0; i < s->n_daemons; i++)
                MHD_stop_daemon(s->daemons[i]);
        s->n_daemons = 0;
        s->checkpointer = checkpointer_stop(s->checkpointer);
        server_dbs_close(s);
        X509_STORE_free(s->ek_roots);
        s->ek_roots = NULL;
        if (s->key_pem)
                explicit_bzero(s->key_pem, strlen(s->key_pem));
        free(s->key_pem);
        free(s->cert_pem);
        s->key_pem = s->cert_pem = NULL;
        s->enroll_limit = ratelimit_free(s->enroll_limit);
        s->tickets = tls_tickets_free(s->tickets);
        s->tls_waits = tls_waits_free(s->tls_waits);
        s->verdict_cache = verdict_cache_free(s->verdict_cache);
        tlog_key_done(&s->log_key);
        relay_metrics_store_done(&s->relay_metrics);
        challenge_key_done(&s->challenge_key);
        challenge_limits_done(&s->challenge_limits);
}
