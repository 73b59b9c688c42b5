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
        unsigned handshakes;    /* full TLS handshakes made on it */
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

/* From now on h's requests go over c instead of h's own connection (NULL: h's own again). c stays the
 * caller's: bench_http_free() does not close it. One client at a time per connection. */
void bench_http_use_connection(BenchHttp *h, BenchHttpConnection *c);

/* POSTs a JSON body to url + path. On success (any HTTP status) returns 0 with the status and the reply,
 * which belongs to h and is valid until the next request (NUL-terminated, at most 64 KiB). -EIO with the
 * transport error in bench_http_error() if no reply came, -E2BIG if the reply is too large. */
int bench_http_post(BenchHttp *h, const char *path, const char *body, long *ret_status, const char **ret_reply,
                    size_t *ret_size);
/* GETs url + path, with "Authorization: Bearer TOKEN" unless bearer is NULL (at most 128 characters, no line
 * breaks: -E2BIG, -EINVAL). The reply as with bench_http_post(). */
int bench_http_get(BenchHttp *h, const char *path, const char *bearer, long *ret_status,
                   const char **ret_reply, size_t *ret_size);
const char *bench_http_error(const BenchHttp *h);

/* 0 if url is https:// on 127.0.0.0/8, [::1] or localhost; -EADDRNOTAVAIL for any other host. */
int bench_url_check_loopback(const char *url);
