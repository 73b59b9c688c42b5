/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* One HTTPS client of the benchmark: HTTP/1.1 over one OpenSSL TLS 1.3 connection, kept alive between
 * requests (unless fresh_connections: then a new connection and a full handshake, no session resumption, per
 * request), trusting exactly one CA file and checking the server certificate against the URL's host. Each
 * worker thread owns one; none is shared. Only loopback URLs are accepted: the load generator never talks
 * to another host. */
typedef struct BenchHttp BenchHttp;

/* A kept-alive connection apart from any client, as a node holds its own between two checks: many of them
 * (one per emulated node) carried by few clients, each request over one client's buffers and TLS context.
 * Initialize with BENCH_HTTP_CONNECTION_INIT; its first request connects, as does the next after the server
 * closed it. */
typedef struct BenchHttpConnection {
        struct ssl_st *ssl;     /* OpenSSL's SSL; NULL while none is open */
        int fd;
        struct in_addr source;  /* bound before connecting to an IPv4 URL; INADDR_ANY: the kernel's choice */
        unsigned handshakes;    /* TLS handshakes made on it */
        unsigned resumed;       /* of them resumed from a session ticket (bench_http_set_resume()) */
} BenchHttpConnection;

#define BENCH_HTTP_CONNECTION_INIT ((BenchHttpConnection) { .fd = -EBADF })

/* Closes it if open (close_notify, no waiting); the struct stays usable. */
void bench_http_connection_close(BenchHttpConnection *c);

int bench_http_new(const char *url, const char *cacert, bool fresh_connections, BenchHttp **ret);
BenchHttp *bench_http_free(BenchHttp *h);

/* In each TLS handshake from now on, wait msec after the server's ServerHello before answering: the server
 * then waits for the client's second flight as long as it would over a network with that round-trip time. */
void bench_http_set_handshake_delay(BenchHttp *h, unsigned msec);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenchHttp *, bench_http_free);

/* With resume, each new connection offers the session of the newest ticket the server sent (the previous
 * connection's), as libcurl does: the server resumes it (psk_dhe_ke) instead of a full handshake. Off by default. */
void bench_http_set_resume(BenchHttp *h, bool resume);
/* The source address of h's own connections from its next one on (INADDR_ANY: the kernel's choice). */
void bench_http_set_source(BenchHttp *h, struct in_addr source);
/* Closes h's current connection (close_notify, no waiting): the next request opens a new one. */
void bench_http_disconnect(BenchHttp *h);
/* Handshakes made on h's own connection so far: full and resumed. */
void bench_http_handshakes(const BenchHttp *h, unsigned long long *ret_full, unsigned long long *ret_resumed);

/* From now on h's requests go over c instead of h's own connection (NULL: h's own again). c stays the
 * caller's: bench_http_free() does not close it. One client at a time per connection. */
void bench_http_use_connection(BenchHttp *h, BenchHttpConnection *c);

/* POSTs a JSON body to url + path. On success (any HTTP status) returns 0 with the status and the reply,
 * which belongs to h and is valid until the next request (NUL-terminated, at most 64 KiB). -EIO with the
 * transport error in bench_http_error() if no reply came, -E2BIG if the reply is too large. */
int bench_http_post(BenchHttp *h, const char *path, const char *body, long *ret_status, const char **ret_reply,
                    size_t *ret_size);
/* The same with a "Prefer: PREFER" header (RFC 7240; no line breaks: -EINVAL). */
int bench_http_post_prefer(BenchHttp *h, const char *path, const char *prefer, const char *body, long *ret_status,
                           const char **ret_reply, size_t *ret_size);
/* GETs url + path, with "Authorization: Bearer TOKEN" unless bearer is NULL (at most 128 characters, no line
 * breaks: -E2BIG, -EINVAL). The reply as with bench_http_post(). */
int bench_http_get(BenchHttp *h, const char *path, const char *bearer, long *ret_status,
                   const char **ret_reply, size_t *ret_size);
const char *bench_http_error(const BenchHttp *h);

/* 0 if url is https:// on 127.0.0.0/8, [::1] or localhost; -EADDRNOTAVAIL for any other host. */
int bench_url_check_loopback(const char *url);
