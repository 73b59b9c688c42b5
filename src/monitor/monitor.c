/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela-monitor: checks a patela-server's transparency log from outside, with none of the server's code
 * (src/shared/tlog only: the tree, notes, checkpoints). Each run fetches the signed checkpoint, verifies it
 * under the pinned log key, checks that it extends the last one it verified (same origin, not smaller, the
 * new entries — fetched and hashed here — giving exactly the signed head, and the server's consistency proof
 * agreeing), and reads every new entry: a verdict for an image the log never registered is reported, and,
 * given the list of UKIs the operator can rebuild (--images), so is a registration of any other.
 * Problems go to the journal with a MESSAGE_ID each (patela-monitor(8)) and the exit status; the state moves
 * on only over a checkpoint that verified. docs/transparency.md says what this can and cannot detect. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "alloc-util.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "macro.h"
#include "monitor-state.h"
#include "string-util.h"
#include "tlog-note.h"
#include "tlog.h"

#define MONITOR_STATE_DIRECTORY_DEFAULT "/var/lib/patela-monitor"
#define RESPONSE_MAX (2U * 1024 * 1024)
#define ENTRIES_PER_REQUEST 256U

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* What a run can find; each a MESSAGE_ID in the journal (and in patela-monitor(8)). */
typedef enum Finding {
        FINDING_VERIFIED,
        FINDING_BAD_SIGNATURE,
        FINDING_ROLLBACK,
        FINDING_FORK,
        FINDING_UNKNOWN_IMAGE,
        FINDING_UNREPRODUCIBLE_IMAGE,
        FINDING_UNREACHABLE,
        _FINDING_MAX,
} Finding;

static const struct {
        const char *id, *name;
        int priority;
} findings[_FINDING_MAX] = {
        [FINDING_VERIFIED] = { "5098ef6360e7480fbf68a2f84c6f7517", "verified", LOG_INFO },
        [FINDING_BAD_SIGNATURE] = { "c131e6edff0b4660a5d302bea2386e99", "bad-signature", LOG_CRIT },
        [FINDING_ROLLBACK] = { "947a22646b5b43f3ba7aecc458a83871", "rollback", LOG_CRIT },
        [FINDING_FORK] = { "f8d0c736e69c4bdf8b311f080d094d3e", "fork", LOG_CRIT },
        [FINDING_UNKNOWN_IMAGE] = { "c62a79d2e8754aec8dd8f528c771d1cb", "unknown-image", LOG_ERR },
        [FINDING_UNREPRODUCIBLE_IMAGE] = { "0f95e8445c4842d4812d6c336a69e0f8", "unreproducible-image", LOG_ERR },
        [FINDING_UNREACHABLE] = { "da79cdd356b64de3a935d6d5fb3a1260", "unreachable", LOG_WARNING },
};

static const char *arg_url;
static const char *arg_cacert;
static const char *arg_key_text;
static const char *arg_key_file;
static const char *arg_state_directory = MONITOR_STATE_DIRECTORY_DEFAULT;
static const char *arg_images;
static unsigned n_problems;

static void report(Finding f, const char *format, ...) _printf_(2, 3);
static void report(Finding f, const char *format, ...) {
        char message[1024];
        va_list ap;

        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        if (f != FINDING_VERIFIED)
                n_problems++;
        /* Under journald, fields a search can use; else a line on stderr. */
        if (getenv("JOURNAL_STREAM"))
                (void) sd_journal_send("MESSAGE=%s", message, "MESSAGE_ID=%s", findings[f].id, "PRIORITY=%i",
                                       findings[f].priority, "PATELA_MONITOR_FINDING=%s", findings[f].name,
                                       "PATELA_LOG_URL=%s", arg_url, NULL);
        else
                fprintf(stderr, "%s: %s\n", findings[f].name, message);
}

/* ---- HTTPS -------------------------------------------------------------------------------------------- */

typedef struct Buffer {
        char *data;
        size_t size;
        bool too_large;
} Buffer;

static size_t on_data(char *p, size_t size, size_t n, void *userdata) {
        Buffer *b = userdata;
        size_t add = size * n;
        char *d;

        if (b->size + add > RESPONSE_MAX) {
                b->too_large = true;
                return 0;
        }
        d = realloc(b->data, b->size + add + 1);
        if (!d)
                return 0;
        memcpy(d + b->size, p, add);
        b->data = d;
        b->size += add;
        b->data[b->size] = '\0';
        return add;
}

/* GET base URL + path; 0 and the body for a 200, -EIO with the reason otherwise. */
static int get(CURL *curl, const char *path, char **ret, size_t *ret_size) {
        _cleanup_free_ char *url = NULL;
        Buffer b = {};
        long status = 0;
        CURLcode c;

        if (asprintf(&url, "%s%s", arg_url, path) < 0)
                return -ENOMEM;
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
        c = curl_easy_perform(curl);
        if (c == CURLE_OK)
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (c != CURLE_OK || status != 200) {
                report(FINDING_UNREACHABLE, "GET %s: %s", url,
                       c != CURLE_OK ? curl_easy_strerror(c) : b.too_large ? "answer too large" : "not 200");
                free(b.data);
                return -EIO;
        }
        *ret = b.data ?: strdup("");
        *ret_size = b.size;
        return *ret ? 0 : -ENOMEM;
}

/* ---- entries ------------------------------------------------------------------------------------------ */

static bool uki_listed(const char *images, const char *uki) {
        return images && uki && strstr(images, uki) != NULL;
}

/* One new entry, already hashed into the tree: what it says against what was registered. */
static int check_entry(MonitorState *s, uint64_t index, const char *entry, const char *images) {
        char kind[32], name[128], uki[80], image[128];

        if (!tlog_entry_field(entry, "kind", kind, sizeof(kind))) {
                report(FINDING_FORK, "entry %" PRIu64 " has no kind: not an entry this log writes", index);
                return 0;
        }
        if (streq(kind, "image-registered") && tlog_entry_field(entry, "name", name, sizeof(name)) &&
            tlog_entry_field(entry, "uki-sha256", uki, sizeof(uki))) {
                if (images && !uki_listed(images, uki))
                        report(FINDING_UNREPRODUCIBLE_IMAGE,
                               "entry %" PRIu64 ": image %s registered with UKI SHA-256 %s, which is not among the "
                               "UKIs in %s",
                               index, name, uki, arg_images);
                if (!monitor_state_image(s, name))
                        return monitor_state_add_image(s, name, uki);
        } else if (streq(kind, "image-retired") && tlog_entry_field(entry, "name", name, sizeof(name))) {
                MonitorImage *i = monitor_state_image(s, name);
                if (i)
                        i->retired = true;
        } else if (streq(kind, "verdict") && tlog_entry_field(entry, "image", image, sizeof(image)) &&
                   !streq(image, "-") && !monitor_state_image(s, image))
                report(FINDING_UNKNOWN_IMAGE,
                       "entry %" PRIu64 ": a verdict for image %s, which the log never registered", index, image);
        return 0;
}

/* Fetches entries [from, to), hashes each into tree and checks it. */
static int read_entries(CURL *curl, MonitorState *s, TlogCompact *tree, uint64_t from, uint64_t to,
                        const char *images) {
        for (uint64_t start = from; start < to;) {
                _cleanup_(json_object_putp) json_object *o = NULL;
                _cleanup_free_ char *body = NULL;
                json_object *entries;
                char path[96];
                size_t size, n;
                int r;

                snprintf(path, sizeof(path), "/v1/log/entries?start=%" PRIu64 "&count=%u", start,
                         (unsigned) MIN((uint64_t) ENTRIES_PER_REQUEST, to - start));
                r = get(curl, path, &body, &size);
                if (r < 0)
                        return r;
                o = json_tokener_parse(body);
                if (!o || !json_object_object_get_ex(o, "entries", &entries) ||
                    !json_object_is_type(entries, json_type_array) || (n = json_object_array_length(entries)) == 0)
                        return report(FINDING_FORK, "entries from %" PRIu64 ": not the answer of a log", start),
                               -EBADMSG;
                for (size_t i = 0; i < n && start < to; i++, start++) {
                        json_object *e = json_object_array_get_idx(entries, i), *idx, *text;
                        TlogHash leaf;

                        if (!json_object_object_get_ex(e, "index", &idx) ||
                            json_object_get_int64(idx) != (int64_t) start ||
                            !json_object_object_get_ex(e, "entry", &text) ||
                            !json_object_is_type(text, json_type_string))
                                return report(FINDING_FORK, "entry %" PRIu64 " is missing from the answer", start),
                                       -EBADMSG;
                        if (!tlog_leaf_hash(json_object_get_string(text), (size_t) json_object_get_string_len(text),
                                            &leaf))
                                return -ENOMEM;
                        r = tlog_compact_append(tree, &leaf);
                        if (r < 0)
                                return r;
                        r = check_entry(s, start, json_object_get_string(text), images);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* The server's own consistency proof between the last verified head and the new one: it must agree with what
 * the entries gave (a server that cannot prove its growth is lying somewhere). */
static int check_consistency(CURL *curl, const MonitorState *old, const TlogCheckpoint *cp) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *body = NULL;
        TlogHash proof[TLOG_PROOF_MAX];
        json_object *p;
        char path[96];
        size_t size, n;
        int r;

        snprintf(path, sizeof(path), "/v1/log/consistency?size1=%" PRIu64 "&size2=%" PRIu64, old->tree.size,
                 cp->size);
        r = get(curl, path, &body, &size);
        if (r < 0)
                return r;
        o = json_tokener_parse(body);
        if (!o || !json_object_object_get_ex(o, "proof", &p) || !json_object_is_type(p, json_type_array) ||
            (n = json_object_array_length(p)) > TLOG_PROOF_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (tlog_hash_parse(json_object_get_string(json_object_array_get_idx(p, i)), &proof[i]) < 0)
                        return -EBADMSG;
        return tlog_verify_consistency(old->tree.size, cp->size, &old->root, &cp->root, proof, n) ? 0 : -EBADMSG;
}

static int run(void) {
        _cleanup_(monitor_state_done) MonitorState s = {};
        _cleanup_free_ char *state_path = NULL, *note = NULL, *key_text = NULL, *images = NULL;
        TlogCheckpoint cp;
        TlogCompact tree;
        TlogHash head;
        TlogKey key;
        size_t size, text_size;
        CURL *curl;
        int r;

        if (arg_key_file) {
                r = read_full_file(arg_key_file, 1024, (void **) &key_text, &size);
                if (r < 0)
                        return fprintf(stderr, "Failed to read %s: %s\n", arg_key_file, strerror(-r)), r;
                key_text[strcspn(key_text, "\n")] = '\0';
                arg_key_text = key_text;
        }
        if (tlog_key_parse_verifier(arg_key_text, &key) < 0)
                return fprintf(stderr, "Not a verifier key of a log: %s\n", arg_key_text), -EINVAL;
        if (arg_images) {
                r = read_full_file(arg_images, 16 * 1024 * 1024, (void **) &images, &size);
                if (r < 0)
                        return fprintf(stderr, "Failed to read %s: %s\n", arg_images, strerror(-r)), r;
        }
        if (asprintf(&state_path, "%s/state", arg_state_directory) < 0)
                return -ENOMEM;
        r = monitor_state_load(state_path, &s);
        if (r == -EBADMSG)
                return fprintf(stderr, "%s is not a state this monitor wrote; refusing to go on.\n", state_path), r;
        if (r < 0 && r != -ENOENT)
                return fprintf(stderr, "Failed to read %s: %s\n", state_path, strerror(-r)), r;

        curl = curl_easy_init();
        if (!curl)
                return -ENOMEM;
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_3);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
        if (arg_cacert)
                curl_easy_setopt(curl, CURLOPT_CAINFO, arg_cacert);

        r = get(curl, "/v1/log/checkpoint", &note, &size);
        if (r < 0)
                goto finish;
        r = tlog_note_open(note, size, &key, &text_size);
        if (r < 0) {
                report(FINDING_BAD_SIGNATURE, "the checkpoint is not signed by %s+%08" PRIx32 " (%s)", key.name, key.id,
                       r == -ENOKEY ? "no signature by that key" : "malformed or forged");
                goto finish;
        }
        r = tlog_checkpoint_parse(note, text_size, &cp);
        if (r < 0 || !streq(cp.origin, key.name)) {
                report(FINDING_BAD_SIGNATURE, "the signed note is not a checkpoint of %s", key.name);
                r = -EBADMSG;
                goto finish;
        }
        if (s.tree.size > 0 && !streq(s.origin, cp.origin)) {
                report(FINDING_FORK, "the log's origin changed from %s to %s", s.origin, cp.origin);
                r = -EBADMSG;
                goto finish;
        }
        if (cp.size < s.tree.size) {
                report(FINDING_ROLLBACK, "the log went back from %" PRIu64 " to %" PRIu64 " entries", s.tree.size,
                       cp.size);
                r = -EBADMSG;
                goto finish;
        }
        if (cp.size == 0) {
                r = 0;
                goto finish;
        }

        /* The new entries, hashed here: they must give the signed head. */
        tree = s.tree;
        r = read_entries(curl, &s, &tree, s.tree.size, cp.size, images);
        if (r < 0)
                goto finish;
        r = tlog_compact_root(&tree, &head);
        if (r < 0)
                goto finish;
        if (!tlog_hash_equal(&head, &cp.root)) {
                report(FINDING_FORK,
                       "the entries the server serves do not give its signed head of %" PRIu64 " entries: it shows "
                       "different logs to different readers, or changed its history",
                       cp.size);
                r = -EBADMSG;
                goto finish;
        }
        if (s.tree.size > 0 && s.tree.size < cp.size && check_consistency(curl, &s, &cp) < 0) {
                report(FINDING_FORK, "the server's consistency proof from %" PRIu64 " to %" PRIu64
                       " entries does not verify", s.tree.size, cp.size);
                r = -EBADMSG;
                goto finish;
        }

        snprintf(s.origin, sizeof(s.origin), "%s", cp.origin);
        s.tree = tree;
        s.root = cp.root;
        r = monitor_state_save(state_path, &s);
        if (r < 0) {
                fprintf(stderr, "Failed to write %s: %s\n", state_path, strerror(-r));
                goto finish;
        }
        {
                _cleanup_free_ char *root = base64mem(cp.root.bytes, TLOG_HASH_SIZE);
                report(FINDING_VERIFIED, "checkpoint of %s verified: %" PRIu64 " entries, head %s", cp.origin, cp.size,
                       root ?: "?");
        }
finish:
        curl_easy_cleanup(curl);
        return r;
}

static void help(void) {
        printf("patela-monitor --url URL --log-key KEY|--log-key-file FILE [--cacert FILE] [--state-directory DIR]\n"
               "               [--images FILE]\n\n"
               "Checks a patela-server's transparency log: the signed checkpoint under the pinned key, its growth\n"
               "from the last one verified, every new entry. Exit 0: verified; 1: something was found (journal,\n"
               "MESSAGE_ID in patela-monitor(8)); 2: usage.\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_URL = 0x100, ARG_CACERT, ARG_KEY, ARG_KEY_FILE, ARG_STATE, ARG_IMAGES };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "url", required_argument, NULL, ARG_URL },
                { "cacert", required_argument, NULL, ARG_CACERT },
                { "log-key", required_argument, NULL, ARG_KEY },
                { "log-key-file", required_argument, NULL, ARG_KEY_FILE },
                { "state-directory", required_argument, NULL, ARG_STATE },
                { "images", required_argument, NULL, ARG_IMAGES },
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_URL:
                        arg_url = optarg;
                        break;
                case ARG_CACERT:
                        arg_cacert = optarg;
                        break;
                case ARG_KEY:
                        arg_key_text = optarg;
                        break;
                case ARG_KEY_FILE:
                        arg_key_file = optarg;
                        break;
                case ARG_STATE:
                        arg_state_directory = optarg;
                        break;
                case ARG_IMAGES:
                        arg_images = optarg;
                        break;
                default:
                        return 2;
                }
        if (optind != argc || !arg_url || !startswith(arg_url, "https://") || (!arg_key_text == !arg_key_file)) {
                fprintf(stderr, "Usage: patela-monitor --url https://… --log-key KEY|--log-key-file FILE [options]\n");
                return 2;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return 1;
        r = run();
        curl_global_cleanup();
        return r < 0 || n_problems > 0 ? 1 : 0;
}
