/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "bench-http.h"
#include "digest-util.h"
#include "durability-spawn.h"
#include "durability-workload.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "string-util.h"

#define NAMES_PER_POOL_ADD 8U
#define ADDRESSES_PER_POOL_ADD 4U
#define RELAYS_MAX 3U
#define PICK_TRIES 16U

static const char *const state_table[_DUR_STATE_MAX] = {
        [DUR_PENDING] = "pending",
        [DUR_ENABLED] = "enabled",
        [DUR_DISABLED] = "disabled",
};

const char *dur_state_to_string(DurState s) {
        return s >= 0 && s < _DUR_STATE_MAX ? state_table[s] : NULL;
}

DurState dur_state_from_string(const char *s) {
        for (DurState i = 0; i < _DUR_STATE_MAX; i++)
                if (s && streq(s, state_table[i]))
                        return i;
        return _DUR_STATE_INVALID;
}

static const char *const op_table[_DUR_OP_MAX] = {
        [DUR_OP_ENROL] = "enrol",
        [DUR_OP_AUTH] = "auth",
        [DUR_OP_ENABLE] = "enable",
        [DUR_OP_DISABLE] = "disable",
        [DUR_OP_RELAYS] = "relays",
        [DUR_OP_POOL] = "pool-add",
        [DUR_OP_IMAGE_ADD] = "image-add",
        [DUR_OP_IMAGE_RETIRE] = "image-retire",
};

const char *dur_op_to_string(DurOp o) {
        return o >= 0 && o < _DUR_OP_MAX ? op_table[o] : NULL;
}

/* The mix, per thousand operations. A node operation with no node to act on becomes an enrolment. */
static const unsigned op_weight[_DUR_OP_MAX] = {
        [DUR_OP_ENROL] = 250,
        [DUR_OP_AUTH] = 450,
        [DUR_OP_ENABLE] = 110,
        [DUR_OP_DISABLE] = 50,
        [DUR_OP_RELAYS] = 60,
        [DUR_OP_POOL] = 50,
        [DUR_OP_IMAGE_ADD] = 20,
        [DUR_OP_IMAGE_RETIRE] = 10,
};

void fleet_done(Fleet *f) {
        for (size_t i = 0; i < f->n_nodes; i++) {
                bench_identity_done(&f->nodes[i]->id);
                pthread_mutex_destroy(&f->nodes[i]->lock);
                free(f->nodes[i]);
        }
        free(f->nodes);
        for (size_t i = 0; i < f->n_pool; i++)
                free(f->pool[i]);
        free(f->pool);
        free(f->images);
}

static void journal_line(Fleet *f, const char *what, const char *fmt, va_list ap) {
        if (!f->journal)
                return;
        pthread_mutex_lock(&f->lock);
        fprintf(f->journal, "%u %s ", f->round, what);
        vfprintf(f->journal, fmt, ap);
        fputc('\n', f->journal);
        pthread_mutex_unlock(&f->lock);
}

void fleet_journal(Fleet *f, DurOp op, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        journal_line(f, dur_op_to_string(op), fmt, ap);
        va_end(ap);
}

void fleet_journal_note(Fleet *f, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        journal_line(f, "#", fmt, ap);
        va_end(ap);
}

static int cli(Fleet *f, char *const *args, bool killable, char **ret_out, int *ret_status) {
        _cleanup_free_ char *db_arg = NULL;
        char *argv[16];
        size_t n = 0;

        if (asprintf(&db_arg, "--database=%s", f->database) < 0)
                return -ENOMEM;
        argv[n++] = (char *) f->server;
        argv[n++] = db_arg;
        for (size_t i = 0; args[i]; i++) {
                if (n >= ELEMENTSOF(argv) - 1)
                        return -E2BIG;
                argv[n++] = args[i];
        }
        argv[n] = NULL;
        return killable ? dur_run_killable(argv, f->log_fd, ret_status) : dur_run(argv, f->log_fd, ret_out, ret_status);
}

int fleet_cli(Fleet *f, char *const *args, char **ret_out, int *ret_status) {
        return cli(f, args, /* killable= */ false, ret_out, ret_status);
}

int fleet_cli_change(Fleet *f, char *const *args, int *ret_status) {
        return cli(f, args, /* killable= */ true, NULL, ret_status);
}

typedef struct WorkerState {
        Workload *workload;
        unsigned index;
        unsigned seed;
        BenchHttp *http;
} WorkerState;

static unsigned rnd(WorkerState *w, unsigned n) {
        return n > 0 ? (unsigned) rand_r(&w->seed) % n : 0;
}

static int fleet_add_node(Fleet *f, DurNode *n) {
        int r = 0;

        pthread_mutex_lock(&f->lock);
        if (f->n_nodes >= f->max_nodes) {
                size_t m = MAX(f->max_nodes * 2, 64U);
                DurNode **p = reallocarray(f->nodes, m, sizeof(DurNode *));
                if (!p)
                        r = -ENOMEM;
                else {
                        f->nodes = p;
                        f->max_nodes = m;
                }
        }
        if (r >= 0)
                f->nodes[f->n_nodes++] = n;
        pthread_mutex_unlock(&f->lock);
        return r;
}

/* A node in the wanted states, locked; NULL if none turned up in a few tries. */
static DurNode *pick_node(WorkerState *w, unsigned state_mask) {
        Fleet *f = w->workload->fleet;

        for (unsigned t = 0; t < PICK_TRIES; t++) {
                DurNode *n;
                size_t count;

                pthread_mutex_lock(&f->lock);
                count = f->n_nodes;
                n = count > 0 ? f->nodes[rnd(w, (unsigned) count)] : NULL;
                pthread_mutex_unlock(&f->lock);
                if (!n)
                        return NULL;
                if (pthread_mutex_trylock(&n->lock) != 0)
                        continue;
                if (!n->uncertain && (state_mask & (1U << n->state)))
                        return n;
                pthread_mutex_unlock(&n->lock);
        }
        return NULL;
}

/* ---- over HTTPS ---------------------------------------------------------------------------------------- */

static int op_enrol(WorkerState *w) {
        Fleet *f = w->workload->fleet;
        _cleanup_(proto_enroll_reply_done) ProtoEnrollReply e = {};
        _cleanup_free_ DurNode *n = NULL;
        const char *reply;
        char *proof = NULL;
        ProtoDiag diag = {};
        size_t size;
        long status = 0;
        int r;

        n = calloc(1, sizeof(*n));
        if (!n)
                return log_oom();
        r = bench_identity_generate(TPM2_KEY_ECC_P256, &n->id);
        if (r < 0)
                return log_error_errno(r, "Failed to generate an identity: %m");

        r = bench_http_post(w->http, proto_endpoint_path(PROTO_ENROLL), n->id.enroll_body, &status, &reply, &size);
        if (r >= 0 && status == 200)
                r = bench_answer_proof(n->id.ek, n->id.ak, status, reply, size, &proof);
        if (r >= 0 && status == 200) {
                r = bench_http_post(w->http, proto_endpoint_path(PROTO_ENROLL_PROOF), proof, &status, &reply, &size);
                erase_and_free_sized(proof, strlen(proof));
        }
        if (r >= 0 && status == 202)
                r = proto_enroll_reply_decode(reply, size, status, &e, &diag);

        if (r == -EIO || (r >= 0 && status != 202 && atomic_load(&f->database_down))) {
                /* Cut off (or refused while the database was away): the node may or may not be pending now.
                 * Not ours to check. */
                atomic_fetch_add(&f->counters.unknown[DUR_OP_ENROL], 1);
                goto drop;
        }
        if (r < 0 || status != 202 || e.state != PROTO_ENROLL_PENDING) {
                atomic_fetch_add(&f->counters.refused[DUR_OP_ENROL], 1);
                log_debug("Enrolment refused: HTTP %ld %.200s", status, r >= 0 ? reply : "");
                goto drop;
        }
        n->state = DUR_PENDING;
        n->relay_count = 1; /* --default-relay-count=1 */
        memcpy(n->fingerprint, e.fingerprint, sizeof(n->fingerprint));
        pthread_mutex_init(&n->lock, NULL);
        fleet_journal(f, DUR_OP_ENROL, "%s pending", n->fingerprint);
        atomic_fetch_add(&f->counters.acked[DUR_OP_ENROL], 1);
        r = fleet_add_node(f, n);
        if (r < 0)
                return log_oom();
        TAKE_PTR(n);
        return 0;
drop:
        bench_identity_done(&n->id);
        return 0;
}

static int op_auth(WorkerState *w, DurNode *n) {
        Fleet *f = w->workload->fleet;
        _cleanup_free_ char *attest = NULL;
        char token[BENCH_TOKEN_B64_SIZE];
        const char *reply;
        size_t size;
        long status = 0;
        int r;

        r = bench_http_post(w->http, proto_endpoint_path(PROTO_ENROLL), n->id.enroll_body, &status, &reply, &size);
        if (r < 0 || status != 200) {
                /* No answer sent: no attestation, no session. A challenge may be left over; it expires. */
                atomic_fetch_add(r == -EIO || atomic_load(&f->database_down) ? &f->counters.unknown[DUR_OP_AUTH] :
                                                                               &f->counters.refused[DUR_OP_AUTH], 1);
                if (r >= 0)
                        log_debug("Enrolment of enabled node %s refused: HTTP %ld %.200s", n->fingerprint, status, reply);
                return 0;
        }
        r = bench_answer_challenge(n->id.ek, n->id.ak, /* boot= */ NULL, /* name_logs= */ false, reply, size, &attest,
                                   /* ret_named= */ NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to answer the challenge of %s: %m", n->fingerprint);
        r = bench_http_post(w->http, proto_endpoint_path(PROTO_ATTEST), attest, &status, &reply, &size);
        if (r >= 0 && status == 200)
                r = bench_parse_token(reply, size, token);
        if (r == -EIO) {
                /* The server may have committed the session (ending the node's earlier one) before it died. */
                n->auths_unknown++;
                n->token_live = false;
                fleet_journal_note(f, "auth cut off: %s", n->fingerprint);
                atomic_fetch_add(&f->counters.unknown[DUR_OP_AUTH], 1);
                return 0;
        }
        if (r < 0 || status != 200) {
                /* A refusal logs a rejected attestation and may end the node's sessions. */
                n->auths_unknown++;
                n->token_live = false;
                atomic_fetch_add(atomic_load(&f->database_down) ? &f->counters.unknown[DUR_OP_AUTH] :
                                                                  &f->counters.refused[DUR_OP_AUTH], 1);
                log_debug("Attestation of %s refused: HTTP %ld", n->fingerprint, status);
                return 0;
        }
        n->auths_acked++;
        memcpy(n->token, token, sizeof(token));
        n->token_live = true;
        n->token_refused = false;
        fleet_journal(f, DUR_OP_AUTH, "%s session %u", n->fingerprint, n->auths_acked);
        atomic_fetch_add(&f->counters.acked[DUR_OP_AUTH], 1);
        return 0;
}

/* ---- through the admin CLI ----------------------------------------------------------------------------- */

typedef enum Outcome {
        OUTCOME_ACKED,
        OUTCOME_REFUSED,
        OUTCOME_UNKNOWN,
} Outcome;

/* A CLI change's outcome: exit status 0 acknowledged; any other exit status refused (the CLI rolled back);
 * killed by the driver (with the server) unknown: committed or not; and so is a failure while the database
 * server crashes (a connection lost at COMMIT). */
static int cli_change(WorkerState *w, DurOp op, char *const *args, Outcome *ret) {
        Fleet *f = w->workload->fleet;
        int status, r;

        r = fleet_cli_change(f, args, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to run %s: %m", f->server);
        if (status == 128 + SIGKILL || (status != 0 && status < 128 && atomic_load(&f->database_down))) {
                fleet_journal_note(f, "%s cut off%s: %s %s %s", dur_op_to_string(op),
                                   status == 128 + SIGKILL ? "" : " (the database crashed)", args[0], args[1],
                                   args[2] ? args[2] : "");
                atomic_fetch_add(&f->counters.unknown[op], 1);
                *ret = OUTCOME_UNKNOWN;
                return 0;
        }
        if (status >= 128)
                return log_error_errno(EIO, "patela-server %s %s died of signal %d.", args[0], args[1], status - 128);
        atomic_fetch_add(status == 0 ? &f->counters.acked[op] : &f->counters.refused[op], 1);
        *ret = status == 0 ? OUTCOME_ACKED : OUTCOME_REFUSED;
        return 0;
}

static int op_set_state(WorkerState *w, DurNode *n, DurState state) {
        DurOp op = state == DUR_ENABLED ? DUR_OP_ENABLE : DUR_OP_DISABLE;
        char *args[] = { (char *) "node", (char *) (state == DUR_ENABLED ? "enable" : "disable"), n->fingerprint,
                         NULL };
        Outcome o;
        int r;

        r = cli_change(w, op, args, &o);
        if (r < 0 || o == OUTCOME_REFUSED)
                return r;
        if (o == OUTCOME_UNKNOWN) {
                n->uncertain = true;
                n->state_alt = state;
                n->relay_count_alt = n->relay_count;
                n->token_live = false;
                return 0;
        }
        n->state = state;
        n->admin_acked++;
        if (state != DUR_ENABLED)
                n->token_live = false;
        fleet_journal(w->workload->fleet, op, "%s", n->fingerprint);
        return 0;
}

static int op_relays(WorkerState *w, DurNode *n) {
        char count_s[16];
        char *args[] = { (char *) "node", (char *) "relays", n->fingerprint, count_s, NULL };
        unsigned c = rnd(w, RELAYS_MAX + 1);
        Outcome o;
        int r;

        snprintf(count_s, sizeof(count_s), "%u", c);
        r = cli_change(w, DUR_OP_RELAYS, args, &o);
        if (r < 0 || o == OUTCOME_REFUSED)
                return r;
        if (o == OUTCOME_UNKNOWN) {
                n->uncertain = true;
                n->state_alt = n->state;
                n->relay_count_alt = c;
                return 0;
        }
        n->relay_count = c;
        n->admin_acked++;
        fleet_journal(w->workload->fleet, DUR_OP_RELAYS, "%s %u", n->fingerprint, c);
        return 0;
}

static int fleet_add_pool(Fleet *f, const char *kind, char *const *values, size_t n) {
        int r = 0;

        pthread_mutex_lock(&f->lock);
        if (f->n_pool + n > f->max_pool) {
                size_t m = MAX(f->max_pool * 2, f->n_pool + n + 64);
                char **p = reallocarray(f->pool, m, sizeof(char *));
                if (!p)
                        r = -ENOMEM;
                else {
                        f->pool = p;
                        f->max_pool = m;
                }
        }
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (asprintf(&f->pool[f->n_pool++], "%s %s", kind, values[i]) < 0) {
                        f->n_pool--;
                        r = -ENOMEM;
                }
        pthread_mutex_unlock(&f->lock);
        return r;
}

/* Pool entries unique to this run: names dN, IPv4 addresses counted up from 198.18.0.0 (RFC 2544's
 * benchmarking range, 2^17 addresses). */
static int pool_add(Fleet *f, WorkerState *w, bool names) {
        unsigned k = atomic_fetch_add(&f->next_pool, 1);
        unsigned n = names ? NAMES_PER_POOL_ADD : ADDRESSES_PER_POOL_ADD;
        char values[NAMES_PER_POOL_ADD][20], *args[4 + NAMES_PER_POOL_ADD] = {};
        Outcome o = OUTCOME_REFUSED;
        int r, status;

        args[0] = (char *) "pool";
        args[1] = (char *) "add";
        args[2] = (char *) (names ? "names" : "ipv4");
        for (unsigned i = 0; i < n; i++) {
                unsigned a = k * n + i;
                if (names)
                        snprintf(values[i], sizeof(values[i]), "d%u", a);
                else
                        snprintf(values[i], sizeof(values[i]), "198.%u.%u.%u", 18 + (a >> 16) % 2, (a >> 8) & 255,
                                 a & 255);
                args[3 + i] = values[i];
        }
        if (w)
                /* Cut off: the entries may be there or not; they are not checked. */
                r = cli_change(w, DUR_OP_POOL, args, &o);
        else {
                r = fleet_cli(f, args, NULL, &status);
                if (r >= 0 && status != 0)
                        r = log_error_errno(EIO, "pool add %s failed with status %d.", args[2], status);
                o = OUTCOME_ACKED;
        }
        if (r < 0 || o != OUTCOME_ACKED)
                return r;
        r = fleet_add_pool(f, args[2], args + 3, n);
        if (r < 0)
                return log_oom();
        fleet_journal(f, DUR_OP_POOL, "%s %s … %s", args[2], values[0], values[n - 1]);
        return 0;
}

int workload_seed_pools(Fleet *f) {
        int r;

        for (unsigned i = 0; i < 4; i++) {
                r = pool_add(f, NULL, i % 2 == 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Replaces every occurrence of the 64 hex digits old with new in text. */
static void replace_hex(char *text, const char *old, const char *new) {
        for (char *p = text; (p = strstr(p, old)); p += 64)
                memcpy(p, new, 64);
}

static int json_hex_field(const char *text, const char *key, char ret[static 65]) {
        const char *p = strstr(text, key);

        if (!p)
                return -EBADMSG;
        p = strchr(p + strlen(key), ':');
        if (!p)
                return -EBADMSG;
        p = strchr(p, '"');
        if (!p || strspn(p + 1, "0123456789abcdef") != 64)
                return -EBADMSG;
        memcpy(ret, p + 1, 64);
        ret[64] = '\0';
        return 0;
}

/* A new image: the reference file with its UKI's SHA-256 and Authenticode digest (the two unique columns)
 * replaced by digests unique to this run; PCR 9 and 11 stay as the records give them. */
static int op_image_add(WorkerState *w) {
        Fleet *f = w->workload->fleet;
        unsigned k = atomic_fetch_add(&f->next_image, 1);
        _cleanup_free_ char *text = NULL, *path = NULL;
        char old_sha[65], old_auth[65], sha[65], auth[65], name[32];
        uint8_t d[32];
        size_t size;
        char seed[64];
        Outcome o;
        int r;

        r = read_full_file(f->reference, 65536, (void **) &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", f->reference);
        r = json_hex_field(text, "\"sha256\"", old_sha);
        if (r >= 0)
                r = json_hex_field(text, "\"authenticode\"", old_auth);
        if (r < 0)
                return log_error_errno(r, "%s has no uki.sha256 and uki.authenticode.", f->reference);

        snprintf(seed, sizeof(seed), "%u sha256 %llu", k, w->workload->seed);
        if (!sha256_digest(seed, strlen(seed), d))
                return log_oom();
        hexmem_to(d, 32, sha);
        snprintf(seed, sizeof(seed), "%u authenticode %llu", k, w->workload->seed);
        if (!sha256_digest(seed, strlen(seed), d))
                return log_oom();
        hexmem_to(d, 32, auth);
        replace_hex(text, old_sha, sha);
        replace_hex(text, old_auth, auth);

        snprintf(name, sizeof(name), "dur-%u", k);
        if (asprintf(&path, "%s/image-%u.json", f->work_dir, k) < 0)
                return log_oom();
        r = write_file_atomic(path, text, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);

        char *args[] = { (char *) "image", (char *) "add", path, (char *) "--name", name, NULL };
        r = cli_change(w, DUR_OP_IMAGE_ADD, args, &o);
        (void) unlink(path);
        /* Cut off: the image may be registered or not (its name and digests are never used again). */
        if (r < 0 || o != OUTCOME_ACKED)
                return r;

        pthread_mutex_lock(&f->lock);
        if (f->n_images >= f->max_images) {
                size_t m = MAX(f->max_images * 2, 16U);
                DurImage *p = reallocarray(f->images, m, sizeof(DurImage));
                if (!p)
                        r = -ENOMEM;
                else {
                        f->images = p;
                        f->max_images = m;
                }
        }
        if (r >= 0) {
                DurImage *i = &f->images[f->n_images++];
                *i = (DurImage) {};
                strcpy(i->name, name);
                strcpy(i->sha256, sha);
        }
        pthread_mutex_unlock(&f->lock);
        if (r < 0)
                return log_oom();
        fleet_journal(f, DUR_OP_IMAGE_ADD, "%s %s", name, sha);
        return 0;
}

static int op_image_retire(WorkerState *w) {
        Fleet *f = w->workload->fleet;
        char name[32] = "";
        size_t pick = 0;
        Outcome o;
        int r;

        /* One retirer at a time would need a lock per image; the images are few, the fleet lock is short. */
        pthread_mutex_lock(&f->lock);
        if (f->n_images > 0) {
                pick = rnd(w, (unsigned) f->n_images);
                if (!f->images[pick].retired)
                        strcpy(name, f->images[pick].name);
        }
        pthread_mutex_unlock(&f->lock);
        if (!name[0]) {
                /* Nothing to retire: an image to add instead, counted as such. */
                atomic_fetch_sub(&f->counters.attempted[DUR_OP_IMAGE_RETIRE], 1);
                atomic_fetch_add(&f->counters.attempted[DUR_OP_IMAGE_ADD], 1);
                return op_image_add(w);
        }

        char *args[] = { (char *) "image", (char *) "retire", name, NULL };
        r = cli_change(w, DUR_OP_IMAGE_RETIRE, args, &o);
        if (r < 0 || o == OUTCOME_REFUSED)
                return r;
        pthread_mutex_lock(&f->lock);
        if (o == OUTCOME_UNKNOWN)
                f->images[pick].retire_unknown = true;
        else {
                f->images[pick].retired = true;
                f->images[pick].retire_unknown = false;
        }
        pthread_mutex_unlock(&f->lock);
        if (o == OUTCOME_UNKNOWN)
                return 0;
        fleet_journal(f, DUR_OP_IMAGE_RETIRE, "%s", name);
        return 0;
}

static int run_op(WorkerState *w) {
        Fleet *f = w->workload->fleet;
        unsigned x = rnd(w, 1000), mask = 0;
        DurOp op = 0;
        DurNode *n = NULL;
        int r;

        for (; op < _DUR_OP_MAX - 1 && x >= op_weight[op]; op++)
                x -= op_weight[op];

        switch (op) {
        case DUR_OP_AUTH:
        case DUR_OP_DISABLE:
                mask = 1U << DUR_ENABLED;
                break;
        case DUR_OP_ENABLE:
                mask = 1U << DUR_PENDING | 1U << DUR_DISABLED;
                break;
        case DUR_OP_RELAYS:
                mask = 1U << DUR_PENDING | 1U << DUR_ENABLED | 1U << DUR_DISABLED;
                break;
        default:
                break;
        }
        if (mask) {
                n = pick_node(w, mask);
                if (!n)
                        op = DUR_OP_ENROL;
        }
        atomic_fetch_add(&f->counters.attempted[op], 1);

        switch (op) {
        case DUR_OP_ENROL:
                r = op_enrol(w);
                break;
        case DUR_OP_AUTH:
                r = op_auth(w, n);
                break;
        case DUR_OP_ENABLE:
                r = op_set_state(w, n, DUR_ENABLED);
                break;
        case DUR_OP_DISABLE:
                r = op_set_state(w, n, DUR_DISABLED);
                break;
        case DUR_OP_RELAYS:
                r = op_relays(w, n);
                break;
        case DUR_OP_POOL:
                r = pool_add(f, w, rnd(w, 2) == 0);
                break;
        case DUR_OP_IMAGE_ADD:
                r = op_image_add(w);
                break;
        case DUR_OP_IMAGE_RETIRE:
                r = op_image_retire(w);
                break;
        default:
                abort();
        }
        if (n)
                pthread_mutex_unlock(&n->lock);
        return r;
}

static void *worker(void *p) {
        WorkerState *w = p;
        Workload *wl = w->workload;

        for (;;) {
                pthread_mutex_lock(&wl->lock);
                while (wl->paused) {
                        wl->n_idle++;
                        pthread_cond_broadcast(&wl->idle);
                        pthread_cond_wait(&wl->resume, &wl->lock);
                        wl->n_idle--;
                }
                pthread_mutex_unlock(&wl->lock);

                if (atomic_fetch_add(&wl->started, 1) >= wl->total)
                        break;
                if (run_op(w) < 0) {
                        /* The driver's own failure (out of memory, a CLI that died), not the server's. */
                        log_error("Worker %u stops.", w->index);
                        atomic_store(&wl->failed, true);
                        break;
                }
                atomic_fetch_add(&wl->done, 1);
                /* While the database server is away every operation fails at once: a client backs off rather
                 * than spend the round's operations on refusals. */
                if (atomic_load(&wl->fleet->database_down))
                        (void) usleep(50000);
        }
        pthread_mutex_lock(&wl->lock);
        wl->n_finished++;
        pthread_cond_broadcast(&wl->idle);
        pthread_mutex_unlock(&wl->lock);
        return NULL;
}

int workload_start(Workload *w) {
        int r;

        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->resume, NULL);
        pthread_cond_init(&w->idle, NULL);
        w->threads = calloc(w->n_threads, sizeof(pthread_t));
        w->workers = calloc(w->n_threads, sizeof(WorkerState));
        if (!w->threads || !w->workers)
                return log_oom();
        for (unsigned i = 0; i < w->n_threads; i++) {
                w->workers[i] = (WorkerState) {
                        .workload = w,
                        .index = i,
                        .seed = (unsigned) (w->seed * 2654435761ULL + i * 40503ULL + 1),
                };
                r = bench_http_new(w->fleet->url, w->fleet->cacert, /* fresh_connections= */ false,
                                   &w->workers[i].http);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up an HTTPS client: %m");
        }
        for (unsigned i = 0; i < w->n_threads; i++) {
                r = pthread_create(&w->threads[i], NULL, worker, &w->workers[i]);
                if (r != 0)
                        return log_error_errno(r, "Failed to start a worker: %m");
        }
        return 0;
}

void workload_pause(Workload *w) {
        pthread_mutex_lock(&w->lock);
        w->paused = true;
        while (w->n_idle + w->n_finished < w->n_threads)
                pthread_cond_wait(&w->idle, &w->lock);
        pthread_mutex_unlock(&w->lock);
}

bool workload_finished(Workload *w) {
        bool b;

        pthread_mutex_lock(&w->lock);
        b = w->n_finished == w->n_threads;
        pthread_mutex_unlock(&w->lock);
        return b;
}

void workload_resume(Workload *w) {
        pthread_mutex_lock(&w->lock);
        w->paused = false;
        pthread_cond_broadcast(&w->resume);
        pthread_mutex_unlock(&w->lock);
}

void workload_join(Workload *w) {
        for (unsigned i = 0; i < w->n_threads; i++)
                pthread_join(w->threads[i], NULL);
}

void workload_done(Workload *w) {
        for (unsigned i = 0; w->workers && i < w->n_threads; i++)
                bench_http_free(w->workers[i].http);
        free(w->workers);
        free(w->threads);
}
