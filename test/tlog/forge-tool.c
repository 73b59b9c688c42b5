/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What whoever holds a patela-server's database and its code can do to the transparency log: append an
 * entry the server itself would never have written, with every stored hash recomputed as the server would
 * (so `patela-server log verify` finds nothing). test-monitor.sh uses it to show that patela-monitor still
 * finds what such an entry says.
 *   forge-tool DATABASE verdict FINGERPRINT IMAGE VERDICT */
#include <stdio.h>
#include <stdlib.h>

#include "alloc-util.h"
#include "server-db.h"
#include "server-tlog.h"

int main(int argc, char *argv[]) {
        _cleanup_free_ char *entry = NULL;
        uint8_t quote[32] = {};
        Db *db = NULL;
        int r;

        if (argc != 6 || strcmp(argv[2], "verdict") != 0) {
                fprintf(stderr, "usage: forge-tool DATABASE verdict FINGERPRINT IMAGE VERDICT\n");
                return 2;
        }
        r = db_open(argv[1], &db);
        if (r >= 0)
                r = tlog_entry_verdict(argv[3], argv[4], argv[5], quote, now_sec(), &entry);
        if (r >= 0)
                r = db_begin(db);
        if (r >= 0) {
                r = server_tlog_append(db, TLOG_VERDICT, now_sec(), entry, NULL);
                r = r >= 0 ? db_commit(db) : (db_rollback(db), r);
        }
        db = db_close(db);
        if (r < 0) {
                fprintf(stderr, "forge-tool: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
