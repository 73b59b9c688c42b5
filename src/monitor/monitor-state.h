/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What patela-monitor keeps between runs: the last checkpoint it verified (origin, size, head), the right
 * edge of that tree (a compact range, to extend it with new entries and compute the next head from the
 * entries alone), and the images the log registered (to tell a verdict on an image nobody registered).
 * A text file, written atomically; parsed bounded and strictly. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlog-note.h"
#include "tlog.h"

#define MONITOR_STATE_SIZE_MAX (4U * 1024 * 1024)
#define MONITOR_IMAGES_MAX 65536U
#define MONITOR_IMAGE_NAME_MAX 64U

typedef struct MonitorImage {
        char name[MONITOR_IMAGE_NAME_MAX + 1];
        char uki_sha256[65];
        bool retired;
} MonitorImage;

typedef struct MonitorState {
        char origin[256];
        TlogCompact tree; /* size 0: nothing verified yet */
        TlogHash root;
        MonitorImage *images;
        size_t n_images;
} MonitorState;

void monitor_state_done(MonitorState *s);
/* -ENOENT when there is no state yet (the first run), -EBADMSG for a malformed one. */
int monitor_state_load(const char *path, MonitorState *ret);
int monitor_state_save(const char *path, const MonitorState *s);

MonitorImage *monitor_state_image(MonitorState *s, const char *name);
int monitor_state_add_image(MonitorState *s, const char *name, const char *uki_sha256);
