/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela-durability: nothing acknowledged is lost when patela-server is killed with SIGKILL (issue 15, item 3).
 *
 * The program starts patela-server on a loopback socket it passes as systemd's socket activation does, runs
 * a mixed workload from several threads (durability-workload.c: enrolments of new software nodes,
 * authentications of enabled ones, admin changes through the CLI) and journals every change the server
 * acknowledged. In each round it kills the server with SIGKILL at a random moment (after a random number of
 * operations, then a random delay of up to 3 ms, with requests in flight), lets the workers finish what they
 * were doing, checks the database against the journal and its invariants (durability-check.c), restarts the
 * server, checks the session tokens against it, and carries on. After the last round the remaining operations
 * run and the server is stopped normally for a last check. With --database-crash=, the database server
 * (PostgreSQL) crashes too in every K-th round, under the workload, just before the kill.
 *
 * The seed is printed and --seed= repeats the same operations and kill targets; the threads' interleaving
 * and the exact kill moments depend on timing. The last line is one JSON object for tooling. Exit status 1
 * if any check found a violation. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "bench-http.h"
#include "durability-check.h"
#include "durability-db.h"
#include "durability-spawn.h"
#include "durability-workload.h"
#include "fd-util.h"
#include "log.h"
#include "string-util.h"

#define SERVER_ARGS_MAX 16U

static const char *arg_server = NULL;
static const char *arg_database = NULL;
static const char *arg_certificate = NULL;
static const char *arg_private_key = NULL;
static const char *arg_cacert = NULL;
static const char *arg_reference = NULL;
static const char *arg_work_dir = NULL;
static const char *arg_journal = NULL;
static unsigned long long arg_rounds = 10;
static unsigned long long arg_operations = 1000;
static unsigned long long arg_threads = 4;
static unsigned long long arg_seed = 0;
static bool arg_seed_set = false;
static bool arg_tamper = false;
static bool arg_kill_cli = true;
static const char *arg_database_crash = NULL;
static unsigned long long arg_database_crash_rounds = 0;
static const char *arg_server_args[SERVER_ARGS_MAX];
static size_t arg_n_server_args = 0;

extern char **environ;

typedef struct Server {
        pid_t pid;
        uint16_t port;
        unsigned starts, kills;
} Server;

static uint64_t now_nsec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* The listening socket, bound to the same port at every start. The driver does not keep it: with the server
 * dead, a connection is refused at once instead of waiting in a backlog nobody accepts from. */
static int listen_socket(Server *s) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = htons(s->port),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
        socklen_t len = sizeof(sa);
        int one = 1;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 256) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        s->port = ntohs(sa.sin_port);
        return TAKE_FD(fd);
}

static void format_uint(char *p, size_t size, unsigned long v) {
        char tmp[24];
        size_t n = 0;

        do
                tmp[n++] = (char) ('0' + v % 10);
        while ((v /= 10) > 0 && n < sizeof(tmp));
        for (size_t i = 0; i < n && i < size - 1; i++)
                p[i] = tmp[n - 1 - i];
        p[MIN(n, size - 1)] = '\0';
}

static int server_start(Fleet *f, Server *s) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *db = NULL, *cert = NULL, *key = NULL;
        _cleanup_free_ char **envp = NULL;
        static char listen_pid[32] = "LISTEN_PID=";
        char *argv[12 + SERVER_ARGS_MAX];
        size_t n = 0, n_env = 0;
        pid_t pid;

        fd = listen_socket(s);
        if (fd < 0)
                return log_error_errno(fd, "Failed to listen on 127.0.0.1:%u: %m", s->port);
        if (asprintf(&db, "--database=%s", f->database) < 0 || asprintf(&cert, "--certificate=%s", arg_certificate) < 0 ||
            asprintf(&key, "--private-key=%s", arg_private_key) < 0)
                return log_oom();
        argv[n++] = (char *) f->server;
        argv[n++] = db;
        argv[n++] = cert;
        argv[n++] = key;
        /* Authentications without event logs are judged LogMismatch: recorded, and with warn not refused. New
         * identities come from one address, many per second. */
        argv[n++] = (char *) "--measured-boot=warn";
        argv[n++] = (char *) "--max-pending-nodes=1000000";
        argv[n++] = (char *) "--enroll-rate=1000000";
        argv[n++] = (char *) "--default-relay-count=1";
        for (size_t i = 0; i < arg_n_server_args; i++)
                argv[n++] = (char *) arg_server_args[i];
        argv[n++] = (char *) "run";
        argv[n] = NULL;

        while (environ[n_env])
                n_env++;
        envp = calloc(n_env + 4, sizeof(char *));
        if (!envp)
                return log_oom();
        for (size_t i = 0; i < n_env; i++)
                envp[i] = environ[i];
        envp[n_env++] = (char *) "LISTEN_FDS=1";
        envp[n_env++] = (char *) "LISTEN_FDNAMES=patela-server.socket";
        envp[n_env++] = listen_pid;

        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork: %m");
        if (pid == 0) {
                /* Only async-signal-safe calls from here on. */
                format_uint(listen_pid + strlen("LISTEN_PID="), sizeof(listen_pid) - strlen("LISTEN_PID="),
                            (unsigned long) getpid());
                if (dup2(fd, 3) < 0 || dup2(f->log_fd, STDOUT_FILENO) < 0 || dup2(f->log_fd, STDERR_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                execve(argv[0], argv, envp);
                _exit(127);
        }
        s->pid = pid;
        s->starts++;
        return 0;
}

/* The server answers GET /v1/health: it has opened (and recovered) the database and serves. */
static int server_wait(Fleet *f, Server *s) {
        _cleanup_(bench_http_freep) BenchHttp *h = NULL;
        const char *reply;
        size_t size;
        long status;
        int r, wstatus;

        r = bench_http_new(f->url, f->cacert, /* fresh_connections= */ true, &h);
        if (r < 0)
                return log_error_errno(r, "Failed to set up an HTTPS client: %m");
        r = bench_http_get(h, proto_endpoint_path(PROTO_HEALTH), NULL, &status, &reply, &size);
        if (r >= 0 && status == 200)
                return 0;
        if (waitpid(s->pid, &wstatus, WNOHANG) == s->pid) {
                s->pid = 0;
                return log_error_errno(EIO, "Round %u: patela-server exited at start (status %d); see its log.",
                                       f->round, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus));
        }
        return log_error_errno(EIO, "Round %u: patela-server does not answer GET /v1/health: %s", f->round,
                               r < 0 ? bench_http_error(h) : "not 200");
}

static int server_signal(Server *s, int sig) {
        int wstatus;

        if (s->pid <= 0)
                return 0;
        if (kill(s->pid, sig) < 0)
                return log_error_errno(errno, "Failed to signal patela-server: %m");
        while (waitpid(s->pid, &wstatus, 0) < 0)
                if (errno != EINTR)
                        return log_error_errno(errno, "Failed to wait for patela-server: %m");
        s->pid = 0;
        if (sig == SIGKILL) {
                s->kills++;
                return 0;
        }
        if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
                return log_error_errno(EIO, "patela-server did not stop cleanly (status %d).",
                                       WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus));
        return 0;
}

static void help(void) {
        printf("%s --server=PATH --database=DB --certificate=PEM --private-key=PEM --cacert=PEM\n"
               "        --reference=JSON --work-dir=DIR [OPTIONS]\n\n"
               "Kills patela-server with SIGKILL at random moments under a mixed workload and checks that\n"
               "nothing it acknowledged was lost.\n\n"
               "  --database=DB        the server's Database= (a SQLite file or a postgresql:// URI)\n"
               "  --reference=JSON     an image reference (patela.reference.json) to derive images from\n"
               "  --rounds=N           kills (default 10)\n"
               "  --operations=N       operations in all (default 1000)\n"
               "  --threads=N          client threads (default 4)\n"
               "  --seed=N             the random seed (default: random, printed)\n"
               "  --journal=FILE       the journal of acknowledged changes (default WORK/journal)\n"
               "  --server-arg=ARG     one more argument for patela-server (repeatable)\n"
               "  --no-kill-cli        kill only the server (by default each admin command running at the\n"
               "                       moment of a kill is killed too, with probability 1/2)\n"
               "  --database-crash=CMD a command (run with sh -c) that crashes the database server and starts it\n"
               "                       again, e.g. pg_ctl stop -m immediate && pg_ctl start\n"
               "  --database-crash-rounds=K\n"
               "                       run it in every K-th round, at the moment of the kill, under the\n"
               "                       workload; the server must survive it, is killed a few operations later\n"
               "  --tamper             after the last kill, damage the database (the checks' self-test:\n"
               "                       the run must then fail)\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_SERVER = 0x100,
                ARG_DATABASE,
                ARG_CERTIFICATE,
                ARG_PRIVATE_KEY,
                ARG_CACERT,
                ARG_REFERENCE,
                ARG_WORK_DIR,
                ARG_JOURNAL,
                ARG_ROUNDS,
                ARG_OPERATIONS,
                ARG_THREADS,
                ARG_SEED,
                ARG_SERVER_ARG,
                ARG_TAMPER,
                ARG_NO_KILL_CLI,
                ARG_DATABASE_CRASH,
                ARG_DATABASE_CRASH_ROUNDS,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "server", required_argument, NULL, ARG_SERVER },
                { "database", required_argument, NULL, ARG_DATABASE },
                { "certificate", required_argument, NULL, ARG_CERTIFICATE },
                { "private-key", required_argument, NULL, ARG_PRIVATE_KEY },
                { "cacert", required_argument, NULL, ARG_CACERT },
                { "reference", required_argument, NULL, ARG_REFERENCE },
                { "work-dir", required_argument, NULL, ARG_WORK_DIR },
                { "journal", required_argument, NULL, ARG_JOURNAL },
                { "rounds", required_argument, NULL, ARG_ROUNDS },
                { "operations", required_argument, NULL, ARG_OPERATIONS },
                { "threads", required_argument, NULL, ARG_THREADS },
                { "seed", required_argument, NULL, ARG_SEED },
                { "server-arg", required_argument, NULL, ARG_SERVER_ARG },
                { "tamper", no_argument, NULL, ARG_TAMPER },
                { "no-kill-cli", no_argument, NULL, ARG_NO_KILL_CLI },
                { "database-crash", required_argument, NULL, ARG_DATABASE_CRASH },
                { "database-crash-rounds", required_argument, NULL, ARG_DATABASE_CRASH_ROUNDS },
                {}
        };
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        exit(EXIT_SUCCESS);
                case ARG_SERVER:
                        arg_server = optarg;
                        break;
                case ARG_DATABASE:
                        arg_database = optarg;
                        break;
                case ARG_CERTIFICATE:
                        arg_certificate = optarg;
                        break;
                case ARG_PRIVATE_KEY:
                        arg_private_key = optarg;
                        break;
                case ARG_CACERT:
                        arg_cacert = optarg;
                        break;
                case ARG_REFERENCE:
                        arg_reference = optarg;
                        break;
                case ARG_WORK_DIR:
                        arg_work_dir = optarg;
                        break;
                case ARG_JOURNAL:
                        arg_journal = optarg;
                        break;
                case ARG_ROUNDS:
                        r = safe_atou64(optarg, 100000, &arg_rounds);
                        break;
                case ARG_OPERATIONS:
                        r = safe_atou64(optarg, 100000000, &arg_operations);
                        break;
                case ARG_THREADS:
                        r = safe_atou64(optarg, 256, &arg_threads);
                        break;
                case ARG_SEED:
                        r = safe_atou64(optarg, UINT32_MAX, &arg_seed);
                        arg_seed_set = true;
                        break;
                case ARG_NO_KILL_CLI:
                        arg_kill_cli = false;
                        break;
                case ARG_TAMPER:
                        arg_tamper = true;
                        break;
                case ARG_DATABASE_CRASH:
                        arg_database_crash = optarg;
                        break;
                case ARG_DATABASE_CRASH_ROUNDS:
                        r = safe_atou64(optarg, 100000, &arg_database_crash_rounds);
                        break;
                case ARG_SERVER_ARG:
                        if (arg_n_server_args >= SERVER_ARGS_MAX)
                                return log_error_errno(E2BIG, "At most %u --server-arg=.", SERVER_ARGS_MAX);
                        arg_server_args[arg_n_server_args++] = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (r < 0)
                return log_error_errno(r, "Invalid number.");
        if (optind < argc)
                return log_error_errno(EINVAL, "No positional arguments.");
        if (!arg_server || !arg_database || !arg_certificate || !arg_private_key || !arg_cacert || !arg_reference ||
            !arg_work_dir)
                return log_error_errno(EINVAL, "--server, --database, --certificate, --private-key, --cacert, "
                                       "--reference and --work-dir are needed (--help).");
        if (arg_rounds == 0 || arg_threads == 0 || arg_operations < arg_rounds)
                return log_error_errno(EINVAL, "At least one round and thread, and one operation per round.");
        if (!arg_database_crash != (arg_database_crash_rounds == 0))
                return log_error_errno(EINVAL, "--database-crash= and --database-crash-rounds= go together.");
        return 1;
}

/* What a crash must never do, done by hand: an old attestation changed, the oldest transparency log entry
 * changed and the newest removed (past their triggers: dur_db_exec()), an enabled node disabled without the
 * server's transaction (its sessions stay); on PostgreSQL also an index that lost an entry (dur_db_damage()). */
static int tamper(Fleet *f) {
        static const char *const sqls[] = {
                "UPDATE attestations SET source = 'tampered' WHERE id = (SELECT MIN(id) FROM attestations)",
                "UPDATE tlog_entries SET entry = CAST('tampered' AS BLOB) WHERE idx = 0",
                "DELETE FROM tlog_entries WHERE idx = (SELECT MAX(idx) FROM tlog_entries)",
                "UPDATE nodes SET state = 'disabled' WHERE id = (SELECT MIN(id) FROM nodes WHERE state = 'enabled')",
        };
        _cleanup_(dur_db_closep) DurDb *db = NULL;
        int r;

        log_warning("Round %u: tampering with the database (--tamper).", f->round);
        r = dur_db_open(f->database, &db);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sqls); i++)
                r = dur_db_exec(db, sqls[i]);
        if (r >= 0) {
                r = dur_db_damage(db);
                if (r == -EOPNOTSUPP)
                        r = 0;
        }
        return r;
}

/* The database server crashes and starts again (its crash recovery from the WAL) under the workload, at the
 * moment the server is to be killed: requests and commands in flight lose their connections (a refusal now
 * counts as cut off: Fleet.database_down), the server's connections break and are made again at their next
 * statement. A few more operations run on the server's new connections, then the kill comes as in any round.
 * The server must survive the crash. */
static int database_crash(Fleet *f, Server *s, Workload *w, CheckState *c, unsigned *seed) {
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) arg_database_crash, NULL };
        unsigned long long until;
        uint64_t t0;
        int status, wstatus, r;

        atomic_store(&f->database_down, true);
        fleet_journal_note(f, "crash of the database server after %llu operations started: %s",
                           (unsigned long long) atomic_load(&w->started), arg_database_crash);
        r = dur_run(argv, f->log_fd, NULL, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to run '%s': %m", arg_database_crash);
        if (status != 0)
                return log_error_errno(EIO, "Round %u: '%s' failed with status %d.", f->round, arg_database_crash,
                                       status);
        until = atomic_load(&w->started) + 1 + (unsigned) rand_r(seed) % 20;
        t0 = now_nsec();
        while (atomic_load(&w->started) < until && !workload_finished(w) && now_nsec() - t0 < 5ULL * 1000000000ULL)
                (void) usleep(200);
        if (waitpid(s->pid, &wstatus, WNOHANG) == s->pid) {
                s->pid = 0;
                check_violation(f, c, "patela-server exited (status %d) when the database server crashed",
                                WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus));
        }
        return 0;
}

static void print_counters(const Fleet *f) {
        for (DurOp o = 0; o < _DUR_OP_MAX; o++)
                log_info("  %-13s attempted %6llu  acknowledged %6llu  refused %5llu  cut off %5llu", dur_op_to_string(o),
                         atomic_load(&f->counters.attempted[o]), atomic_load(&f->counters.acked[o]),
                         atomic_load(&f->counters.refused[o]), atomic_load(&f->counters.unknown[o]));
}

static unsigned long long sum(const atomic_ullong *v) {
        unsigned long long s = 0;

        for (DurOp o = 0; o < _DUR_OP_MAX; o++)
                s += atomic_load(&v[o]);
        return s;
}

static int run(void) {
        _cleanup_free_ char *journal_path = NULL, *url = NULL, *log_path = NULL;
        _cleanup_close_ int log_fd = -EBADF;
        Fleet f = {
                .server = arg_server,
                .database = arg_database,
                .reference = arg_reference,
                .work_dir = arg_work_dir,
                .cacert = (char *) arg_cacert,
        };
        Workload w = {
                .fleet = &f,
                .n_threads = (unsigned) arg_threads,
                .total = arg_operations,
        };
        CheckState c = {};
        Server s = {};
        unsigned rs;
        uint64_t t0 = now_nsec();
        unsigned long long per = arg_operations / arg_rounds, stalls = 0, cli_kills = 0, db_crashes = 0;
        int r;

        if (!arg_seed_set && getrandom(&rs, sizeof(rs), 0) == sizeof(rs))
                arg_seed = rs;
        w.seed = arg_seed;
        rs = (unsigned) arg_seed;
        unsigned cli_seed = rs ^ 0x5bd1e995U;
        log_info("Seed %llu (--seed=%llu repeats the operations and kill targets). %llu rounds, %llu operations, "
                 "%llu threads, database %s.",
                 arg_seed, arg_seed, arg_rounds, arg_operations, arg_threads, arg_database);

        if (asprintf(&log_path, "%s/server.log", arg_work_dir) < 0)
                return log_oom();
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", log_path);
        f.log_fd = log_fd;
        if (!arg_journal) {
                if (asprintf(&journal_path, "%s/journal", arg_work_dir) < 0)
                        return log_oom();
                arg_journal = journal_path;
        }
        f.journal = fopen(arg_journal, "we");
        if (!f.journal)
                return log_error_errno(errno, "Failed to open %s: %m", arg_journal);
        pthread_mutex_init(&f.lock, NULL);

        r = check_setup(&f, &c);
        if (r >= 0)
                r = workload_seed_pools(&f);
        if (r >= 0)
                r = server_start(&f, &s);
        if (r < 0)
                goto finish;
        if (asprintf(&url, "https://127.0.0.1:%u", s.port) < 0) {
                r = log_oom();
                goto finish;
        }
        f.url = url;
        r = server_wait(&f, &s);
        if (r >= 0)
                r = workload_start(&w);
        if (r < 0)
                goto finish;

        for (unsigned round = 1; round <= arg_rounds; round++) {
                unsigned long long target = per * (round - 1) + 1 + (unsigned long long) rand_r(&rs) % per;
                unsigned delay_us = (unsigned) rand_r(&rs) % 3000;
                uint64_t t_round = now_nsec();

                f.round = round;
                uint64_t t_stall = now_nsec();
                unsigned long long seen = atomic_load(&w.done);
                while (atomic_load(&w.started) < target && !workload_finished(&w)) {
                        (void) usleep(200);
                        /* No operation finished for 10 s: the server or a CLI hangs, or the machine stopped
                         * processes for a while (SIGSTOP; a shared machine's benchmark did that here). Said,
                         * counted, and the kill goes ahead. */
                        if (atomic_load(&w.done) != seen) {
                                seen = atomic_load(&w.done);
                                t_stall = now_nsec();
                        } else if (now_nsec() - t_stall > 10ULL * 1000000000ULL) {
                                log_warning("Round %u: no operation finished for 10 s (%llu started, %llu done; a "
                                            "hung server or command, or processes stopped): killing the server now.",
                                            round,
                                            (unsigned long long) atomic_load(&w.started), seen);
                                stalls++;
                                break;
                        }
                }
                if (atomic_load(&w.failed)) {
                        r = -EIO;
                        goto finish;
                }
                (void) usleep(delay_us);
                bool crash = arg_database_crash_rounds > 0 && round % arg_database_crash_rounds == 0;
                if (crash) {
                        c.shown = 0;
                        r = database_crash(&f, &s, &w, &c, &rs);
                        if (r < 0)
                                goto finish;
                        db_crashes++;
                }
                r = server_signal(&s, SIGKILL);
                if (r < 0)
                        goto finish;
                /* Its own random stream: how many commands run at the moment varies between runs, and must not
                 * move the kill targets of a seed. */
                unsigned killed = arg_kill_cli ? dur_kill_children(&cli_seed) : 0;
                cli_kills += killed;
                fleet_journal_note(&f, "kill -9 of the server and %u admin commands after %llu operations started",
                                   killed, (unsigned long long) atomic_load(&w.started));
                uint64_t t_kill = now_nsec();
                workload_pause(&w);
                uint64_t t_paused = now_nsec();

                atomic_store(&f.database_down, false);
                if (arg_tamper && round == arg_rounds) {
                        r = tamper(&f);
                        if (r < 0)
                                goto finish;
                }
                r = check_database(&f, &c);
                if (r < 0)
                        goto finish;
                uint64_t t_checked = now_nsec();
                r = server_start(&f, &s);
                if (r >= 0)
                        r = server_wait(&f, &s);
                if (r >= 0)
                        r = check_server(&f, &c);
                if (r < 0)
                        goto finish;
                log_info("Round %u: killed after %llu operations (+%u µs, %u admin commands too%s), %zu nodes, "
                         "%llu acknowledged so far, "
                         "%llu checks of acknowledged changes, %llu violations; %.2f s: workload %.2f, drain %.2f, "
                         "database checks %.2f, restart and token checks %.2f.",
                         round, (unsigned long long) MIN(atomic_load(&w.started), arg_operations), delay_us,
                         killed, crash ? ", the database server crashed" : "", f.n_nodes, sum(f.counters.acked),
                         c.changes_checked, c.violations,
                         (double) (now_nsec() - t_round) / 1e9, (double) (t_kill - t_round) / 1e9,
                         (double) (t_paused - t_kill) / 1e9, (double) (t_checked - t_paused) / 1e9,
                         (double) (now_nsec() - t_checked) / 1e9);
                workload_resume(&w);
        }

        /* The operations after the last kill, then a clean stop and the last check. */
        workload_join(&w);
        if (atomic_load(&w.failed)) {
                r = -EIO;
                goto finish;
        }
        r = server_signal(&s, SIGTERM);
        if (r < 0)
                goto finish;
        f.round = (unsigned) arg_rounds + 1;
        r = check_database(&f, &c);
        if (r < 0)
                goto finish;

        double secs = (double) (now_nsec() - t0) / 1e9;
        log_info("Done: %u kills of the server and %llu of admin commands, %llu crashes of the database server, "
                 "%llu operations (%llu acknowledged, %llu refused, %llu cut off), %zu nodes, %llu checks of "
                 "acknowledged changes, %llu session tokens tried, %llu violations, %.1f s.",
                 s.kills, cli_kills, db_crashes, sum(f.counters.attempted), sum(f.counters.acked),
                 sum(f.counters.refused), sum(f.counters.unknown), f.n_nodes, c.changes_checked, c.tokens_checked,
                 c.violations, secs);
        print_counters(&f);
        printf("{\"seed\":%llu,\"rounds\":%llu,\"kills\":%u,\"cli_kills\":%llu,\"database_crashes\":%llu,"
               "\"threads\":%llu,\"operations\":%llu,\"acknowledged\":%llu,\"refused\":%llu,\"cut_off\":%llu,\"nodes\":%zu,"
               "\"changes_checked\":%llu,\"tokens_checked\":%llu,\"violations\":%llu,\"stalls\":%llu,\"seconds\":%.1f}\n",
               arg_seed, arg_rounds, s.kills, cli_kills, db_crashes, arg_threads, sum(f.counters.attempted),
               sum(f.counters.acked), sum(f.counters.refused), sum(f.counters.unknown), f.n_nodes, c.changes_checked,
               c.tokens_checked, c.violations, stalls, secs);
        r = c.violations > 0 ? -EUCLEAN : 0;
finish:
        if (s.pid > 0)
                (void) server_signal(&s, SIGKILL);
        if (r < 0 && r != -EUCLEAN)
                log_error("Stopped in round %u (seed %llu); the server's log is %s, the journal %s.", f.round,
                          arg_seed, log_path, arg_journal);
        workload_done(&w);
        check_state_done(&c);
        fleet_done(&f);
        if (f.journal)
                fclose(f.journal);
        return r;
}

int main(int argc, char *argv[]) {
        int r;

        (void) signal(SIGPIPE, SIG_IGN);
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        r = run();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
