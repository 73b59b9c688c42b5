/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Runs argv[0] (a path) with argv and waits for it. Its standard output goes to *ret_out (NUL-terminated, at
 * most 1 MiB: -E2BIG beyond) if ret_out is not NULL, else to log_fd with its standard error. *ret_status is
 * its exit status, or 128 + the signal that ended it. A negative errno only if it could not be run. */
int dur_run(char *const *argv, int log_fd, char **ret_out, int *ret_status);

/* As dur_run(), and the child is one dur_kill_children() may kill while it runs. */
int dur_run_killable(char *const *argv, int log_fd, int *ret_status);

/* SIGKILL to each killable child running now, each with probability 1/2 (rand_r() on *seed); the number
 * killed. */
unsigned dur_kill_children(unsigned *seed);
