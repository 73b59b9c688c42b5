/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>

#include "server-db.h"

#define RELAY_NAME_MAX 19 /* tor's MAX_NICKNAME_LEN */

typedef struct Relay {
        int64_t id;
        int64_t node_id;
        unsigned slot;
        char name[RELAY_NAME_MAX + 1];
        char ipv4[INET_ADDRSTRLEN];
        char ipv6[INET6_ADDRSTRLEN];
} Relay;

/* A tor nickname: 1–19 characters of [A-Za-z0-9]. So never "/", "..", NUL or spaces. */
bool relay_name_is_valid(const char *name) _pure_;

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
        char value[INET6_ADDRSTRLEN + RELAY_NAME_MAX];
        char kind[8];
        char relay[RELAY_NAME_MAX + 1]; /* empty if free */
} PoolEntry;
int pool_list(Db *db, const char *kind, PoolEntry **ret, size_t *ret_n);
