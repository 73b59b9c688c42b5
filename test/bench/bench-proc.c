/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench-proc.h"
#include "fd-util.h"
#include "macro.h"

static uint64_t ticks_to_usec(unsigned long long ticks) {
        long hz = sysconf(_SC_CLK_TCK);
        return hz > 0 ? ticks * 1000000ULL / (unsigned long long) hz : 0;
}

static int read_machine(CpuSample *s) {
        _cleanup_fclose_ FILE *f = fopen("/proc/stat", "re");
        unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;

        if (!f)
                return -errno;
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle, &iowait,
                   &irq, &softirq, &steal) != 8)
                return -EBADMSG;
        s->busy_usec = ticks_to_usec(user + nice + system + irq + softirq);
        s->steal_usec = ticks_to_usec(steal);
        return 0;
}

static int read_process(pid_t pid, uint64_t *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        unsigned long long utime, stime;
        char path[64], buf[1024], *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, sizeof(buf), f))
                return -EIO;
        /* After "pid (comm) ", whose comm may hold spaces and parentheses: fields 3…, utime and stime are
         * fields 14 and 15. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return -EBADMSG;
        *ret = ticks_to_usec(utime + stime);
        return 0;
}

int cpu_sample(pid_t server, CpuSample *ret) {
        CpuSample s = {};
        struct rusage ru;
        int r;

        r = read_machine(&s);
        if (r < 0)
                return r;
        if (server > 0) {
                r = read_process(server, &s.server_usec);
                if (r < 0)
                        return r;
        }
        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return -errno;
        s.self_usec = (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ULL +
                      (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        *ret = s;
        return 0;
}

int rss_sample(pid_t pid, uint64_t *ret_kb) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[256];

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long kb;

                if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) {
                        *ret_kb = kb;
                        return 0;
                }
        }
        return -EBADMSG;
}

int fd_count(pid_t pid, uint64_t *ret) {
        char path[64];
        struct dirent *de;
        uint64_t n = 0;
        DIR *d;
        int r = 0;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        if (errno != 0)
                r = -errno;
        closedir(d);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}
