/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela-server status: what GET /v1/status on the metrics listener answers, read from the database here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server-cli.h"
#include "server-status.h"
#include "string-util.h"

static const char *field(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                return NULL;
        return json_object_get_string(v);
}

static int64_t field_int(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && v ? json_object_get_int64(v) : 0;
}

/* RELAYS: each relay's name, and its RSA fingerprint's first 8 digits once its node reported it ("-" before). */
static void format_relays(json_object *relays, char *buf, size_t size) {
        size_t n = json_object_array_length(relays), used = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n && used < size; i++) {
                json_object *r = json_object_array_get_idx(relays, i);
                const char *fp = field(r, "rsaFingerprint");
                int k = snprintf(buf + used, size - used, "%s%s:%.8s", i > 0 ? " " : "", field(r, "name") ?: "?",
                                 fp ?: "-");
                if (k < 0)
                        break;
                used += (size_t) k;
        }
        if (n == 0)
                snprintf(buf, size, "-");
}

int verb_status(Cli *cli, int argc, char **argv) {
        static const char *const headers[] = { "ID", "FINGERPRINT", "STATE", "IMAGE", "VERDICT", "LAST-TRUSTED",
                                               "REASON", "RELAYS" };
        _cleanup_(table_freep) Table *t = table_new(headers, ELEMENTSOF(headers));
        _cleanup_(json_object_putp) json_object *o = NULL;
        unsigned long long after = 0, limit = STATUS_LIMIT_DEFAULT;
        json_object *nodes = NULL, *next = NULL;
        Db *db;
        int r;

        for (int i = 1; i < argc; i++) {
                const char *v = NULL;

                if (streq(argv[i], "--after") && i + 1 < argc)
                        v = argv[++i];
                else if ((v = startswith(argv[i], "--after=")))
                        ;
                else if (streq(argv[i], "--limit") && i + 1 < argc) {
                        if (safe_atou64(argv[++i], STATUS_LIMIT_MAX, &limit) < 0 || limit == 0)
                                return log_error_errno(EINVAL, "--limit is 1…%u.", STATUS_LIMIT_MAX), EXIT_USAGE;
                        continue;
                } else
                        return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[i]), EXIT_USAGE;
                if (safe_atou64(v, INT64_MAX, &after) < 0)
                        return log_error_errno(EINVAL, "--after takes a node id."), EXIT_USAGE;
        }
        if (!t)
                return log_oom(), EXIT_FAILURE;
        r = cli_db(cli, &db);
        if (r >= 0)
                r = server_status_json(db, /* store= */ NULL, (int64_t) after, (unsigned) limit, &o);
        if (r < 0)
                return log_error_errno(r, "Failed to read the status: %m"), cli_exit_status(r);
        if (cli->json) {
                cli_print_json(TAKE_PTR(o));
                return EXIT_SUCCESS;
        }
        (void) json_object_object_get_ex(o, "nodes", &nodes);
        for (size_t i = 0; i < json_object_array_length(nodes); i++) {
                json_object *n = json_object_array_get_idx(nodes, i), *relays = NULL;
                char id[24], at[32], rel[512], image[96];

                snprintf(id, sizeof(id), "%" PRIi64, field_int(n, "id"));
                cli_format_time(field_int(n, "lastTrustedAt"), at, sizeof(at));
                (void) json_object_object_get_ex(n, "relays", &relays);
                format_relays(relays, rel, sizeof(rel));
                json_object *retired = NULL;
                (void) json_object_object_get_ex(n, "imageRetired", &retired);
                snprintf(image, sizeof(image), "%s%s", field(n, "image") ?: "-",
                         retired && json_object_get_boolean(retired) ? " (retired)" : "");
                const char *row[] = { id, field(n, "fingerprint"), field(n, "state"), image, field(n, "verdict"), at,
                                      field(n, "reason"), rel };
                (void) table_add_row(t, row);
        }
        table_print(t, !cli->no_legend);
        if (json_object_object_get_ex(o, "next", &next) && next)
                printf("More nodes: --after %" PRIi64 "\n", json_object_get_int64(next));
        return EXIT_SUCCESS;
}
