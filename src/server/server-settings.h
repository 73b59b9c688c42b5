/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "server-db.h"

/* The configuration cascade's storage: operations (set, append, unset) on torrc options or node settings at
 * three levels — default, node, relay — applied in that order. */

typedef enum ConfigLevel { LEVEL_DEFAULT, LEVEL_NODE, LEVEL_RELAY, _LEVEL_MAX, _LEVEL_INVALID = -EINVAL } ConfigLevel;
typedef enum ConfigKind { KIND_TORRC, KIND_SETTING, _KIND_MAX, _KIND_INVALID = -EINVAL } ConfigKind;
typedef enum ConfigOpType { OP_SET, OP_APPEND, OP_UNSET, _OP_MAX, _OP_INVALID = -EINVAL } ConfigOpType;

const char *config_level_to_string(ConfigLevel l) _const_;
const char *config_op_to_string(ConfigOpType o) _const_;

typedef struct ConfigScope {
        ConfigLevel level;
        int64_t node_id;  /* LEVEL_NODE */
        int64_t relay_id; /* LEVEL_RELAY */
} ConfigScope;

typedef struct ConfigOp {
        ConfigLevel level;
        ConfigOpType op;
        char *key;
        char *value; /* NULL for unset */
} ConfigOp;

void config_ops_free(ConfigOp *ops, size_t n);

/* The operations of one scope, in insertion order. */
int config_ops_load(Db *db, const ConfigScope *scope, ConfigKind kind, ConfigOp **ret, size_t *ret_n);
/* The operations that apply to a relay (or a node, relay_id < 0): default, then node, then relay. */
int config_ops_load_cascade(Db *db, int64_t node_id, int64_t relay_id, ConfigKind kind, ConfigOp **ret,
                            size_t *ret_n);

/* Records an operation at a scope. set and unset first drop the scope's earlier operations on the key
 * (within the same transaction, which the caller owns); append adds one. */
int config_op_record(Db *db, const ConfigScope *scope, ConfigKind kind, ConfigOpType op, const char *key,
                     const char *value);
/* Appends an operation as it is, without dropping earlier ones. */
int config_op_insert(Db *db, const ConfigScope *scope, ConfigKind kind, ConfigOpType op, const char *key,
                     const char *value);
/* Drops the scope's operations on key (key NULL: all of the kind): the lower level shows through again. */
int config_ops_clear(Db *db, const ConfigScope *scope, ConfigKind kind, const char *key);

/* Node settings, validated: Interface, IPv4Gateway, IPv6Gateway, IPv4PrefixLength, IPv6PrefixLength,
 * DNS (accumulates). -ENOENT for an unknown key, -EINVAL for a bad value, -EPERM for ORPort: the protocol
 * still knows it, but since several relays share an address each relay's ORPort is allocated from
 * ORPortRange= (migration 0007 recorded the ports the setting gave). */
int setting_validate(const char *key, const char *value, const char **ret_canonical_key);
bool setting_accumulates(const char *key) _pure_;
