/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gnutls/gnutls.h>
#include <stdint.h>

#include "macro.h"
#include "server-config.h"

/* TLS 1.3 session resumption for the nodes' listeners (docs/server.md, "Fresh connections"): the server gives
 * each client session tickets (RFC 8446 §4.6.1) encrypted under a key that lives in this process's memory only,
 * never on disk, never logged; a client that comes back within TLSTicketLifetime= resumes with psk_dhe_ke (a
 * fresh ECDHE, no certificate signature, no chain to verify) instead of a full handshake. 0-RTT stays off
 * (libmicrohttpd enables early data only with MHD_USE_INSECURE_TLS_EARLY_DATA, which the server never sets).
 *
 * The key: 64 random bytes (GnuTLS's master ticket key: key name, AES-256 and HMAC keys are derived from it
 * and rotate by themselves every 3 × TLSTicketLifetime, the previous one still accepted), replaced by a new
 * random key every TLS_TICKET_KEY_ROTATION_USEC or 2 × TLSTicketLifetime, whichever is longer: tickets made
 * under the old key are then no longer accepted (those clients make a full handshake and get new tickets).
 * A restarted server, or another instance, has another key: its clients make full handshakes. */
typedef struct TlsTickets TlsTickets;

#define TLS_TICKET_KEY_ROTATION_USEC (24ULL * 3600ULL * 1000000ULL)

/* lifetime_usec: how long a ticket can be used, whole seconds, at least 1 s. */
int tls_tickets_new(uint64_t lifetime_usec, TlsTickets **ret);
TlsTickets *tls_tickets_free(TlsTickets *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(TlsTickets *, tls_tickets_free);

/* Before session's handshake: it sends tickets under the current key (replaced first if it is due) and accepts
 * them. -EIO if GnuTLS refuses (the connection then goes on without resumption). */
int tls_tickets_enable(TlsTickets *t, gnutls_session_t session);
