/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-tor-start ROUNDS DIR...: tor's own start, without systemd and without patela, for the node-boot
 * benchmark (run-boot-bench.sh): the floor under its "tor instances alone" baseline. Each DIR holds a relay's
 * torrc and keys/ as patela made them; each round starts one tor per DIR at once, bare (no unit, no sandbox, no
 * key copy), with a fresh data/ (as a unit's RuntimeDirectory= after a stop), and measures from the first fork to
 * the last READY=1 tor sends (the moment systemd would call its unit active). Then SIGTERM (tor exits at once),
 * and the next round. Prints each round's milliseconds and the processes' CPU time, then one JSON line. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INSTANCES_MAX 16
#define READY_TIMEOUT_MS 60000

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

static int run(const char *cmd) {
        int status = system(cmd);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static pid_t start_tor(const char *dir, const char *notify) {
        char torrc[4096], data[4096], keys[4096], log[4200];
        pid_t pid;

        snprintf(torrc, sizeof(torrc), "%s/torrc", dir);
        snprintf(data, sizeof(data), "%s/data", dir);
        snprintf(keys, sizeof(keys), "%s/keys", dir);
        snprintf(log, sizeof(log), "notice file %s/tor.log", dir);
        pid = fork();
        if (pid != 0)
                return pid;
        setenv("NOTIFY_SOCKET", notify, 1);
        execlp("tor", "tor", "-f", torrc, "--DataDirectory", data, "--KeyDirectory", keys, "--RunAsDaemon", "0",
               "--Log", log, (char *) NULL);
        _exit(127);
}

int main(int argc, char **argv) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        pid_t pids[INSTANCES_MAX];
        int rounds, n, fd;
        char cmd[8192], dir_template[] = "/tmp/bench-tor-start.XXXXXX";
        uint64_t *ms;
        double *cpu;

        if (argc < 3 || (rounds = atoi(argv[1])) < 1 || argc - 2 > INSTANCES_MAX) {
                fprintf(stderr, "usage: bench-tor-start ROUNDS DIR... (at most %d)\n", INSTANCES_MAX);
                return 2;
        }
        n = argc - 2;
        if (!mkdtemp(dir_template))
                return perror("mkdtemp"), 1;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir_template);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return perror("notify socket"), 1;
        ms = calloc((size_t) rounds, sizeof(*ms));
        cpu = calloc((size_t) rounds, sizeof(*cpu));
        if (!ms || !cpu)
                return 1;

        for (int round = 0; round < rounds; round++) {
                struct rusage before, after;
                uint64_t t0, deadline;
                int ready = 0;

                for (int i = 0; i < n; i++) {
                        snprintf(cmd, sizeof(cmd), "rm -rf '%s/data' && mkdir -m 0700 '%s/data'", argv[2 + i], argv[2 + i]);
                        if (run(cmd) < 0)
                                return fprintf(stderr, "cannot make %s/data\n", argv[2 + i]), 1;
                }
                getrusage(RUSAGE_CHILDREN, &before);
                t0 = now_usec();
                for (int i = 0; i < n; i++) {
                        pids[i] = start_tor(argv[2 + i], sa.sun_path);
                        if (pids[i] < 0)
                                return perror("fork"), 1;
                }
                deadline = t0 + READY_TIMEOUT_MS * 1000ULL;
                while (ready < n) {
                        struct pollfd p = { .fd = fd, .events = POLLIN };
                        char buf[4096];
                        ssize_t k;
                        uint64_t now = now_usec();

                        if (now >= deadline) {
                                fprintf(stderr, "round %d: %d of %d tor instances ready after %d s\n", round + 1, ready,
                                        n, READY_TIMEOUT_MS / 1000);
                                for (int i = 0; i < n; i++)
                                        kill(pids[i], SIGKILL);
                                return 1;
                        }
                        if (poll(&p, 1, (int) ((deadline - now) / 1000U) + 1) <= 0)
                                continue;
                        k = recv(fd, buf, sizeof(buf) - 1, 0);
                        if (k <= 0)
                                continue;
                        buf[k] = '\0';
                        /* One datagram per notification; READY=1 at the start of one of its lines. */
                        if (strncmp(buf, "READY=1", 7) == 0 || strstr(buf, "\nREADY=1"))
                                ready++;
                }
                ms[round] = (now_usec() - t0 + 500U) / 1000U;
                for (int i = 0; i < n; i++)
                        kill(pids[i], SIGTERM);
                for (int i = 0; i < n; i++)
                        (void) waitpid(pids[i], NULL, 0);
                getrusage(RUSAGE_CHILDREN, &after);
                cpu[round] = (double) (after.ru_utime.tv_sec - before.ru_utime.tv_sec + after.ru_stime.tv_sec -
                                       before.ru_stime.tv_sec) * 1000.0 +
                             (double) (after.ru_utime.tv_usec - before.ru_utime.tv_usec + after.ru_stime.tv_usec -
                                       before.ru_stime.tv_usec) / 1000.0;
                printf("#   round %d: %d bare tor instances, first fork to last READY=1: %" PRIu64
                       " ms; their CPU from start to exit %.0f ms\n", round + 1, n, ms[round], cpu[round]);
        }
        printf("{\"instances\":%d,\"ms\":[", n);
        for (int round = 0; round < rounds; round++)
                printf("%s%" PRIu64, round ? "," : "", ms[round]);
        printf("],\"cpu_ms\":[");
        for (int round = 0; round < rounds; round++)
                printf("%s%.0f", round ? "," : "", cpu[round]);
        printf("]}\n");
        unlink(sa.sun_path);
        rmdir(dir_template);
        free(ms);
        free(cpu);
        return 0;
}
