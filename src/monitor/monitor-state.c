/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "monitor-state.h"
#include "string-util.h"

#define STATE_HEADER "patela-monitor-state/1"

void monitor_state_done(MonitorState *s) {
        free(s->images);
        *s = (MonitorState) {};
}

MonitorImage *monitor_state_image(MonitorState *s, const char *name) {
        for (size_t i = 0; i < s->n_images; i++)
                if (streq(s->images[i].name, name))
                        return &s->images[i];
        return NULL;
}

int monitor_state_add_image(MonitorState *s, const char *name, const char *uki_sha256) {
        MonitorImage *a;

        if (strlen(name) > MONITOR_IMAGE_NAME_MAX || strlen(uki_sha256) != 64 || s->n_images >= MONITOR_IMAGES_MAX)
                return -E2BIG;
        a = reallocarray(s->images, s->n_images + 1, sizeof(MonitorImage));
        if (!a)
                return -ENOMEM;
        s->images = a;
        a = &s->images[s->n_images++];
        *a = (MonitorImage) {};
        snprintf(a->name, sizeof(a->name), "%s", name);
        snprintf(a->uki_sha256, sizeof(a->uki_sha256), "%s", uki_sha256);
        return 0;
}

int monitor_state_load(const char *path, MonitorState *ret) {
        _cleanup_(monitor_state_done) MonitorState s = {};
        _cleanup_free_ char *text = NULL;
        char *line, *save = NULL;
        size_t size;
        bool header = false, root = false;
        int r;

        r = read_full_file(path, MONITOR_STATE_SIZE_MAX, (void **) &text, &size);
        if (r < 0)
                return r;
        if (memchr(text, '\0', size))
                return -EBADMSG;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char a[300], b[300], c[300], extra;
                unsigned long long n;

                if (!header) {
                        if (!streq(line, STATE_HEADER))
                                return -EBADMSG;
                        header = true;
                } else if (sscanf(line, "origin %255s %c", a, &extra) == 1) {
                        if (strlen(a) >= sizeof(s.origin))
                                return -EBADMSG;
                        memcpy(s.origin, a, strlen(a) + 1);
                }
                else if (sscanf(line, "size %20s %c", a, &extra) == 1) {
                        if (safe_atou64(a, TLOG_SIZE_MAX, &n) < 0)
                                return -EBADMSG;
                        s.tree.size = n;
                } else if (sscanf(line, "root %299s %c", a, &extra) == 1) {
                        if (tlog_hash_parse(a, &s.root) < 0)
                                return -EBADMSG;
                        root = true;
                } else if (sscanf(line, "edge %2s %299s %c", a, b, &extra) == 2) {
                        if (s.tree.n > TLOG_LEVELS_MAX || safe_atou64(a, TLOG_LEVELS_MAX, &n) < 0 ||
                            tlog_hash_parse(b, &s.tree.edge[s.tree.n].hash) < 0)
                                return -EBADMSG;
                        s.tree.edge[s.tree.n++].level = (unsigned) n;
                } else if (sscanf(line, "image %64s %64s %9s %c", a, b, c, &extra) == 3) {
                        if (monitor_state_image(&s, a) || strspn(b, "0123456789abcdef") != 64 ||
                            !(streq(c, "active") || streq(c, "retired")))
                                return -EBADMSG;
                        r = monitor_state_add_image(&s, a, b);
                        if (r < 0)
                                return r;
                        s.images[s.n_images - 1].retired = streq(c, "retired");
                } else
                        return -EBADMSG;
        }
        /* Nothing verified yet, or a tree whose edge adds up to its size and whose head it gives. */
        if (!header || (s.tree.size > 0 && (!root || isempty(s.origin))) || !tlog_compact_valid(&s.tree))
                return -EBADMSG;
        if (s.tree.size > 0) {
                TlogHash h;
                if (tlog_compact_root(&s.tree, &h) < 0 || !tlog_hash_equal(&h, &s.root))
                        return -EBADMSG;
        }
        *ret = s;
        s = (MonitorState) {};
        return 0;
}

int monitor_state_save(const char *path, const MonitorState *s) {
        _cleanup_free_ char *buf = NULL, *root = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, STATE_HEADER "\n");
        if (s->tree.size > 0) {
                root = base64mem(s->root.bytes, TLOG_HASH_SIZE);
                fprintf(f, "origin %s\nsize %" PRIu64 "\nroot %s\n", s->origin, s->tree.size, root ?: "");
                for (unsigned i = 0; i < s->tree.n; i++) {
                        _cleanup_free_ char *h = base64mem(s->tree.edge[i].hash.bytes, TLOG_HASH_SIZE);
                        fprintf(f, "edge %u %s\n", s->tree.edge[i].level, h ?: "");
                }
        }
        for (size_t i = 0; i < s->n_images; i++)
                fprintf(f, "image %s %s %s\n", s->images[i].name, s->images[i].uki_sha256,
                        s->images[i].retired ? "retired" : "active");
        if (fclose(f) != 0 || !buf || (s->tree.size > 0 && !root))
                return -ENOMEM;
        return write_file_atomic(path, buf, 0644);
}
