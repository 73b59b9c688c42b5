/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-http.h"
#include "string-util.h"

#define REPLY_MAX (64U * 1024U)

struct BenchHttp {
        CURL *curl;
        struct curl_slist *headers;
        char *base;
        char url[512];
        char reply[REPLY_MAX + 1];
        size_t size;
        bool overflow;
        char error[CURL_ERROR_SIZE];
};

int bench_url_check_loopback(const char *url) {
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL;
        struct in_addr a4;
        int r = -EADDRNOTAVAIL;

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !streq(scheme, "https"))
                r = -EINVAL;
        else if (streq(host, "localhost") || streq(host, "[::1]") ||
                 (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127))
                r = 0;
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        return r;
}

static size_t on_data(char *p, size_t size, size_t n, void *userdata) {
        BenchHttp *h = userdata;
        size_t len = size * n;

        if (len > REPLY_MAX - h->size) {
                h->overflow = true;
                return 0; /* aborts the transfer */
        }
        memcpy(h->reply + h->size, p, len);
        h->size += len;
        return len;
}

BenchHttp *bench_http_free(BenchHttp *h) {
        if (!h)
                return NULL;
        curl_easy_cleanup(h->curl);
        curl_slist_free_all(h->headers);
        free(h->base);
        free(h);
        return NULL;
}

int bench_http_new(const char *url, const char *cacert, bool fresh_connections, BenchHttp **ret) {
        _cleanup_(bench_http_freep) BenchHttp *h = NULL;
        struct curl_slist *l;
        int r;

        r = bench_url_check_loopback(url);
        if (r < 0)
                return r;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->base = strdup(url);
        h->curl = curl_easy_init();
        if (!h->base || !h->curl)
                return -ENOMEM;
        /* Trailing slashes of the base URL would double with the path's. */
        for (size_t n = strlen(h->base); n > 0 && h->base[n - 1] == '/'; n--)
                h->base[n - 1] = '\0';

        l = curl_slist_append(NULL, "Content-Type: application/json");
        if (!l)
                return -ENOMEM;
        h->headers = l;
        /* No "Expect: 100-continue" round trip for the small bodies. */
        l = curl_slist_append(h->headers, "Expect:");
        if (!l)
                return -ENOMEM;
        h->headers = l;

        if (curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_3) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_CAINFO, cacert) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_CAPATH, NULL) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_NOPROXY, "*") != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, 30L) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->error) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h) != CURLE_OK)
                return -EIO;
        /* A real node opens a connection per authentication; the default measures the server's work per
         * authentication with the TLS handshake amortised over a kept-alive connection. */
        if (fresh_connections && (curl_easy_setopt(h->curl, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK ||
                                  curl_easy_setopt(h->curl, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK))
                return -EIO;

        *ret = TAKE_PTR(h);
        return 0;
}

int bench_http_post(BenchHttp *h, const char *path, const char *body, long *ret_status, const char **ret_reply,
                    size_t *ret_size) {
        CURLcode c;
        long status = 0;

        if ((size_t) snprintf(h->url, sizeof(h->url), "%s%s", h->base, path) >= sizeof(h->url))
                return -ENAMETOOLONG;
        h->size = 0;
        h->overflow = false;
        h->error[0] = '\0';
        if (curl_easy_setopt(h->curl, CURLOPT_URL, h->url) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
            curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body)) != CURLE_OK)
                return -EIO;
        c = curl_easy_perform(h->curl);
        if (h->overflow)
                return -E2BIG;
        if (c != CURLE_OK) {
                if (h->error[0] == '\0')
                        snprintf(h->error, sizeof(h->error), "%s", curl_easy_strerror(c));
                return -EIO;
        }
        (void) curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
        h->reply[h->size] = '\0';
        *ret_status = status;
        *ret_reply = h->reply;
        *ret_size = h->size;
        return 0;
}

const char *bench_http_error(const BenchHttp *h) {
        return h->error;
}
