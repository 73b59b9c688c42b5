/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc-util.h"
#include "durability-spawn.h"
#include "fd-util.h"

#define OUTPUT_MAX (1024U * 1024U)

extern char **environ;

#define KILLABLE_MAX 256U

/* The running killable children; a slot is 0 when free. A pid is removed under the lock before it is
 * reaped, so a kill never hits a reused pid. */
static pthread_mutex_t killable_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t killable[KILLABLE_MAX];

static void killable_set(pid_t old, pid_t new) {
        pthread_mutex_lock(&killable_lock);
        for (unsigned i = 0; i < KILLABLE_MAX; i++)
                if (killable[i] == old) {
                        killable[i] = new;
                        break;
                }
        pthread_mutex_unlock(&killable_lock);
}

unsigned dur_kill_children(unsigned *seed) {
        unsigned n = 0;

        pthread_mutex_lock(&killable_lock);
        for (unsigned i = 0; i < KILLABLE_MAX; i++)
                if (killable[i] > 0 && rand_r(seed) % 2 == 0 && kill(killable[i], SIGKILL) == 0)
                        n++;
        pthread_mutex_unlock(&killable_lock);
        return n;
}

static int run(char *const *argv, int log_fd, bool can_be_killed, char **ret_out, int *ret_status) {
        _cleanup_close_ int out_read = -EBADF, out_write = -EBADF;
        _cleanup_free_ char *out = NULL;
        posix_spawn_file_actions_t actions;
        size_t size = 0;
        bool too_big = false;
        int status, r;
        pid_t pid;

        if (ret_out) {
                int p[2];

                if (pipe2(p, O_CLOEXEC) < 0)
                        return -errno;
                out_read = p[0];
                out_write = p[1];
                out = malloc(OUTPUT_MAX + 1);
                if (!out)
                        return -ENOMEM;
        }
        r = posix_spawn_file_actions_init(&actions);
        if (r != 0)
                return -r;
        r = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&actions, ret_out ? out_write : log_fd, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
        /* Registered under the lock from before the spawn on: a kill comes before or after, never between. */
        if (can_be_killed)
                pthread_mutex_lock(&killable_lock);
        if (r == 0)
                r = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
        if (can_be_killed) {
                if (r == 0)
                        for (unsigned i = 0; i < KILLABLE_MAX; i++)
                                if (killable[i] == 0) {
                                        killable[i] = pid;
                                        break;
                                }
                pthread_mutex_unlock(&killable_lock);
        }
        posix_spawn_file_actions_destroy(&actions);
        if (r != 0)
                return -r;

        if (ret_out) {
                out_write = safe_close(out_write);
                for (;;) {
                        char buf[4096];
                        ssize_t n = read(out_read, buf, sizeof(buf));

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        if (size + (size_t) n > OUTPUT_MAX)
                                too_big = true;
                        else {
                                memcpy(out + size, buf, (size_t) n);
                                size += (size_t) n;
                        }
                }
        }
        /* Wait without reaping, take it off the list, then reap. */
        for (;;) {
                siginfo_t si = {};

                if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOWAIT) >= 0)
                        break;
                if (errno != EINTR)
                        return -errno;
        }
        if (can_be_killed)
                killable_set(pid, 0);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (too_big)
                return -E2BIG;
        *ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (ret_out) {
                out[size] = '\0';
                *ret_out = TAKE_PTR(out);
        }
        return 0;
}

int dur_run(char *const *argv, int log_fd, char **ret_out, int *ret_status) {
        return run(argv, log_fd, /* can_be_killed= */ false, ret_out, ret_status);
}

int dur_run_killable(char *const *argv, int log_fd, int *ret_status) {
        return run(argv, log_fd, /* can_be_killed= */ true, NULL, ret_status);
}
