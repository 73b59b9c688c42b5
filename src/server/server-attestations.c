/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "server-attestations.h"

int attestation_log(Db *db, const AttestationRecord *rec) {
        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = db_prepare_cached(db,
                       "INSERT INTO attestations (node_id, fingerprint, at, verdict, reason, pcr_bank, pcr_values, "
                       "reset_count, restart_count, source, measured_verdict, image_id) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, rec->node_id);
        sqlite3_bind_text(s, 2, rec->fingerprint, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 3, now_sec());
        sqlite3_bind_text(s, 4, rec->verdict, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, rec->reason, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 6, rec->bank, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 7, rec->pcr_values, -1, SQLITE_TRANSIENT);
        if (rec->reset_count >= 0) {
                sqlite3_bind_int64(s, 8, rec->reset_count);
                sqlite3_bind_int64(s, 9, rec->restart_count);
        }
        sqlite3_bind_text(s, 10, rec->source, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 11, rec->measured_verdict, -1, SQLITE_STATIC);
        if (rec->image_id > 0)
                sqlite3_bind_int64(s, 12, rec->image_id);
        rc = sqlite3_step(s);
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int attestation_list(Db *db, int64_t node_id, unsigned limit, AttestationEntry **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        _cleanup_free_ AttestationEntry *list = NULL;
        size_t n = 0;
        int r, rc;

        list = calloc(MAX(limit, 1U), sizeof(AttestationEntry));
        if (!list)
                return -ENOMEM;
        r = db_prepare(db,
                       "SELECT id, node_id, fingerprint, at, verdict, reason FROM attestations "
                       "WHERE (?1 < 0 OR node_id = ?1) ORDER BY id DESC LIMIT ?2",
                       &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, node_id);
        sqlite3_bind_int(s, 2, (int) limit);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < limit) {
                const unsigned char *reason = sqlite3_column_text(s, 5);
                AttestationEntry *e = &list[n++];
                e->id = sqlite3_column_int64(s, 0);
                e->node_id = sqlite3_column_int64(s, 1);
                snprintf(e->fingerprint, sizeof(e->fingerprint), "%s", (const char *) sqlite3_column_text(s, 2));
                e->at = sqlite3_column_int64(s, 3);
                snprintf(e->verdict, sizeof(e->verdict), "%s", (const char *) sqlite3_column_text(s, 4));
                snprintf(e->reason, sizeof(e->reason), "%s", reason ? (const char *) reason : "");
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return db_errno(rc);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}
