/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>

#include "server-db.h"
#include "tor-nickname.h"


typedef struct Relay {
        int64_t id;
        int64_t node_id;
        unsigned slot;
        char name[TOR_NICKNAME_MAX + 1];
        char ipv4[INET_ADDRSTRLEN];
        char ipv6[INET6_ADDRSTRLEN];
} Relay;

/* Makes the node have exactly count relays: keeps slots below count, deletes the others (their names
 * and addresses go back to the pools), and gives each new slot the first free name and the first free
 * address of each family that has a pool. Must run inside a transaction. -ENOSPC names the exhausted
 * pool through *ret_pool ("names", "ipv4", "ipv6"). */
int relays_allocate(Db *db, int64_t node_id, unsigned count, const char **ret_pool);

/* The node's relays (node_id < 0: all), by node and slot. */
int relays_list(Db *db, int64_t node_id, Relay **ret, size_t *ret_n);
int relay_get_by_name(Db *db, const char *name, Relay *ret);

/* Adds names or addresses to the pools, all or none. -EINVAL (with *ret_bad set to the offending entry)
 * for an invalid one, -EEXIST for a duplicate. */
int pool_add(Db *db, const char *kind, char *const *values, size_t n, const char **ret_bad);

typedef struct PoolEntry {
        char value[INET6_ADDRSTRLEN + TOR_NICKNAME_MAX];
        char kind[8];
        char relay[TOR_NICKNAME_MAX + 1]; /* empty if free */
} PoolEntry;
int pool_list(Db *db, const char *kind, PoolEntry **ret, size_t *ret_n);
