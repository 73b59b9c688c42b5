/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "alloc-util.h"
#include "server-tls.h"

/* GnuTLS's master ticket key size (gnutls_session_ticket_key_generate() makes this many bytes). */
#define TICKET_KEY_SIZE 64U

struct TlsTickets {
        pthread_mutex_t lock;
        SecretBuffer *key; /* excluded from core dumps, locked, wiped when replaced */
        uint64_t born_usec; /* CLOCK_MONOTONIC */
        uint64_t rotation_usec;
        unsigned lifetime_sec;
};

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* A new random key in place of the current one (under t->lock or before any thread uses t). */
static int key_replace(TlsTickets *t) {
        _cleanup_(secret_buffer_freep) SecretBuffer *k = NULL;
        int r;

        r = secret_buffer_new(TICKET_KEY_SIZE, &k);
        if (r < 0)
                return r;
        if (gnutls_rnd(GNUTLS_RND_KEY, k->data, k->size) < 0)
                return -EIO;
        secret_buffer_free(t->key);
        t->key = TAKE_PTR(k);
        t->born_usec = monotonic_usec();
        return 0;
}

int tls_tickets_new(uint64_t lifetime_usec, TlsTickets **ret) {
        _cleanup_(tls_tickets_freep) TlsTickets *t = NULL;
        int r;

        assert(lifetime_usec >= 1000000ULL && lifetime_usec <= SERVER_TLS_TICKET_LIFETIME_MAX_USEC);
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        pthread_mutex_init(&t->lock, NULL);
        t->lifetime_sec = (unsigned) (lifetime_usec / 1000000ULL);
        t->rotation_usec = MAX(TLS_TICKET_KEY_ROTATION_USEC, 2 * lifetime_usec);
        r = key_replace(t);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

TlsTickets *tls_tickets_free(TlsTickets *t) {
        if (!t)
                return NULL;
        secret_buffer_free(t->key);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
}

int tls_tickets_enable(TlsTickets *t, gnutls_session_t session) {
        int r = 0;

        pthread_mutex_lock(&t->lock);
        /* Replaced by the first connection after it is due; should that fail (no memory), the old key serves on. */
        if (monotonic_usec() - t->born_usec >= t->rotation_usec)
                (void) key_replace(t);
        /* GnuTLS copies the key into the session (and wipes it with the session). */
        if (gnutls_session_ticket_enable_server(session,
                                                &(gnutls_datum_t) { .data = t->key->data,
                                                                    .size = (unsigned) t->key->size }) < 0)
                r = -EIO;
        pthread_mutex_unlock(&t->lock);
        if (r < 0)
                return r;
        /* The tickets' lifetime (RFC 8446 ticket_lifetime), and the limit GnuTLS checks on the way back; a ticket
         * from a resumed session keeps its first session's limit, so a client makes a full handshake at least
         * once a lifetime. */
        gnutls_db_set_cache_expiration(session, (int) t->lifetime_sec);
        return 0;
}
