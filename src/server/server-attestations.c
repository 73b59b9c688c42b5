/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "server-attestations.h"

int attestation_log(Db *db, const AttestationRecord *rec) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare_cached(db,
                       "INSERT INTO attestations (node_id, fingerprint, at, verdict, reason, pcr_bank, pcr_values, "
                       "reset_count, restart_count, source, measured_verdict, image_id) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, rec->node_id);
        db_bind_text(s, 2, rec->fingerprint);
        db_bind_int64(s, 3, now_sec());
        db_bind_text_static(s, 4, rec->verdict);
        db_bind_text(s, 5, rec->reason);
        db_bind_text(s, 6, rec->bank);
        db_bind_text(s, 7, rec->pcr_values);
        if (rec->reset_count >= 0) {
                db_bind_int64(s, 8, rec->reset_count);
                db_bind_int64(s, 9, rec->restart_count);
        }
        db_bind_text(s, 10, rec->source);
        db_bind_text_static(s, 11, rec->measured_verdict);
        if (rec->image_id > 0)
                db_bind_int64(s, 12, rec->image_id);
        rc = db_step(s);
        return rc == DB_DONE ? 0 : db_result(rc);
}

int attestation_list(Db *db, int64_t node_id, unsigned limit, AttestationEntry **ret, size_t *ret_n) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        _cleanup_free_ AttestationEntry *list = NULL;
        size_t n = 0;
        int r, rc;

        list = calloc(MAX(limit, 1U), sizeof(AttestationEntry));
        if (!list)
                return -ENOMEM;
        r = db_stmt_prepare(db,
                       "SELECT id, node_id, fingerprint, at, verdict, reason FROM attestations "
                       "WHERE (?1 < 0 OR node_id = ?1) ORDER BY id DESC LIMIT ?2",
                       &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, node_id);
        db_bind_int64(s, 2, (int) limit);
        while ((rc = db_step(s)) == DB_ROW && n < limit) {
                const unsigned char *reason = (const unsigned char *) db_column_text(s, 5);
                AttestationEntry *e = &list[n++];
                e->id = db_column_int64(s, 0);
                e->node_id = db_column_int64(s, 1);
                snprintf(e->fingerprint, sizeof(e->fingerprint), "%s", db_column_text(s, 2));
                e->at = db_column_int64(s, 3);
                snprintf(e->verdict, sizeof(e->verdict), "%s", db_column_text(s, 4));
                snprintf(e->reason, sizeof(e->reason), "%s", reason ? (const char *) reason : "");
        }
        if (rc != DB_DONE && rc != DB_ROW)
                return db_result(rc);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}
