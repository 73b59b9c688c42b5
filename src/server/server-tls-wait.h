/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

/* TLS handshakes that wait for their peer, taken out of libmicrohttpd's event loop (docs/server.md, "A handshake
 * that waits").
 *
 * libmicrohttpd 1.0.1 (Debian 13's; its upstream has the same code) runs a connection's TLS handshake from the
 * "ready" list of its epoll loop, and during the handshake GnuTLS reads the socket itself. When such a read finds
 * nothing (EAGAIN), libmicrohttpd is not told that the socket is drained: the connection stays on the ready list,
 * the loop polls with a zero timeout and calls gnutls_handshake() again and again until the peer's next flight
 * arrives. Every connection waiting in its handshake keeps a thread busy: for the client's first flight (a TCP
 * connection that never speaks spins until it times out) and for the client's Finished, one round trip, in every
 * handshake. Measured: 4 silent TCP connections kept both cores of the server busy; nodes 20 ms away cost it
 * 9.7 ms of CPU per authentication over new connections instead of ~0.8.
 *
 * Here GnuTLS reads through a pull function of ours (recv(), as its own). When a read of the handshake finds
 * nothing, the connection is suspended (MHD_suspend_connection(): out of the loop, as a handler may do) and its
 * socket watched by one thread (epoll, readable or closed); that thread resumes it (MHD_resume_connection(), which
 * may be called from any thread) and libmicrohttpd carries on with the handshake where it stopped. Once the
 * client's Finished arrived, libmicrohttpd's own reads handle EAGAIN and nothing is suspended any more. A
 * handshake not finished timeout_usec after the TCP connection is ended (the pull function fails, libmicrohttpd
 * closes the connection); suspended connections are not subject to libmicrohttpd's own timeout.
 *
 * The daemons must be started with MHD_ALLOW_SUSPEND_RESUME, and tls_waits_stop() must come before their
 * MHD_stop_daemon() (libmicrohttpd must not be stopped with suspended connections). Sending needs nothing of the
 * kind: a handshake's flights (a few kB) fit in a socket's send buffer. */
typedef struct TlsWaits TlsWaits;
typedef struct TlsWait TlsWait;

typedef struct TlsWaitHooks {
        /* The client's Finished arrived: the handshake is complete (full, or resumed from a ticket). */
        void (*handshake)(void *userdata, bool resumed);
        /* The handshake ended for its timeout. */
        void (*timeout)(void *userdata);
} TlsWaitHooks;

/* Starts the watching thread. */
int tls_waits_new(TlsWaits **ret);
/* Stops the thread and resumes every suspended connection; none is suspended afterwards (their handshakes go on
 * in libmicrohttpd's loop). Before MHD_stop_daemon() of the daemons whose connections it watched. */
void tls_waits_stop(TlsWaits *w);
/* Stops it first if tls_waits_stop() was not called. */
TlsWaits *tls_waits_free(TlsWaits *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(TlsWaits *, tls_waits_free);

/* At MHD_CONNECTION_NOTIFY_STARTED, before the handshake's first byte: the connection's handshake reads go through
 * the pull function, its handshake hook is set (hooks), and it may take timeout_usec from now. -ENOMEM, or -EBADF
 * when the socket's descriptor is past what the process may open: the connection then goes on as libmicrohttpd
 * alone would run it. */
int tls_wait_attach(TlsWaits *w, struct MHD_Connection *connection, uint64_t timeout_usec, const TlsWaitHooks *hooks,
                    void *userdata, TlsWait **ret);
/* At MHD_CONNECTION_NOTIFY_CLOSED. */
TlsWait *tls_wait_detach(TlsWait *c);
