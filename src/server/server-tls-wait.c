/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "server-db.h"
#include "server-tls-wait.h"

/* How often the thread looks for handshakes past their time: the timeout's resolution. */
#define SCAN_MSEC 500
#define EVENTS_MAX 64
/* The descriptor table's size when RLIMIT_NOFILE's hard limit is unlimited or larger. */
#define FDS_MAX (1U << 20)

struct TlsWaits {
        pthread_mutex_t lock;
        int epoll_fd;
        int stop_fd; /* eventfd: tells the thread to end */
        pthread_t thread;
        bool running;
        bool stopping;   /* under lock: no more suspensions */
        TlsWait *parked; /* under lock: suspended connections, each watched by epoll_fd */
};

struct TlsWait {
        TlsWaits *waits;
        struct MHD_Connection *connection;
        int fd;
        uint64_t deadline_usec; /* CLOCK_MONOTONIC */
        const TlsWaitHooks *hooks;
        void *userdata;
        bool handshake_done; /* the connection's thread only */
        bool timed_out;      /* the connection's thread only */
        atomic_bool expired; /* set before the thread resumes it, read by the connection's thread after */
        bool parked;         /* under waits->lock, with prev and next */
        TlsWait *prev, *next;
};

/* The pull function and the handshake hook get a descriptor or a session, not the connection: the connection of
 * each descriptor, for the whole process (descriptors are the process's). Sized once to what the process may open;
 * calloc() maps it untouched, so only the pages of descriptors in use are ever resident. */
static _Atomic(TlsWait *) *by_fd;
static size_t n_by_fd;
static pthread_once_t by_fd_once = PTHREAD_ONCE_INIT;

static void by_fd_init(void) {
        struct rlimit rl;
        size_t n = FDS_MAX;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < FDS_MAX)
                n = (size_t) rl.rlim_max;
        by_fd = calloc(n, sizeof(*by_fd));
        if (by_fd)
                n_by_fd = n;
}

static TlsWait *lookup(int fd) {
        if (fd < 0 || (size_t) fd >= n_by_fd)
                return NULL;
        return atomic_load_explicit(&by_fd[fd], memory_order_acquire);
}

static void unlink_parked(TlsWaits *w, TlsWait *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                w->parked = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        c->parked = false;
        /* Before its connection can close the descriptor and another take its number. */
        (void) epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
}

/* From the pull function, in the connection's thread: the handshake waits for the peer. errno is kept (EAGAIN). */
static void park(TlsWait *c) {
        TlsWaits *w = c->waits;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
        int saved = errno;

        pthread_mutex_lock(&w->lock);
        if (!w->stopping && !c->parked) {
                MHD_suspend_connection(c->connection);
                if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
                        /* Not watched: back into libmicrohttpd's loop at once (as without us). */
                        log_debug_errno(errno, "Failed to watch a TLS handshake's socket: %m");
                        MHD_resume_connection(c->connection);
                } else {
                        c->next = w->parked;
                        if (c->next)
                                c->next->prev = c;
                        c->prev = NULL;
                        w->parked = c;
                        c->parked = true;
                }
        }
        pthread_mutex_unlock(&w->lock);
        errno = saved;
}

/* GnuTLS's own pull function is recv(fd, data, size, 0) too. */
static ssize_t pull(gnutls_transport_ptr_t p, void *data, size_t size) {
        int fd = (int) (intptr_t) p;
        ssize_t n = recv(fd, data, size, 0);
        TlsWait *c;

        if (n >= 0 || errno != EAGAIN)
                return n;
        c = lookup(fd);
        if (!c || c->handshake_done)
                return n; /* libmicrohttpd's reads after the handshake: it handles EAGAIN itself */
        if (c->timed_out || atomic_load_explicit(&c->expired, memory_order_acquire)) {
                if (!c->timed_out && c->hooks && c->hooks->timeout)
                        c->hooks->timeout(c->userdata);
                c->timed_out = true;
                errno = ETIMEDOUT; /* GNUTLS_E_PULL_ERROR: the handshake fails, libmicrohttpd closes */
                return -1;
        }
        park(c);
        return n;
}

/* GnuTLS calls it only with timeouts, which non-blocking sessions (libmicrohttpd's) never have; it wants one set
 * with its pull function all the same. */
static int pull_timeout(gnutls_transport_ptr_t p, unsigned ms) {
        struct pollfd pfd = { .fd = (int) (intptr_t) p, .events = POLLIN };
        int r;

        do
                r = poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int) MIN(ms, (unsigned) INT32_MAX));
        while (r < 0 && errno == EINTR);
        return r;
}

static int on_finished(gnutls_session_t session, unsigned type, unsigned when, unsigned incoming,
                       const gnutls_datum_t *msg) {
        TlsWait *c;

        (void) type, (void) when, (void) msg;
        if (!incoming)
                return 0;
        c = lookup(gnutls_transport_get_int(session));
        if (!c)
                return 0;
        c->handshake_done = true;
        if (c->hooks && c->hooks->handshake)
                c->hooks->handshake(c->userdata, gnutls_session_is_resumed(session) != 0);
        return 0;
}

/* In the thread, or after it ended: the connections taken off the list are resumed outside the lock (each may be
 * closed and freed by its own thread from then on). */
static void resume_list(TlsWait *list) {
        while (list) {
                TlsWait *next = list->next;
                struct MHD_Connection *connection = list->connection;

                list->next = NULL;
                MHD_resume_connection(connection);
                list = next;
        }
}

static void *watch_thread(void *p) {
        TlsWaits *w = p;
        struct epoll_event events[EVENTS_MAX];
        uint64_t next_scan = now_monotonic_usec() + SCAN_MSEC * 1000ULL;

        for (;;) {
                TlsWait *ready = NULL;
                uint64_t now;
                int n;

                n = epoll_wait(w->epoll_fd, events, EVENTS_MAX, SCAN_MSEC);
                if (n < 0) {
                        if (errno != EINTR) {
                                log_error_errno(errno, "TLS handshake watcher: epoll_wait() failed: %m");
                                usleep(SCAN_MSEC * 1000); /* the descriptors stay valid: try again */
                        }
                        n = 0;
                }
                now = now_monotonic_usec();
                pthread_mutex_lock(&w->lock);
                for (int i = 0; i < n; i++) {
                        TlsWait *c = events[i].data.ptr;

                        if (!c) {
                                pthread_mutex_unlock(&w->lock);
                                return NULL; /* stop_fd */
                        }
                        if (!c->parked)
                                continue;
                        unlink_parked(w, c);
                        c->next = ready;
                        ready = c;
                }
                if (now >= next_scan) {
                        next_scan = now + SCAN_MSEC * 1000ULL;
                        for (TlsWait *c = w->parked, *next; c; c = next) {
                                next = c->next;
                                if (now < c->deadline_usec)
                                        continue;
                                unlink_parked(w, c);
                                atomic_store_explicit(&c->expired, true, memory_order_release);
                                c->next = ready;
                                ready = c;
                        }
                }
                pthread_mutex_unlock(&w->lock);
                resume_list(ready);
        }
}

int tls_waits_new(TlsWaits **ret) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        TlsWaits *w;
        int r;

        (void) pthread_once(&by_fd_once, by_fd_init);
        if (!by_fd)
                return -ENOMEM;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        w->stop_fd = -EBADF;
        w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epoll_fd < 0) {
                r = -errno;
                goto fail;
        }
        w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->stop_fd < 0 || epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->stop_fd, &ev) < 0) {
                r = -errno;
                goto fail;
        }
        r = -pthread_create(&w->thread, NULL, watch_thread, w);
        if (r < 0)
                goto fail;
        w->running = true;
        *ret = w;
        return 0;
fail:
        safe_close(w->stop_fd);
        safe_close(w->epoll_fd);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return r;
}

void tls_waits_stop(TlsWaits *w) {
        TlsWait *list = NULL;

        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_mutex_unlock(&w->lock);
        /* The thread ends first: it must not hold a connection that is resumed (and freed) meanwhile. */
        if (w->running) {
                (void) eventfd_write(w->stop_fd, 1);
                pthread_join(w->thread, NULL);
                w->running = false;
        }
        pthread_mutex_lock(&w->lock);
        while (w->parked) {
                TlsWait *c = w->parked;

                unlink_parked(w, c);
                c->next = list;
                list = c;
        }
        pthread_mutex_unlock(&w->lock);
        resume_list(list);
}

TlsWaits *tls_waits_free(TlsWaits *w) {
        if (!w)
                return NULL;
        tls_waits_stop(w);
        safe_close(w->stop_fd);
        safe_close(w->epoll_fd);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

int tls_wait_attach(TlsWaits *w, struct MHD_Connection *connection, uint64_t timeout_usec, const TlsWaitHooks *hooks,
                    void *userdata, TlsWait **ret) {
        const union MHD_ConnectionInfo *ci;
        gnutls_session_t session;
        TlsWait *c, *expected = NULL;
        int fd;

        ci = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        session = ci ? ci->tls_session : NULL;
        ci = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        fd = ci ? ci->connect_fd : -EBADF;
        if (!session || fd < 0 || (size_t) fd >= n_by_fd || gnutls_transport_get_int(session) != fd)
                return -EBADF;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (TlsWait) {
                .waits = w,
                .connection = connection,
                .fd = fd,
                .deadline_usec = now_monotonic_usec() + timeout_usec,
                .hooks = hooks,
                .userdata = userdata,
        };
        /* A descriptor's entry is cleared when its connection ends, before the descriptor is closed. */
        if (!atomic_compare_exchange_strong_explicit(&by_fd[fd], &expected, c, memory_order_acq_rel,
                                                     memory_order_acquire)) {
                free(c);
                return -EBUSY;
        }
        gnutls_transport_set_pull_function(session, pull);
        gnutls_transport_set_pull_timeout_function(session, pull_timeout);
        gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST, on_finished);
        *ret = c;
        return 0;
}

TlsWait *tls_wait_detach(TlsWait *c) {
        TlsWait *expected;

        if (!c)
                return NULL;
        /* Never parked here: a suspended connection is not closed (tls_waits_stop() resumes them first). */
        pthread_mutex_lock(&c->waits->lock);
        if (c->parked)
                unlink_parked(c->waits, c);
        pthread_mutex_unlock(&c->waits->lock);
        expected = c;
        (void) atomic_compare_exchange_strong_explicit(&by_fd[c->fd], &expected, NULL, memory_order_acq_rel,
                                                       memory_order_acquire);
        free(c);
        return NULL;
}
