/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* One HTTPS client of the benchmark: HTTP/1.1 over one OpenSSL TLS 1.3 connection, kept alive between
 * requests (unless fresh_connections: then a new connection and a full handshake, no session resumption, per
 * request), trusting exactly one CA file and checking the server certificate against the URL's host. Each
 * worker thread owns one; none is shared. Only loopback URLs are accepted: the load generator never talks
 * to another host. */
typedef struct BenchHttp BenchHttp;

int bench_http_new(const char *url, const char *cacert, bool fresh_connections, BenchHttp **ret);
BenchHttp *bench_http_free(BenchHttp *h);

/* In each TLS handshake from now on, wait msec after the server's ServerHello before answering: the server
 * then waits for the client's second flight as long as it would over a network with that round-trip time. */
void bench_http_set_handshake_delay(BenchHttp *h, unsigned msec);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenchHttp *, bench_http_free);

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
