/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* An HTTPS client for patela-server: libcurl's multi interface driven by sd-event, so that no request
 * blocks the daemon. Every request is TLS 1.3 only, trusts only the pinned CA file (no system CAs), uses
 * no proxy, follows no redirect, and is bounded by the connect and total timeouts; a response body larger
 * than body_max aborts the transfer before it is parsed. Request and response bodies and the
 * Authorization header are wiped when the request is freed. Kept-alive connections are reused (for up to 60 s
 * idle), and a new connection resumes the TLS session of the server's last ticket (a CURLSH for all the
 * client's requests, in memory only): a node's re-attestation after its connection closed costs the server a
 * resumed handshake, not a full one. */

typedef struct HttpClient HttpClient;
typedef struct HttpRequest HttpRequest;

typedef struct HttpOptions {
        const char *base_url; /* https://HOST[:PORT][/PREFIX]; paths are appended */
        const char *ca_file;
        uint64_t connect_timeout_usec;
        uint64_t timeout_usec;
        size_t body_max;
        /* Plain HTTP to a loopback address instead (a relay's MetricsPort): base_url http://127.0.0.1, no TLS,
         * ca_file unused. */
        bool loopback;
} HttpOptions;

typedef struct HttpResponse {
        /* 0 if an HTTP response arrived (of any status); otherwise -ECONNREFUSED, -ETIMEDOUT, -EPROTO (TLS),
         * -E2BIG (body too large), -EHOSTUNREACH (anything else), with the reason in message. */
        int error;
        char message[320];
        long status;
        const char *body; /* NUL-terminated for convenience; size excludes the NUL */
        size_t size;
        uint64_t connect_usec; /* until TCP and TLS were up; 0 if a kept-alive connection was reused */
        uint64_t total_usec;
} HttpResponse;

/* Called once per request, when it completes or fails. The request may be freed from the callback. */
typedef void (*HttpCallback)(HttpRequest *request, const HttpResponse *response, void *userdata);

int http_client_new(sd_event *event, const HttpOptions *options, HttpClient **ret);
/* Cancels what is still running, without callbacks. */
HttpClient *http_client_free(HttpClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpClient *, http_client_free);

/* Starts "GET path" (body NULL) or "POST path" with a JSON body (copied). bearer, if not NULL, goes into
 * an Authorization header. */
int http_request_start(HttpClient *c, const char *path, const char *body, const char *bearer, HttpCallback callback,
                       void *userdata, HttpRequest **ret);
/* The same with per-request options. */
typedef struct HttpRequestOptions {
        uint64_t timeout_usec; /* shorter than the client's Timeout= (0: the client's) */
        bool fresh_connection; /* a new connection, not one kept alive */
        const char *prefer;    /* a Prefer header's value (RFC 7240), or NULL */
} HttpRequestOptions;
int http_request_start_full(HttpClient *c, const char *path, const char *body, const char *bearer,
                            const HttpRequestOptions *options, HttpCallback callback, void *userdata, HttpRequest **ret);
/* Cancels the request if it is still running; no callback. Accepts NULL, returns NULL. */
HttpRequest *http_request_free(HttpRequest *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpRequest *, http_request_free);
