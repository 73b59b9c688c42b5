/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "alloc-util.h"
#include "configd-http.h"
#include "protocol.h"

struct HttpClient {
        sd_event *event;
        CURLM *multi;
        /* The TLS sessions (the server's session tickets) of every request's handle: a new connection resumes
         * the last one (TLS 1.3 psk_dhe_ke) instead of a full handshake. In memory only, gone with the client.
         * libcurl 8.12 and later keep one cache per multi handle anyway (measured with 8.14: the same without
         * the share); the share makes it so with any libcurl we build against. */
        CURLSH *share;
        sd_event_source *timer;
        char *base_url;
        char *ca_file;
        uint64_t connect_timeout_usec;
        uint64_t timeout_usec;
        size_t body_max;
        bool loopback;
        /* Requests attached to the multi handle, so that freeing the client can cancel them. */
        HttpRequest **requests;
        size_t n_requests;
};

struct HttpRequest {
        HttpClient *client;
        CURL *easy;
        struct curl_slist *headers;
        char *url;
        char *send;
        size_t send_size;
        char *body;
        size_t size;
        size_t allocated;
        bool too_large;
        HttpCallback callback;
        void *userdata;
        char error_buffer[CURL_ERROR_SIZE];
};

static void wipe_headers(struct curl_slist *l) {
        for (; l; l = l->next)
                explicit_bzero(l->data, strlen(l->data));
}

static void client_forget(HttpClient *c, HttpRequest *r) {
        for (size_t i = 0; i < c->n_requests; i++)
                if (c->requests[i] == r) {
                        c->requests[i] = c->requests[--c->n_requests];
                        return;
                }
}

HttpRequest *http_request_free(HttpRequest *r) {
        if (!r)
                return NULL;
        if (r->client) {
                client_forget(r->client, r);
                if (r->easy)
                        (void) curl_multi_remove_handle(r->client->multi, r->easy);
        }
        if (r->easy)
                curl_easy_cleanup(r->easy);
        wipe_headers(r->headers);
        curl_slist_free_all(r->headers);
        free(r->url);
        erase_and_free_sized(r->send, r->send_size);
        erase_and_free_sized(r->body, r->allocated);
        free(r);
        return NULL;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        HttpRequest *r = userdata;
        size_t n = size * nmemb, want;
        char *p;

        if (n > r->client->body_max - r->size) {
                r->too_large = true;
                return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        if (r->size + n + 1 > r->allocated) {
                want = MAX(r->allocated * 2, r->size + n + 1);
                want = MIN(want, r->client->body_max + 1);
                /* Not realloc(): the old buffer may hold a token and is wiped before it is freed. */
                p = malloc(want);
                if (!p)
                        return 0;
                if (r->body)
                        memcpy(p, r->body, r->size);
                erase_and_free_sized(r->body, r->allocated);
                r->body = p;
                r->allocated = want;
        }
        memcpy(r->body + r->size, ptr, n);
        r->size += n;
        r->body[r->size] = '\0';
        return n;
}

static int classify(CURLcode code, bool too_large) {
        switch (code) {
        case CURLE_OK:
                return 0;
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
                return too_large || code == CURLE_FILESIZE_EXCEEDED ? -E2BIG : -EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_USE_SSL_FAILED:
                return -EPROTO;
        default:
                return -EHOSTUNREACH;
        }
}

static void process_done(HttpClient *c) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(c->multi, &left))) {
                HttpResponse response = {};
                HttpRequest *r = NULL;
                CURLcode code;
                CURL *easy;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                /* msg is invalid once the handle is removed: copy first. */
                easy = msg->easy_handle;
                code = msg->data.result;
                if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &r) != CURLE_OK || !r)
                        continue;
                (void) curl_multi_remove_handle(c->multi, easy);
                /* Its sessions are in the share: the handle lets go of it, so that the client can be freed
                 * before its requests. */
                (void) curl_easy_setopt(easy, CURLOPT_SHARE, (CURLSH *) NULL);
                client_forget(c, r);
                r->client = NULL;

                {
                        curl_off_t t = 0;
                        if (curl_easy_getinfo(easy, CURLINFO_APPCONNECT_TIME_T, &t) == CURLE_OK)
                                response.connect_usec = (uint64_t) t;
                        if (curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &t) == CURLE_OK)
                                response.total_usec = (uint64_t) t;
                }
                response.error = classify(code, r->too_large);
                if (response.error == -E2BIG)
                        snprintf(response.message, sizeof(response.message), "response larger than %zu bytes",
                                 c->body_max);
                else if (response.error < 0)
                        snprintf(response.message, sizeof(response.message), "%s%s%s", curl_easy_strerror(code),
                                 r->error_buffer[0] ? ": " : "", r->error_buffer);
                else {
                        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
                        response.body = r->body ?: "";
                        response.size = r->size;
                }
                r->callback(r, &response, r->userdata);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HttpClient *c = userdata;
        int action = 0, running;

        if (revents & (EPOLLIN | EPOLLHUP))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        (void) curl_multi_socket_action(c->multi, fd, action, &running);
        process_done(c);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpClient *c = userdata;
        int running;

        (void) curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        process_done(c);
        return 0;
}

/* libcurl asks to watch a socket; called from inside libcurl, so nothing here calls back into it except
 * curl_multi_assign(). */
static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        HttpClient *c = userp;
        sd_event_source *s = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                if (s) {
                        sd_event_source_disable_unref(s);
                        (void) curl_multi_assign(c->multi, fd, NULL);
                }
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;
        if (s) {
                if (sd_event_source_set_io_events(s, events) < 0 || sd_event_source_set_enabled(s, SD_EVENT_ON) < 0)
                        return -1;
                return 0;
        }
        r = sd_event_add_io(c->event, &s, fd, events, on_io, c);
        if (r < 0)
                return -1;
        (void) sd_event_source_set_description(s, "curl-io");
        if (curl_multi_assign(c->multi, fd, s) != CURLM_OK) {
                sd_event_source_disable_unref(s);
                return -1;
        }
        return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        HttpClient *c = userp;
        uint64_t usec;

        if (timeout_ms < 0)
                return c->timer ? (sd_event_source_set_enabled(c->timer, SD_EVENT_OFF) < 0 ? -1 : 0) : 0;
        usec = (uint64_t) timeout_ms * 1000;
        if (!c->timer) {
                /* Accuracy 1 µs: sd-event's default (0) coalesces timers by up to 250 ms, which libcurl's
                 * "call me now" would pay at every step of every request. */
                if (sd_event_add_time_relative(c->event, &c->timer, CLOCK_MONOTONIC, usec, 1, on_timer, c) < 0)
                        return -1;
                (void) sd_event_source_set_description(c->timer, "curl-timer");
                return 0;
        }
        if (sd_event_source_set_time_relative(c->timer, usec) < 0 ||
            sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT) < 0)
                return -1;
        return 0;
}

int http_client_new(sd_event *event, const HttpOptions *o, HttpClient **ret) {
        _cleanup_(http_client_freep) HttpClient *c = NULL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->loopback = o->loopback;
        /* Loopback only: nothing but http://127.0.0.1, whatever the caller passed. */
        c->base_url = strdup(o->loopback ? "http://127.0.0.1" : o->base_url);
        c->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
        if (!c->base_url || (o->ca_file && !c->ca_file))
                return -ENOMEM;
        c->connect_timeout_usec = o->connect_timeout_usec;
        c->timeout_usec = o->timeout_usec;
        c->body_max = o->body_max;

        c->multi = curl_multi_init();
        if (!c->multi)
                return -ENOMEM;
        if (!c->loopback) {
                /* One thread (the event loop): no lock functions. */
                c->share = curl_share_init();
                if (!c->share)
                        return -ENOMEM;
                if (curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
                        return -EIO;
        }
        if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK)
                return -EIO;
        *ret = TAKE_PTR(c);
        return 0;
}

HttpClient *http_client_free(HttpClient *c) {
        if (!c)
                return NULL;
        while (c->n_requests > 0) {
                /* Detach the request; its owner frees it later (without the client). */
                HttpRequest *r = c->requests[--c->n_requests];
                (void) curl_multi_remove_handle(c->multi, r->easy);
                (void) curl_easy_setopt(r->easy, CURLOPT_SHARE, (CURLSH *) NULL);
                r->client = NULL;
        }
        free(c->requests);
        if (c->multi)
                curl_multi_cleanup(c->multi);
        if (c->share)
                (void) curl_share_cleanup(c->share);
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->event);
        free(c->base_url);
        free(c->ca_file);
        free(c);
        return NULL;
}

static int append_header(struct curl_slist **l, const char *header) {
        struct curl_slist *n = curl_slist_append(*l, header);
        if (!n)
                return -ENOMEM;
        *l = n;
        return 0;
}

#define HTTP_CONNECTION_REUSE_MAX_SEC 60L

#define SETOPT(easy, opt, value)                                         \
        do {                                                             \
                if (curl_easy_setopt((easy), (opt), (value)) != CURLE_OK) \
                        return -EIO;                                     \
        } while (0)

int http_request_start(HttpClient *c, const char *path, const char *body, const char *bearer, HttpCallback callback,
                       void *userdata, HttpRequest **ret) {
        return http_request_start_full(c, path, body, bearer, &(HttpRequestOptions) {}, callback, userdata, ret);
}

int http_request_start_full(HttpClient *c, const char *path, const char *body, const char *bearer,
                            const HttpRequestOptions *o, HttpCallback callback, void *userdata, HttpRequest **ret) {
        _cleanup_(http_request_freep) HttpRequest *r = NULL;
        HttpRequest **list;
        int k;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->callback = callback;
        r->userdata = userdata;
        if (asprintf(&r->url, "%s%s", c->base_url, path) < 0) {
                r->url = NULL;
                return -ENOMEM;
        }
        r->easy = curl_easy_init();
        if (!r->easy)
                return -ENOMEM;

        SETOPT(r->easy, CURLOPT_URL, r->url);
        SETOPT(r->easy, CURLOPT_PRIVATE, (char *) r);
        SETOPT(r->easy, CURLOPT_ERRORBUFFER, r->error_buffer);
        SETOPT(r->easy, CURLOPT_NOSIGNAL, 1L);
        SETOPT(r->easy, CURLOPT_PROTOCOLS_STR, c->loopback ? "http" : "https");
        SETOPT(r->easy, CURLOPT_REDIR_PROTOCOLS_STR, "https");
        SETOPT(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
        if (!c->loopback) {
                /* The pinned CA is the only trust anchor: no CA directory, no built-in bundle, no proxy. */
                SETOPT(r->easy, CURLOPT_SSLVERSION, (long) (CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_DEFAULT));
                SETOPT(r->easy, CURLOPT_SSL_EC_CURVES, PROTO_TLS_GROUPS);
                SETOPT(r->easy, CURLOPT_CAINFO, c->ca_file);
                SETOPT(r->easy, CURLOPT_CAPATH, (char *) NULL);
                SETOPT(r->easy, CURLOPT_SSL_VERIFYPEER, 1L);
                SETOPT(r->easy, CURLOPT_SSL_VERIFYHOST, 2L);
                SETOPT(r->easy, CURLOPT_SHARE, c->share);
        }
        SETOPT(r->easy, CURLOPT_PROXY, "");
        SETOPT(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) MAX(c->connect_timeout_usec / 1000, (uint64_t) 1));
        SETOPT(r->easy, CURLOPT_TIMEOUT_MS,
               (long) MAX(MIN(o->timeout_usec > 0 ? o->timeout_usec : UINT64_MAX, c->timeout_usec) / 1000, (uint64_t) 1));
        if (o->fresh_connection)
                SETOPT(r->easy, CURLOPT_FRESH_CONNECT, 1L);
        SETOPT(r->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) c->body_max);
        /* A connection idle for longer is not reused: below patela-server's IdleTimeout= (90 s), so that the
         * session check every 30 s rides the connection of the last one (a fresh TLS handshake costs the
         * server ~15 times a check) without meeting a connection the server has just closed. A close that has
         * not reached the node (a NAT, qemu's forwarding) can still leave a reused connection dead: the
         * check has a short timeout and is retried once on a fresh connection (configd-check.c). */
        SETOPT(r->easy, CURLOPT_MAXAGE_CONN, HTTP_CONNECTION_REUSE_MAX_SEC);
        SETOPT(r->easy, CURLOPT_WRITEFUNCTION, on_write);
        SETOPT(r->easy, CURLOPT_WRITEDATA, r);
        SETOPT(r->easy, CURLOPT_USERAGENT, "patela-configd/" PROJECT_VERSION);

        k = append_header(&r->headers, "Accept: application/json");
        if (k < 0)
                return k;
        if (bearer) {
                _cleanup_free_ char *h = NULL;
                if (asprintf(&h, "Authorization: Bearer %s", bearer) < 0)
                        return -ENOMEM;
                k = append_header(&r->headers, h);
                explicit_bzero(h, strlen(h));
                if (k < 0)
                        return k;
        }
        if (o->prefer) {
                _cleanup_free_ char *h = NULL;
                if (asprintf(&h, "Prefer: %s", o->prefer) < 0)
                        return -ENOMEM;
                k = append_header(&r->headers, h);
                if (k < 0)
                        return k;
        }
        if (body) {
                r->send_size = strlen(body);
                r->send = memdup(body, r->send_size + 1);
                if (!r->send)
                        return -ENOMEM;
                k = append_header(&r->headers, "Content-Type: application/json");
                if (k >= 0)
                        k = append_header(&r->headers, "Expect:"); /* no 100-continue round trip */
                if (k < 0)
                        return k;
                SETOPT(r->easy, CURLOPT_POST, 1L);
                SETOPT(r->easy, CURLOPT_POSTFIELDS, r->send);
                SETOPT(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) r->send_size);
        }
        SETOPT(r->easy, CURLOPT_HTTPHEADER, r->headers);

        list = realloc(c->requests, (c->n_requests + 1) * sizeof(*list));
        if (!list)
                return -ENOMEM;
        c->requests = list;
        if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK)
                return -EIO;
        r->client = c;
        c->requests[c->n_requests++] = r;
        *ret = TAKE_PTR(r);
        return 0;
}
