/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "bench-threads.h"
#include "log.h"

#define ERRORS_SHOWN 10U

int bench_threads_start(unsigned n, void *(*fn)(void *), void *args, size_t arg_size, pthread_t *ret) {
        for (unsigned i = 0; i < n; i++) {
                int r = pthread_create(&ret[i], NULL, fn, (uint8_t *) args + i * arg_size);
                if (r != 0) {
                        for (unsigned j = 0; j < i; j++)
                                pthread_join(ret[j], NULL);
                        return log_error_errno(r, "Failed to start a thread: %m");
                }
        }
        return 0;
}

static atomic_uint errors_shown;

void bench_report_failure(const char *fmt, ...) {
        char buf[512];
        va_list ap;

        if (atomic_fetch_add(&errors_shown, 1) >= ERRORS_SHOWN)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        log_error("%s", buf);
}
