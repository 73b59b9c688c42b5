/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* For the unit tests of the TPM layer: a TPM (libtpms) in the test's own process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tpm2-util.h"

/* libtpms in this process, on a fresh state file in a directory of its own, which is also the working
 * directory: libtpms 0.9 with tpm2-tss 4.1 writes an NVChip file there besides. */
static char state_dir[] = "/tmp/test-tpm2-libtpms.XXXXXX";

static void remove_state(void) {
        char path[sizeof(state_dir) + 16];

        snprintf(path, sizeof(path), "%s/state", state_dir);
        (void) unlink(path);
        snprintf(path, sizeof(path), "%s/NVChip", state_dir);
        (void) unlink(path);
        (void) rmdir(state_dir);
}

static int libtpms_context(Tpm2Context **ret) {
        char tcti[sizeof(state_dir) + 32];

        if (!mkdtemp(state_dir))
                return -errno;
        atexit(remove_state);
        if (chdir(state_dir) < 0)
                return -errno;
        snprintf(tcti, sizeof(tcti), "libtpms:%s/state", state_dir);
        return tpm2_context_new(tcti, ret);
}
