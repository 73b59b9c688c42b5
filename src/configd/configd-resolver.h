/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "configd-manager.h"

/* The addresses that are the relays', or were until this cycle: those of every relay of the server's reply and
 * those configd's drop-ins in dropin_dir name. Taken before the cycle's files are written. NULL-terminated, as
 * inet_ntop() writes them. */
int resolver_relay_addresses(const Manager *m, const char *dropin_dir, char ***ret);

/* Whether an address (struct in_addr or in6_addr) can be the node's own for the resolver: not unspecified,
 * loopback, link-local, multicast or (IPv6) IPv4-mapped. */
bool address_is_node_candidate(int family, const void *address);

/* The node's own addresses: those of interface (NULL: of every link but loopback) that
 * address_is_node_candidate() accepts and relay_addresses does not name; sorted, each once. */
int node_own_addresses(const char *interface, char *const *relay_addresses, char ***ret);

/* Writes ResolverFile= (nothing if it is "") with the node's own addresses on the server's Interface, and asks
 * systemd to reload patela-resolver.service if the file changed. Returns 1 if it changed, 0 if not, a
 * negative errno (logged) on failure: the relays are configured all the same. */
int resolver_update(Manager *m, char *const *relay_addresses);

/* ReloadOrRestartUnit of patela-resolver.service, asynchronously (configd-units.c). */
int resolver_reload(Manager *m);
