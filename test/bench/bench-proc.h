/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Where the machine's CPU went during a run, from /proc: the benchmark shares the cores with the server
 * and with whatever else runs on the machine, and says how much of each. */
typedef struct CpuSample {
        uint64_t busy_usec;   /* all CPUs: user, nice, system, irq, softirq */
        uint64_t steal_usec;  /* taken by the hypervisor */
        uint64_t server_usec; /* the server process: user + system, all threads */
        uint64_t self_usec;   /* this process */
} CpuSample;

/* server 0: no server process to account. -errno if /proc cannot be read. */
int cpu_sample(pid_t server, CpuSample *ret);

/* The resident set of a process (VmRSS of /proc/PID/status), in kB. */
int rss_sample(pid_t pid, uint64_t *ret_kb);

/* The open file descriptors of a process (entries of /proc/PID/fd): a server's connections among them. */
int fd_count(pid_t pid, uint64_t *ret);
