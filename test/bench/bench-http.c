/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The benchmark's HTTPS client: HTTP/1.1 over an OpenSSL TLS 1.3 connection, written for the load generator
 * alone. libcurl did the same job at some 100 µs of CPU per request, a fifth of all the load generator's
 * work, on the cores the server runs on; this does one TLS record out and one or two in per request. Nodes
 * use libcurl (patela-configd); what the server sees is the same: TLS 1.3 with PROTO_TLS_GROUPS offered, one
 * request per round trip, Content-Length bodies, kept-alive connections (or a fresh connection per request or per
 * authentication, with a full handshake or, with resumption, one resumed from the server's last session ticket as
 * libcurl does). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc-util.h"
#include "bench-http.h"
#include "fd-util.h"
#include "protocol.h"
#include "string-util.h"

#define REPLY_MAX (64U * 1024U)
#define HEAD_MAX 512U
#define HOST_MAX 256U
#define BEARER_MAX 128U

struct BenchHttp {
        SSL_CTX *ctx;
        BenchHttpConnection own;
        BenchHttpConnection *conn; /* &own, or the one bench_http_use_connection() gave */
        bool fresh_connections;
        SSL_SESSION *session;     /* with resumption: the newest ticket's session, offered by the next connection */
        unsigned handshake_delay_msec;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        char host[HOST_MAX];      /* as in the URL, without brackets: the name or address to verify */
        bool host_is_ip;
        char host_header[HOST_MAX + 8];
        char *base_path;          /* the URL's path, without trailing slashes */
        char *request;
        size_t request_allocated;
        char reply[REPLY_MAX + 1];
        char error[256];
};

typedef struct Url {
        char host[HOST_MAX];
        bool bracketed;
        unsigned port;
        const char *path;
} Url;

/* https://HOST[:PORT][/PATH], HOST a name, an IPv4 address or [IPv6]. */
static int url_parse(const char *url, Url *ret) {
        const char *p = startswith(url, "https://"), *end;
        Url u = { .port = 443 };
        size_t n;

        if (!p)
                return -EINVAL;
        if (*p == '[') {
                end = strchr(p, ']');
                if (!end)
                        return -EINVAL;
                n = (size_t) (end - p - 1);
                p++;
                end++;
                u.bracketed = true;
        } else {
                end = p + strcspn(p, ":/");
                n = (size_t) (end - p);
        }
        if (n == 0 || n >= sizeof(u.host))
                return -EINVAL;
        memcpy(u.host, p, n);
        u.host[n] = '\0';
        if (*end == ':') {
                char *e;
                unsigned long port = strtoul(end + 1, &e, 10);

                if (e == end + 1 || port == 0 || port > 65535 || (*e != '\0' && *e != '/'))
                        return -EINVAL;
                u.port = (unsigned) port;
                end = e;
        } else if (*end != '\0' && *end != '/')
                return -EINVAL;
        u.path = end;
        *ret = u;
        return 0;
}

int bench_url_check_loopback(const char *url) {
        struct in_addr a4;
        Url u;

        if (url_parse(url, &u) < 0)
                return -EINVAL;
        if (streq(u.host, "localhost") || (u.bracketed && streq(u.host, "::1")) ||
            (!u.bracketed && inet_pton(AF_INET, u.host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127))
                return 0;
        return -EADDRNOTAVAIL;
}

void bench_http_connection_close(BenchHttpConnection *c) {
        if (c->ssl) {
                (void) SSL_shutdown(c->ssl); /* close_notify; no waiting for the peer's */
                SSL_free(c->ssl);
                c->ssl = NULL;
        }
        c->fd = safe_close(c->fd);
}

static void disconnect(BenchHttp *h) {
        bench_http_connection_close(h->conn);
}

BenchHttp *bench_http_free(BenchHttp *h) {
        if (!h)
                return NULL;
        bench_http_connection_close(&h->own);
        SSL_SESSION_free(h->session);
        SSL_CTX_free(h->ctx);
        free(h->base_path);
        /* The last request and reply may hold a credential's secret, a session token or a bearer token. */
        erase_and_free_sized(h->request, h->request_allocated);
        explicit_bzero(h->reply, sizeof(h->reply));
        free(h);
        return NULL;
}

static int fail(BenchHttp *h, int r, const char *what) {
        unsigned long e = ERR_get_error();

        if (e != 0)
                snprintf(h->error, sizeof(h->error), "%s: %s", what, ERR_reason_error_string(e));
        else
                snprintf(h->error, sizeof(h->error), "%s", what);
        ERR_clear_error();
        disconnect(h);
        return r;
}

static int resolve(BenchHttp *h, const Url *u) {
        struct sockaddr_in *in = (struct sockaddr_in *) &h->addr;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &h->addr;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;

        memset(&h->addr, 0, sizeof(h->addr));
        if (inet_pton(AF_INET, u->host, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) u->port);
                h->addr_len = sizeof(*in);
                h->host_is_ip = true;
                return 0;
        }
        if (inet_pton(AF_INET6, u->host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) u->port);
                h->addr_len = sizeof(*in6);
                h->host_is_ip = true;
                return 0;
        }
        /* "localhost": 127.0.0.1 first, as the server's usual Listen=; ::1 if it has no IPv4 address. */
        hints.ai_family = AF_INET;
        if (getaddrinfo(u->host, NULL, &hints, &ai) != 0 || !ai) {
                hints.ai_family = AF_INET6;
                if (getaddrinfo(u->host, NULL, &hints, &ai) != 0 || !ai)
                        return -EADDRNOTAVAIL;
        }
        memcpy(&h->addr, ai->ai_addr, ai->ai_addrlen);
        h->addr_len = ai->ai_addrlen;
        freeaddrinfo(ai);
        if (h->addr.ss_family == AF_INET)
                in->sin_port = htons((uint16_t) u->port);
        else
                in6->sin6_port = htons((uint16_t) u->port);
        return 0;
}

int bench_http_new(const char *url, const char *cacert, bool fresh_connections, BenchHttp **ret) {
        _cleanup_(bench_http_freep) BenchHttp *h = NULL;
        Url u;
        int r;

        r = bench_url_check_loopback(url);
        if (r < 0)
                return r;
        r = url_parse(url, &u);
        if (r < 0)
                return r;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->own = BENCH_HTTP_CONNECTION_INIT;
        h->conn = &h->own;
        h->fresh_connections = fresh_connections;
        h->base_path = strdup(u.path);
        if (!h->base_path)
                return -ENOMEM;
        /* Trailing slashes of the base URL would double with the path's. */
        for (size_t n = strlen(h->base_path); n > 0 && h->base_path[n - 1] == '/'; n--)
                h->base_path[n - 1] = '\0';
        snprintf(h->host, sizeof(h->host), "%s", u.host);
        snprintf(h->host_header, sizeof(h->host_header), u.bracketed ? "[%s]:%u" : "%s:%u", u.host, u.port);
        r = resolve(h, &u);
        if (r < 0)
                return r;

        /* TLS 1.3 only, and exactly the one CA: no system trust store. */
        h->ctx = SSL_CTX_new(TLS_client_method());
        if (!h->ctx)
                return -ENOMEM;
        if (SSL_CTX_set_min_proto_version(h->ctx, TLS1_3_VERSION) != 1 ||
            SSL_CTX_set_max_proto_version(h->ctx, TLS1_3_VERSION) != 1 ||
            SSL_CTX_set1_groups_list(h->ctx, PROTO_TLS_GROUPS) != 1 ||
            SSL_CTX_load_verify_locations(h->ctx, cacert, NULL) != 1)
                return -EIO;
        SSL_CTX_set_verify(h->ctx, SSL_VERIFY_PEER, NULL);
        /* No session resumption unless bench_http_set_resume(): each connection a full handshake. */
        SSL_CTX_set_session_cache_mode(h->ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(h->ctx, SSL_OP_NO_TICKET);

        *ret = TAKE_PTR(h);
        return 0;
}

/* OpenSSL hands over each ticket's session as it arrives (after the handshake, before the first reply): the
 * newest one is kept for the next connection. */
static int on_new_session(SSL *ssl, SSL_SESSION *session) {
        BenchHttp *h = SSL_get_app_data(ssl);

        SSL_SESSION_free(h->session);
        h->session = session;
        return 1; /* the reference is ours */
}

void bench_http_set_resume(BenchHttp *h, bool resume) {
        if (resume) {
                SSL_CTX_clear_options(h->ctx, SSL_OP_NO_TICKET);
                /* Sessions only through on_new_session(), none in OpenSSL's internal cache. */
                SSL_CTX_set_session_cache_mode(h->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
                SSL_CTX_sess_set_new_cb(h->ctx, on_new_session);
        } else {
                SSL_CTX_set_session_cache_mode(h->ctx, SSL_SESS_CACHE_OFF);
                SSL_CTX_set_options(h->ctx, SSL_OP_NO_TICKET);
                SSL_CTX_sess_set_new_cb(h->ctx, NULL);
                SSL_SESSION_free(h->session);
                h->session = NULL;
        }
}

void bench_http_set_source(BenchHttp *h, struct in_addr source) {
        h->own.source = source;
}

void bench_http_disconnect(BenchHttp *h) {
        bench_http_connection_close(h->conn);
}

void bench_http_handshakes(const BenchHttp *h, unsigned long long *ret_full, unsigned long long *ret_resumed) {
        *ret_full = h->own.handshakes - h->own.resumed;
        *ret_resumed = h->own.resumed;
}

void bench_http_set_handshake_delay(BenchHttp *h, unsigned msec) {
        h->handshake_delay_msec = msec;
}

void bench_http_use_connection(BenchHttp *h, BenchHttpConnection *c) {
        h->conn = c ?: &h->own;
}

/* Called by OpenSSL for every handshake message. The ServerHello received: the server's flight is on its
 * way, and the server waits for ours from now on, as it would for a round trip. */
static void on_tls_message(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl,
                           void *userdata) {
        const BenchHttp *h = userdata;

        if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
            ((const uint8_t *) buf)[0] == SSL3_MT_SERVER_HELLO)
                (void) usleep((useconds_t) h->handshake_delay_msec * 1000U);
}

/* A source address of its own for the connection: the server counts connections per source address
 * (MaxConnectionsPerSource=), and a fleet's nodes each have theirs. Any 127.0.0.0/8 address is local. */
static int bind_source(BenchHttp *h) {
        static const int one = 1;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = h->conn->source };

        if (h->conn->source.s_addr == htonl(INADDR_ANY) || h->addr.ss_family != AF_INET)
                return 0;
        /* The port at connect(), per destination: not one of the source address's own at bind(). */
        (void) setsockopt(h->conn->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(h->conn->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

static int connect_tls(BenchHttp *h) {
        static const int one = 1;
        BenchHttpConnection *c = h->conn;
        int r;

        c->fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return fail(h, -errno, "socket");
        (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        r = bind_source(h);
        if (r < 0)
                return fail(h, r, "bind to the source address");
        if (connect(c->fd, (struct sockaddr *) &h->addr, h->addr_len) < 0)
                return fail(h, -errno, "connect");

        c->ssl = SSL_new(h->ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
                return fail(h, -ENOMEM, "SSL_new");
        /* A connection held apart idles most of its life: no read and write buffers between its records
         * (10,000 nodes' connections would hold 10,000 of each). */
        if (c != &h->own)
                SSL_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
        /* The server certificate must name the URL's host (as its IP address SAN, or its DNS name). */
        if (h->host_is_ip) {
                if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), h->host) != 1)
                        return fail(h, -EIO, "X509_VERIFY_PARAM_set1_ip_asc");
        } else if (SSL_set_tlsext_host_name(c->ssl, h->host) != 1 || SSL_set1_host(c->ssl, h->host) != 1)
                return fail(h, -EIO, "SSL_set1_host");
        if (h->handshake_delay_msec > 0) {
                SSL_set_msg_callback(c->ssl, on_tls_message);
                SSL_set_msg_callback_arg(c->ssl, h);
        }
        SSL_set_app_data(c->ssl, h);
        /* A ticket is offered once: the server sends new ones in each session, resumed or not. */
        if (h->session) {
                if (SSL_set_session(c->ssl, h->session) != 1)
                        return fail(h, -EIO, "SSL_set_session");
                SSL_SESSION_free(h->session);
                h->session = NULL;
        }
        c->handshakes++;
        if (SSL_connect(c->ssl) != 1)
                return fail(h, -EIO, "TLS handshake");
        if (SSL_session_reused(c->ssl))
                c->resumed++;
        return 0;
}

/* The value of a header line of length len if it is the header name, its leading blanks skipped. */
static const char *header_value(const char *line, size_t len, const char *name) {
        size_t n = strlen(name);

        if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
                return NULL;
        line += n + 1;
        while (*line == ' ' || *line == '\t')
                line++;
        return line;
}

/* Reads until the reply's head and all of its Content-Length body are in h->reply. */
static int read_reply(BenchHttp *h, long *ret_status, size_t *ret_head, size_t *ret_body, bool *ret_close) {
        size_t have = 0, head = 0, body = 0;
        bool close_after = false, got_length = false;
        long status = 0;

        for (;;) {
                int n;

                if (head == 0) {
                        char *end;

                        h->reply[have] = '\0';
                        end = strstr(h->reply, "\r\n\r\n");
                        if (end) {
                                head = (size_t) (end - h->reply) + 4;
                                if (sscanf(h->reply, "HTTP/1.%*[01] %ld", &status) != 1)
                                        return fail(h, -EPROTO, "malformed status line");
                                for (char *l = strstr(h->reply, "\r\n") + 2; l < end; l = strstr(l, "\r\n") + 2) {
                                        size_t len = strcspn(l, "\r");
                                        const char *v;

                                        if ((v = header_value(l, len, "Content-Length"))) {
                                                char *e;
                                                unsigned long cl = strtoul(v, &e, 10);
                                                if (e == v || cl > REPLY_MAX)
                                                        return fail(h, -E2BIG, "reply too large");
                                                body = cl;
                                                got_length = true;
                                        } else if ((v = header_value(l, len, "Connection")) &&
                                                   strncasecmp(v, "close", 5) == 0)
                                                close_after = true;
                                        else if (header_value(l, len, "Transfer-Encoding"))
                                                return fail(h, -EPROTO, "chunked replies are not expected");
                                }
                                if (!got_length)
                                        return fail(h, -EPROTO, "reply without Content-Length");
                                if (head + body > REPLY_MAX)
                                        return fail(h, -E2BIG, "reply too large");
                        }
                }
                if (head > 0 && have >= head + body)
                        break;
                if (have >= REPLY_MAX)
                        return fail(h, -E2BIG, "reply too large");
                n = SSL_read(h->conn->ssl, h->reply + have, (int) (REPLY_MAX - have));
                if (n <= 0)
                        return fail(h, have == 0 ? -ECONNRESET : -EIO, "connection closed before the reply was complete");
                have += (size_t) n;
        }
        if (have != head + body)
                return fail(h, -EPROTO, "more data than the reply");
        h->reply[head + body] = '\0';
        *ret_status = status;
        *ret_head = head;
        *ret_body = body;
        *ret_close = close_after;
        return 0;
}

/* One request: POST with a JSON body, or GET without one (body NULL); with a bearer token unless NULL, a Prefer
 * header unless prefer is NULL. */
static int request(BenchHttp *h, const char *method, const char *path, const char *bearer, const char *prefer,
                   const char *body, long *ret_status, const char **ret_reply, size_t *ret_size) {
        size_t body_size = body ? strlen(body) : 0, bearer_size = bearer ? strlen(bearer) : 0,
               prefer_size = prefer ? strlen(prefer) : 0,
               head_max = HEAD_MAX + strlen(h->base_path) + strlen(path) + bearer_size + prefer_size, head = 0,
               size = 0;
        char content[96] = "";
        bool close_after = false;
        long status = 0;
        int n, r;

        h->error[0] = '\0';
        if (body_size > REPLY_MAX || bearer_size > BEARER_MAX)
                return -E2BIG;
        /* The token goes into a header line: it must not end it. */
        if ((bearer && strcspn(bearer, "\r\n") != bearer_size) || (prefer && strcspn(prefer, "\r\n") != prefer_size))
                return -EINVAL;
        if (body)
                (void) snprintf(content, sizeof(content),
                                "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_size);
        if (head_max + body_size > h->request_allocated) {
                char *p = realloc(h->request, head_max + body_size);
                if (!p)
                        return -ENOMEM;
                h->request = p;
                h->request_allocated = head_max + body_size;
        }
        n = snprintf(h->request, head_max, "%s %s%s HTTP/1.1\r\nHost: %s\r\n%s%s%s%s%s%s%s%s\r\n", method,
                     h->base_path, path, h->host_header, content, bearer ? "Authorization: Bearer " : "",
                     bearer ? bearer : "", bearer ? "\r\n" : "", prefer ? "Prefer: " : "", prefer ? prefer : "",
                     prefer ? "\r\n" : "", h->fresh_connections ? "Connection: close\r\n" : "");
        if (n < 0 || (size_t) n >= head_max)
                return -ENAMETOOLONG;
        if (body_size > 0)
                memcpy(h->request + n, body, body_size);

        /* A kept-alive connection the server closed meanwhile (idle timeout) is opened again, once, if nothing of
         * a reply came back. */
        for (unsigned attempt = 0;; attempt++) {
                bool reused = h->conn->ssl != NULL;

                if (!h->conn->ssl) {
                        r = connect_tls(h);
                        if (r < 0)
                                return -EIO;
                }
                if (SSL_write(h->conn->ssl, h->request, n + (int) body_size) != n + (int) body_size) {
                        (void) fail(h, -EIO, "sending the request");
                        if (reused && attempt == 0)
                                continue;
                        return -EIO;
                }
                r = read_reply(h, &status, &head, &size, &close_after);
                if (r == -ECONNRESET && reused && attempt == 0)
                        continue;
                if (r == -E2BIG)
                        return r;
                if (r < 0)
                        return -EIO;
                break;
        }
        if (close_after || h->fresh_connections)
                disconnect(h);
        *ret_status = status;
        *ret_reply = h->reply + head;
        *ret_size = size;
        return 0;
}

int bench_http_post(BenchHttp *h, const char *path, const char *body, long *ret_status, const char **ret_reply,
                    size_t *ret_size) {
        return request(h, "POST", path, /* bearer= */ NULL, /* prefer= */ NULL, body, ret_status, ret_reply, ret_size);
}

int bench_http_post_prefer(BenchHttp *h, const char *path, const char *prefer, const char *body, long *ret_status,
                           const char **ret_reply, size_t *ret_size) {
        return request(h, "POST", path, /* bearer= */ NULL, prefer, body, ret_status, ret_reply, ret_size);
}

int bench_http_get(BenchHttp *h, const char *path, const char *bearer, long *ret_status,
                   const char **ret_reply, size_t *ret_size) {
        return request(h, "GET", path, bearer, /* prefer= */ NULL, /* body= */ NULL, ret_status, ret_reply, ret_size);
}

const char *bench_http_error(const BenchHttp *h) {
        return h->error;
}
