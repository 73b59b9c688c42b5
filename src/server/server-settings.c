/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "server-settings.h"
#include "string-util.h"

static const char *const level_table[_LEVEL_MAX] = { "default", "node", "relay" };
static const char *const kind_table[_KIND_MAX] = { "torrc", "setting" };
static const char *const op_table[_OP_MAX] = { "set", "append", "unset" };

const char *config_level_to_string(ConfigLevel l) {
        return l >= 0 && l < _LEVEL_MAX ? level_table[l] : NULL;
}

const char *config_op_to_string(ConfigOpType o) {
        return o >= 0 && o < _OP_MAX ? op_table[o] : NULL;
}

static int lookup(const char *const *table, int n, const char *s) {
        for (int i = 0; i < n; i++)
                if (s && streq(s, table[i]))
                        return i;
        return -EINVAL;
}

void config_ops_free(ConfigOp *ops, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(ops[i].key);
                free(ops[i].value);
        }
        free(ops);
}

static void bind_scope(DbStmt *s, int first, const ConfigScope *scope) {
        db_bind_text_static(s, first, level_table[scope->level]);
        if (scope->level == LEVEL_NODE)
                db_bind_int64(s, first + 1, scope->node_id);
        else
                db_bind_null(s, first + 1);
        if (scope->level == LEVEL_RELAY)
                db_bind_int64(s, first + 2, scope->relay_id);
        else
                db_bind_null(s, first + 2);
}

static int collect(DbStmt *s, ConfigOp **ret, size_t *ret_n) {
        ConfigOp *ops = NULL;
        size_t n = 0, allocated = 0;
        int rc;

        while ((rc = db_step(s)) == DB_ROW) {
                const unsigned char *v = (const unsigned char *) db_column_text(s, 3);
                if (n == allocated) {
                        ConfigOp *p = realloc(ops, (allocated = allocated ? allocated * 2 : 16) * sizeof(ConfigOp));
                        if (!p) {
                                config_ops_free(ops, n);
                                return -ENOMEM;
                        }
                        ops = p;
                }
                ops[n] = (ConfigOp) {
                        .level = (ConfigLevel) lookup(level_table, _LEVEL_MAX, db_column_text(s, 0)),
                        .op = (ConfigOpType) lookup(op_table, _OP_MAX, db_column_text(s, 1)),
                        .key = strdup(db_column_text(s, 2)),
                        .value = v ? strdup((const char *) v) : NULL,
                };
                n++;
                if (!ops[n - 1].key || (v && !ops[n - 1].value) || ops[n - 1].level < 0 || ops[n - 1].op < 0) {
                        config_ops_free(ops, n);
                        return -EBADMSG;
                }
        }
        if (rc != DB_DONE) {
                config_ops_free(ops, n);
                return db_result(rc);
        }
        *ret = ops;
        *ret_n = n;
        return 0;
}

int config_ops_load(Db *db, const ConfigScope *scope, ConfigKind kind, ConfigOp **ret, size_t *ret_n) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r;

        r = db_stmt_prepare(db,
                       "SELECT level, op, key, value FROM config_ops WHERE level = ? AND node_id IS ? AND relay_id IS ? "
                       "AND kind = ? ORDER BY id",
                       &s);
        if (r < 0)
                return r;
        bind_scope(s, 1, scope);
        db_bind_text_static(s, 4, kind_table[kind]);
        return collect(s, ret, ret_n);
}

int config_ops_load_cascade(Db *db, int64_t node_id, int64_t relay_id, ConfigKind kind, ConfigOp **ret,
                            size_t *ret_n) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r;

        r = db_stmt_prepare(db,
                       "SELECT level, op, key, value FROM config_ops WHERE kind = ?1 AND "
                       "(level = 'default' OR (level = 'node' AND node_id = ?2) OR (level = 'relay' AND relay_id = ?3)) "
                       "ORDER BY CASE level WHEN 'default' THEN 0 WHEN 'node' THEN 1 ELSE 2 END, id",
                       &s);
        if (r < 0)
                return r;
        db_bind_text_static(s, 1, kind_table[kind]);
        db_bind_int64(s, 2, node_id);
        db_bind_int64(s, 3, relay_id);
        return collect(s, ret, ret_n);
}

int config_ops_clear(Db *db, const ConfigScope *scope, ConfigKind kind, const char *key) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare(db,
                       "DELETE FROM config_ops WHERE level = ? AND node_id IS ? AND relay_id IS ? AND kind = ? "
                       "AND (?5 IS NULL OR key = ?5 COLLATE NOCASE)",
                       &s);
        if (r < 0)
                return r;
        bind_scope(s, 1, scope);
        db_bind_text_static(s, 4, kind_table[kind]);
        if (key)
                db_bind_text(s, 5, key);
        rc = db_step(s);
        return rc == DB_DONE ? (int) db_changes(db) : db_result(rc);
}

int config_op_record(Db *db, const ConfigScope *scope, ConfigKind kind, ConfigOpType op, const char *key,
                     const char *value) {
        int r;

        if (op != OP_APPEND) {
                r = config_ops_clear(db, scope, kind, key);
                if (r < 0)
                        return r;
        }
        return config_op_insert(db, scope, kind, op, key, value);
}

int config_op_insert(Db *db, const ConfigScope *scope, ConfigKind kind, ConfigOpType op, const char *key,
                     const char *value) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare(db,
                       "INSERT INTO config_ops (level, node_id, relay_id, kind, op, key, value) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       &s);
        if (r < 0)
                return r;
        bind_scope(s, 1, scope);
        db_bind_text_static(s, 4, kind_table[kind]);
        db_bind_text_static(s, 5, op_table[op]);
        db_bind_text(s, 6, key);
        if (op == OP_UNSET)
                db_bind_null(s, 7);
        else
                db_bind_text(s, 7, value);
        rc = db_step(s);
        return rc == DB_DONE ? 0 : db_result(rc);
}

/* The node settings are part of the protocol: the server stores what a node will accept. */
bool setting_accumulates(const char *key) {
        return proto_setting_accumulates(key);
}

int setting_validate(const char *key, const char *value, const char **ret_canonical_key) {
        const char *canonical;
        int r;

        r = proto_setting_validate(key, /* value= */ NULL, &canonical);
        if (r < 0)
                return r;
        if (ret_canonical_key)
                *ret_canonical_key = canonical;
        if (streq(canonical, "ORPort"))
                return -EPERM;
        return proto_setting_validate(key, value, NULL);
}
