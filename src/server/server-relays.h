/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>

#include "server-db.h"
#include "tor-nickname.h"

/* Each relay's MetricsPort: on the node's loopback only, 9035 (tor's usual) plus the relay's slot. */
#define METRICS_PORT_BASE 9035U

typedef struct Relay {
        int64_t id;
        int64_t node_id;
        unsigned slot;
        char name[TOR_NICKNAME_MAX + 1];
        char ipv4[INET_ADDRSTRLEN];
        char ipv6[INET6_ADDRSTRLEN];
        unsigned or_port; /* on each of its addresses */
} Relay;

/* What an allocation may hand out besides names and addresses (patela-server.conf(5)). */
typedef struct RelayAllocation {
        unsigned relays_per_address; /* RelaysPerAddress= */
        unsigned or_port_min;        /* ORPortRange= */
        unsigned or_port_max;
} RelayAllocation;

/* Makes the node have exactly count relays: keeps slots below count, deletes the others (their names,
 * addresses and ports go back to the pools), and gives each new slot, in slot order:
 *   - the first free name of the names pool;
 *   - for each address family that has a pool, the least loaded address among those that carry no other
 *     node's relay and fewer than relays_per_address relays, the pool's order breaking ties: every usable
 *     address gets one relay before any gets a second;
 *   - the lowest port of the range that no relay uses on either of its addresses (a relay without an address
 *     listens on all of the node's: its port differs from every port of the node's relays, and it never takes
 *     a port of the metrics listeners, METRICS_PORT_BASE…+PROTO_RELAYS_MAX).
 * Must run inside a transaction. -ENOSPC names what ran out through *ret_pool: "names", "ipv4", "ipv6" or
 * "ORPortRange". */
int relays_allocate(Db *db, int64_t node_id, unsigned count, const RelayAllocation *a, const char **ret_pool);

/* The node's relays (node_id < 0: all), by node and slot. */
int relays_list(Db *db, int64_t node_id, Relay **ret, size_t *ret_n);
int relay_get_by_name(Db *db, const char *name, Relay *ret);

/* Adds names or addresses to the pools, all or none. -EINVAL (with *ret_bad set to the offending entry)
 * for an invalid one, -EEXIST for a duplicate. */
int pool_add(Db *db, const char *kind, char *const *values, size_t n, const char **ret_bad);

typedef struct PoolEntry {
        char value[INET6_ADDRSTRLEN + TOR_NICKNAME_MAX];
        char kind[8];
        int64_t node_id;     /* of the relays it is given to; -1 if free */
        unsigned n_relays;   /* relays it is given to: a name 0 or 1, an address up to RelaysPerAddress= */
        char *relays;        /* their names in slot order, separated by spaces; NULL if free */
} PoolEntry;
/* The pools (kind NULL: all, else "names", "ipv4" or "ipv6"), each in its order, from one snapshot. */
int pool_list(Db *db, const char *kind, PoolEntry **ret, size_t *ret_n);
void pool_entries_free(PoolEntry *e, size_t n);
