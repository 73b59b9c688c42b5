/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>
#include <stddef.h>

#include "macro.h"

/* The load generator's worker threads: n of them, thread i running fn(args + i × arg_size). If one cannot be
 * started, those already running are joined (each must end on its own) and the error is returned. */
int bench_threads_start(unsigned n, void *(*fn)(void *), void *args, size_t arg_size, pthread_t *ret);

/* A failure of one request, from any thread: the first few are logged, the rest counted by the caller. */
void bench_report_failure(const char *fmt, ...) _printf_(1, 2);
