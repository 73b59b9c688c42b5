/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela-server log …: the transparency log (docs/transparency.md). Every verb reads in one transaction, so
 * a head, its proof and its entries belong to the same log. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "server-cli.h"
#include "server-tlog.h"
#include "string-util.h"
#include "tlog-note.h"

static void print_proof(const TlogHash *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = base64mem(p[i].bytes, TLOG_HASH_SIZE);
                printf("%s\n", s ?: "?");
        }
}

static int parse_size(const char *s, uint64_t *ret) {
        unsigned long long v;
        int r = safe_atou64(s, TLOG_SIZE_MAX, &v);
        if (r < 0)
                return log_error_errno(r, "'%s' is not an entry index or log size.", s), -EINVAL;
        *ret = v;
        return 0;
}

/* Runs f inside a read transaction of the CLI's database. */
static int in_read_transaction(Cli *cli, int (*f)(Db *db, void *userdata), void *userdata) {
        Db *db;
        int r;

        r = cli_db(cli, &db);
        if (r < 0)
                return r;
        r = db_begin_read(db);
        if (r < 0)
                return r;
        r = f(db, userdata);
        (void) db_commit(db);
        return r;
}

typedef struct Head {
        uint64_t size;
        TlogHash root;
} Head;

static int read_head(Db *db, void *userdata) {
        Head *h = userdata;
        int r = server_tlog_size(db, &h->size);
        if (r < 0 || h->size == 0)
                return r;
        return server_tlog_root(db, h->size, &h->root);
}

static int log_show(Cli *cli) {
        Head h = {};
        _cleanup_free_ char *root = NULL;
        int r;

        r = in_read_transaction(cli, read_head, &h);
        if (r < 0)
                return log_error_errno(r, "Failed to read the transparency log: %m"), cli_exit_status(r);
        root = h.size > 0 ? base64mem(h.root.bytes, TLOG_HASH_SIZE) : NULL;
        if (cli->json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "size", json_object_new_int64((int64_t) h.size));
                json_object_object_add(o, "root", root ? json_object_new_string(root) : NULL);
                cli_print_json(o);
        } else
                printf("size: %" PRIu64 "\nroot: %s\n", h.size, root ?: "-");
        return EXIT_SUCCESS;
}

typedef struct Verify {
        uint64_t size;
        TlogHash root;
        char reason[256];
} Verify;

static int verify_tx(Db *db, void *userdata) {
        Verify *v = userdata;
        return server_tlog_verify(db, &v->size, &v->root, v->reason, sizeof(v->reason));
}

static int log_verify(Cli *cli) {
        _cleanup_free_ char *root = NULL;
        Verify v = {};
        int r;

        r = in_read_transaction(cli, verify_tx, &v);
        if (r < 0 && r != -EBADMSG)
                return log_error_errno(r, "Failed to read the transparency log: %m"), cli_exit_status(r);
        root = r >= 0 && v.size > 0 ? base64mem(v.root.bytes, TLOG_HASH_SIZE) : NULL;
        if (cli->json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "verified", json_object_new_boolean(r >= 0));
                json_object_object_add(o, "size", r >= 0 ? json_object_new_int64((int64_t) v.size) : NULL);
                json_object_object_add(o, "root", root ? json_object_new_string(root) : NULL);
                json_object_object_add(o, "reason", r < 0 ? json_object_new_string(v.reason) : NULL);
                cli_print_json(o);
        }
        if (r < 0) {
                log_error("The transparency log does not verify: %s.", v.reason);
                return EXIT_FAILURE;
        }
        if (!cli->json)
                printf("verified: %" PRIu64 " entries, every stored hash recomputed from them; root %s\n", v.size,
                       root ?: "-");
        return EXIT_SUCCESS;
}

typedef struct Entry {
        uint64_t index;
        char *text;
        TlogKind kind;
        int64_t at;
} Entry;

static int entry_tx(Db *db, void *userdata) {
        Entry *e = userdata;
        return server_tlog_entry(db, e->index, &e->text, &e->kind, &e->at);
}

static int log_entry(Cli *cli, const char *index) {
        Entry e = {};
        int r;

        if (parse_size(index, &e.index) < 0)
                return EXIT_USAGE;
        r = in_read_transaction(cli, entry_tx, &e);
        if (r == -ENOENT)
                return log_error_errno(r, "The log has no entry %" PRIu64 ".", e.index), EXIT_NOT_FOUND;
        if (r < 0)
                return log_error_errno(r, "Failed to read entry %" PRIu64 ": %m", e.index), cli_exit_status(r);
        if (cli->json) {
                TlogHash leaf;
                json_object *o = json_object_new_object();
                (void) tlog_leaf_hash(e.text, strlen(e.text), &leaf);
                json_object_object_add(o, "index", json_object_new_int64((int64_t) e.index));
                json_object_object_add(o, "kind", json_object_new_string(tlog_kind_to_string(e.kind) ?: "?"));
                json_object_object_add(o, "time", json_object_new_int64(e.at));
                json_object_object_add(o, "entry", json_object_new_string(e.text));
                json_object_object_add(o, "leafHash", server_tlog_hash_json(&leaf));
                cli_print_json(o);
        } else
                fputs(e.text, stdout);
        free(e.text);
        return EXIT_SUCCESS;
}

typedef struct Proof {
        bool consistency;
        uint64_t a, b; /* inclusion: index, size; consistency: size1, size2 */
        TlogHash proof[TLOG_PROOF_MAX], root, root1;
        size_t n;
} Proof;

static int proof_tx(Db *db, void *userdata) {
        Proof *p = userdata;
        uint64_t size;
        int r;

        r = server_tlog_size(db, &size);
        if (r < 0)
                return r;
        if (p->b == 0)
                p->b = size;
        if (p->b > size || p->b == 0)
                return -ERANGE;
        r = server_tlog_root(db, p->b, &p->root);
        if (r < 0)
                return r;
        if (!p->consistency)
                return server_tlog_prove_inclusion(db, p->a, p->b, p->proof, &p->n);
        r = server_tlog_root(db, p->a, &p->root1);
        if (r < 0)
                return r;
        return server_tlog_prove_consistency(db, p->a, p->b, p->proof, &p->n);
}

static int log_proof(Cli *cli, int argc, char **argv) {
        Proof p = {};
        int r;

        if (argc >= 1 && streq(argv[0], "--consistency")) {
                if (argc != 3 || parse_size(argv[1], &p.a) < 0 || parse_size(argv[2], &p.b) < 0)
                        return log_error_errno(EINVAL, "Usage: log proof --consistency SIZE1 SIZE2"), EXIT_USAGE;
                p.consistency = true;
                if (p.a == 0 || p.a > p.b)
                        return log_error_errno(EINVAL, "A consistency proof needs 1 ≤ SIZE1 ≤ SIZE2."), EXIT_USAGE;
        } else if (argc < 1 || argc > 2 || parse_size(argv[0], &p.a) < 0 || (argc == 2 && parse_size(argv[1], &p.b) < 0))
                return log_error_errno(EINVAL, "Usage: log proof INDEX [SIZE] | log proof --consistency SIZE1 SIZE2"),
                       EXIT_USAGE;
        else if (argc == 2 && p.a >= p.b)
                return log_error_errno(EINVAL, "The entry index must be below the size."), EXIT_USAGE;

        r = in_read_transaction(cli, proof_tx, &p);
        if (r == -ERANGE || r == -EINVAL)
                return log_error_errno(r, "The log is not that long."), EXIT_NOT_FOUND;
        if (r < 0)
                return log_error_errno(r, "Failed to compute the proof: %m"), cli_exit_status(r);
        if (cli->json) {
                json_object *o = json_object_new_object();
                if (p.consistency) {
                        json_object_object_add(o, "size1", json_object_new_int64((int64_t) p.a));
                        json_object_object_add(o, "size2", json_object_new_int64((int64_t) p.b));
                        json_object_object_add(o, "root1", server_tlog_hash_json(&p.root1));
                        json_object_object_add(o, "root2", server_tlog_hash_json(&p.root));
                } else {
                        json_object_object_add(o, "index", json_object_new_int64((int64_t) p.a));
                        json_object_object_add(o, "size", json_object_new_int64((int64_t) p.b));
                        json_object_object_add(o, "root", server_tlog_hash_json(&p.root));
                }
                json_object_object_add(o, "proof", server_tlog_proof_json(p.proof, p.n));
                cli_print_json(o);
        } else
                print_proof(p.proof, p.n);
        return EXIT_SUCCESS;
}

/* The signer key goes to a new file only (O_EXCL), 0600 from its creation: it signs the fleet's history. */
static int log_init(const char *origin, const char *path) {
        _cleanup_free_ char *signer = NULL, *verifier = NULL, *pub = NULL, *verifier_line = NULL;
        _cleanup_close_ int fd = -EBADF;
        TlogKey k;
        int r;

        if (!tlog_key_name_valid(origin))
                return log_error_errno(EINVAL, "The origin '%s' is not a key name: printable ASCII without spaces or '+', at most %u bytes.",
                                       origin, TLOG_KEY_NAME_MAX),
                       EXIT_USAGE;
        r = tlog_key_generate(origin, &k);
        if (r >= 0)
                r = tlog_key_format_signer(&k, &signer);
        if (r >= 0)
                r = tlog_key_format_verifier(&k, &verifier);
        tlog_key_done(&k);
        if (r < 0)
                return log_error_errno(r, "Failed to make the log's key: %m"), EXIT_FAILURE;

        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
                explicit_bzero(signer, strlen(signer));
                return log_error_errno(r, "Failed to create %s (an existing key is never replaced): %m", path),
                       r == -EEXIST ? EXIT_REFUSED : EXIT_FAILURE;
        }
        r = dprintf(fd, "%s\n", signer) == (int) strlen(signer) + 1 ? 0 : -EIO;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        explicit_bzero(signer, strlen(signer));
        if (r < 0) {
                (void) unlink(path);
                return log_error_errno(r, "Failed to write %s: %m", path), EXIT_FAILURE;
        }
        if (asprintf(&pub, "%s.pub", path) < 0 || asprintf(&verifier_line, "%s\n", verifier) < 0)
                return log_oom(), EXIT_FAILURE;
        r = write_file_atomic(pub, verifier_line, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", pub), EXIT_FAILURE;
        printf("%s\n", verifier);
        log_info("The log's signer key is in %s (0600), its verifier key above and in %s: give the verifier key "
                 "to monitors and nodes.",
                 path, pub);
        return EXIT_SUCCESS;
}

static int read_signer(const char *path, TlogKey *ret) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(path, 1024, (void **) &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read the log's signer key %s: %m", path);
        text[strcspn(text, "\n")] = '\0'; /* read_full_file() ends the data with a NUL */
        r = tlog_key_parse_signer(text, ret);
        explicit_bzero(text, size);
        if (r < 0)
                return log_error_errno(r, "%s is not a signer key of the log.", path);
        return 0;
}

static int log_checkpoint(Cli *cli, const char *key_path) {
        _cleanup_free_ char *text = NULL, *note = NULL;
        Head h = {};
        TlogKey k;
        int r;

        r = read_signer(key_path, &k);
        if (r < 0)
                return EXIT_FAILURE;
        r = in_read_transaction(cli, read_head, &h);
        if (r >= 0 && h.size == 0)
                r = -ENODATA;
        if (r >= 0)
                r = tlog_checkpoint_format(k.name, h.size, &h.root, &text);
        if (r >= 0)
                r = tlog_note_sign(&k, text, &note);
        tlog_key_done(&k);
        if (r == -ENODATA)
                return log_error_errno(r, "The log is empty: nothing to sign yet."), EXIT_NOT_FOUND;
        if (r < 0)
                return log_error_errno(r, "Failed to sign the checkpoint: %m"), cli_exit_status(r);
        fputs(note, stdout);
        return EXIT_SUCCESS;
}

int verb_log(Cli *cli, int argc, char **argv) {
        const char *sub = argc > 1 ? argv[1] : "show";

        if (streq(sub, "show") && argc <= 2)
                return log_show(cli);
        if (streq(sub, "verify") && argc <= 2)
                return log_verify(cli);
        if (streq(sub, "entry") && argc == 3)
                return log_entry(cli, argv[2]);
        if (streq(sub, "proof"))
                return log_proof(cli, argc - 2, argv + 2);
        if (streq(sub, "init") && argc == 4)
                return log_init(argv[2], argv[3]);
        if (streq(sub, "checkpoint") && argc == 3)
                return log_checkpoint(cli, argv[2]);
        return log_error_errno(EINVAL, "Usage: log show | verify | entry INDEX | proof INDEX [SIZE] | "
                               "proof --consistency SIZE1 SIZE2 | init ORIGIN KEYFILE | checkpoint KEYFILE"),
               EXIT_USAGE;
}
