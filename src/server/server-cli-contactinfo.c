/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The admin CLI's ContactInfo proofs: contactinfo rsa-fingerprints [--output FILE] (patela-server(8),
 * CONTACTINFO PROOFS).
 *
 * The ContactInfo Information Sharing Specification, version 2
 * (https://nusenu.github.io/ContactInfo-Information-Sharing-Specification/), lets a relay's ContactInfo name
 * the operator's website (url:) and how to check that claim (proof:uri-rsa): the website serves
 * /.well-known/tor-relay/rsa-fingerprint.txt (tor proposal 326) over HTTPS, text/plain, at most 1 MB, with
 * the RSA fingerprints of the operator's relays, one per line (40 hex digits, case does not matter, each at
 * most once), and lines starting with '#' as comments. A relay counts as the operator's only when both sides
 * agree.
 *
 * The file written here lists the relays of the enabled nodes whose nodes have reported their identities
 * (POST /v1/node/fingerprints), one fingerprint per line in tor's spelling, sorted, no comment and no date:
 * the same fleet gives the same bytes, so publishing it again changes nothing. Relays whose rendered
 * ContactInfo does not carry url: and proof:uri-rsa are listed (the file is the operator's claim) but named
 * in a warning: the proof only works with both halves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fd-util.h"
#include "log.h"
#include "server-cli.h"
#include "server-fingerprints.h"
#include "server-nodes.h"
#include "server-relays.h"
#include "server-render.h"
#include "string-util.h"

/* The specification's bound on the file. 41 bytes a relay: about 24,000 relays. */
#define PROOF_FILE_MAX 1000000U
/* url: values are shorter than 400 characters (the specification). */
#define CONTACT_URL_MAX 400U
#define NAMES_SHOWN 8U

typedef struct ProofRelay {
        Relay relay;
        const RelayFingerprint *fp; /* NULL: its node has not reported it */
        char url[CONTACT_URL_MAX + 1];
        bool proof_uri_rsa;
        bool ciissversion;
} ProofRelay;

/* The first value of a key in a ContactInfo string ("key:value" among words separated by spaces or tabs; the
 * specification counts the first occurrence of a key). NULL if absent; the value ends at the next blank. */
static const char *contact_field(const char *contact, const char *key, size_t *ret_len) {
        size_t k = strlen(key);

        for (const char *p = contact; *p;) {
                size_t n;

                p += strspn(p, " \t");
                n = strcspn(p, " \t");
                if (n > k && strncmp(p, key, k) == 0 && p[k] == ':') {
                        *ret_len = n - k - 1;
                        return p + k + 1;
                }
                p += n;
        }
        return NULL;
}

/* What the relay's torrc says in ContactInfo, as the node receives it. */
static int relay_contact(Db *db, const Node *node, ProofRelay *p) {
        _cleanup_(torrc_merged_freep) TorrcMerged *m = NULL;
        const char *v;
        size_t n;
        int r;

        r = render_relay_torrc(db, node, &p->relay, /* family= */ NULL, NULL, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to render the torrc of relay %s: %m", p->relay.name);
        for (size_t i = 0; i < m->n_lines; i++) {
                const char *contact = m->lines[i].value;

                if (strcasecmp(m->lines[i].option->name, "ContactInfo") != 0)
                        continue;
                v = contact_field(contact, "url", &n);
                if (v)
                        snprintf(p->url, sizeof(p->url), "%.*s", (int) MIN(n, (size_t) CONTACT_URL_MAX), v);
                v = contact_field(contact, "proof", &n);
                p->proof_uri_rsa = v && n == strlen("uri-rsa") && strncmp(v, "uri-rsa", n) == 0;
                p->ciissversion = contact_field(contact, "ciissversion", &n) != NULL;
                break;
        }
        return 0;
}

/* The relays of the enabled nodes, with their identities and ContactInfo, from one snapshot. */
static int proof_relays(Db *db, ProofRelay **ret, size_t *ret_n, RelayFingerprint **ret_fps) {
        _cleanup_free_ Relay *relays = NULL;
        _cleanup_free_ RelayFingerprint *fps = NULL;
        _cleanup_free_ ProofRelay *list = NULL;
        size_t n_relays = 0, n_fps = 0, n = 0;
        Node node = { .id = -1 };
        int r;

        r = db_begin_read(db);
        if (r < 0)
                return log_error_errno(r, "Failed to read the database: %m");
        r = relays_list(db, -1, &relays, &n_relays);
        if (r >= 0)
                r = fingerprints_list(db, &fps, &n_fps);
        if (r >= 0 && !(list = calloc(MAX(n_relays, (size_t) 1), sizeof(ProofRelay))))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n_relays; i++) {
                /* relays_list() gives them by node. */
                if (relays[i].node_id != node.id)
                        r = node_get(db, relays[i].node_id, &node);
                if (r < 0 || node.state != NODE_ENABLED)
                        continue;
                list[n] = (ProofRelay) {
                        .relay = relays[i],
                        .fp = fingerprints_find(fps, n_fps, relays[i].id),
                };
                r = relay_contact(db, &node, &list[n]);
                n++;
        }
        db_rollback(db); /* read only */
        if (r < 0)
                return log_error_errno(r, "Failed to read the relays: %m");
        *ret = TAKE_PTR(list);
        *ret_n = n;
        *ret_fps = TAKE_PTR(fps);
        return 0;
}

static int compare_fingerprint(const void *a, const void *b) {
        const ProofRelay *x = a, *y = b;

        /* The unreported (no fingerprint) last, by name. */
        if (!x->fp || !y->fp)
                return x->fp ? -1 : y->fp ? 1 : strcmp(x->relay.name, y->relay.name);
        return strcmp(x->fp->rsa, y->fp->rsa);
}

/* "a, b, c and 5 more" of the relays that match. */
static void names_of(const ProofRelay *list, size_t n, bool (*match)(const ProofRelay *p), char *buf,
                     size_t size, size_t *ret_count) {
        size_t count = 0, len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                if (!match(&list[i]))
                        continue;
                if (count < NAMES_SHOWN && len < size)
                        len += (size_t) snprintf(buf + len, size - len, "%s%s", count > 0 ? ", " : "",
                                                 list[i].relay.name);
                count++;
        }
        if (count > NAMES_SHOWN && len < size)
                snprintf(buf + len, size - len, " and %zu more", count - NAMES_SHOWN);
        *ret_count = count;
}

static bool is_unreported(const ProofRelay *p) {
        return !p->fp;
}

static bool lacks_proof(const ProofRelay *p) {
        return p->fp && (!p->url[0] || !p->proof_uri_rsa);
}

static bool lacks_version(const ProofRelay *p) {
        return p->fp && p->url[0] && p->proof_uri_rsa && !p->ciissversion;
}

/* The warnings an operator needs before publishing, and the URL to publish at. */
static void check_relays(const ProofRelay *list, size_t n, size_t n_listed) {
        char names[512];
        const char *url = NULL;
        size_t count, n_urls = 0;

        names_of(list, n, is_unreported, names, sizeof(names), &count);
        if (count > 0)
                log_warning("%zu relay%s of enabled nodes %s not reported %s identity yet and %s not listed: "
                            "%s. A node reports them once patela-keyd has made the keys.", count,
                            count == 1 ? "" : "s", count == 1 ? "has" : "have", count == 1 ? "its" : "their",
                            count == 1 ? "is" : "are", names);
        names_of(list, n, lacks_proof, names, sizeof(names), &count);
        if (count > 0)
                log_warning("%zu listed relay%s lack%s 'url:' or 'proof:uri-rsa' in %s ContactInfo: %s. The "
                            "proof needs both, e.g. 'torrc set ContactInfo \"email:tor[]example.org "
                            "url:https://example.org proof:uri-rsa ciissversion:2\" default'.", count,
                            count == 1 ? "" : "s", count == 1 ? "s" : "", count == 1 ? "its" : "their", names);
        names_of(list, n, lacks_version, names, sizeof(names), &count);
        if (count > 0)
                log_warning("%zu listed relay%s lack%s 'ciissversion:2' in %s ContactInfo, which the "
                            "specification requires: %s.", count, count == 1 ? "" : "s", count == 1 ? "s" : "",
                            count == 1 ? "its" : "their", names);

        for (size_t i = 0; i < n_listed; i++) {
                if (!list[i].url[0])
                        continue;
                if (!url) {
                        url = list[i].url;
                        n_urls = 1;
                } else if (!streq(url, list[i].url))
                        n_urls++;
        }
        if (n_urls > 1)
                log_warning("The listed relays name more than one url: (%s and others): each site must serve "
                            "the fingerprints of the relays that name it.", url);
        else if (url) {
                /* https://HOST/.well-known/…, whatever path or scheme url: has: the specification asks for
                 * HTTPS. */
                const char *host = startswith(url, "https://") ?: startswith(url, "http://") ?: url;
                log_info("Publish it at https://%.*s/.well-known/tor-relay/rsa-fingerprint.txt (text/plain).",
                         (int) strcspn(host, "/"), host);
        }
}

static json_object *relay_to_json(const ProofRelay *p) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(p->relay.name));
        json_object_object_add(o, "node", json_object_new_int64(p->relay.node_id));
        json_object_object_add(o, "rsaFingerprint", p->fp ? json_object_new_string(p->fp->rsa) : NULL);
        json_object_object_add(o, "url", p->url[0] ? json_object_new_string(p->url) : NULL);
        json_object_object_add(o, "proofUriRsa", json_object_new_boolean(p->proof_uri_rsa));
        return o;
}

static int rsa_fingerprints(Cli *cli, const char *output) {
        _cleanup_free_ RelayFingerprint *fps = NULL;
        _cleanup_free_ ProofRelay *list = NULL;
        _cleanup_free_ char *text = NULL, *old = NULL;
        size_t n = 0, n_listed = 0, size, old_size;
        json_object *o, *listed, *unreported;
        bool changed = true;
        Db *db;
        int r;

        r = cli_db(cli, &db);
        if (r < 0)
                return cli_exit_status(r);
        r = proof_relays(db, &list, &n, &fps);
        if (r < 0)
                return cli_exit_status(r);
        qsort(list, n, sizeof(ProofRelay), compare_fingerprint);
        while (n_listed < n && list[n_listed].fp)
                n_listed++;

        size = n_listed * (TOR_RSA_FINGERPRINT_LEN + 1);
        if (size > PROOF_FILE_MAX)
                return log_error_errno(E2BIG, "%zu fingerprints make %zu bytes, more than the %u the "
                                       "specification allows in one file.", n_listed, size, PROOF_FILE_MAX),
                       EXIT_FAILURE;
        text = malloc(size + 1);
        if (!text)
                return log_oom(), EXIT_FAILURE;
        text[0] = '\0';
        for (size_t i = 0; i < n_listed; i++) {
                memcpy(text + i * (TOR_RSA_FINGERPRINT_LEN + 1), list[i].fp->rsa, TOR_RSA_FINGERPRINT_LEN);
                text[i * (TOR_RSA_FINGERPRINT_LEN + 1) + TOR_RSA_FINGERPRINT_LEN] = '\n';
        }
        text[size] = '\0';
        check_relays(list, n, n_listed);

        if (output) {
                /* Unchanged content is not rewritten: a web server's Last-Modified and ETag stay. */
                changed = read_full_file(output, PROOF_FILE_MAX, (void **) &old, &old_size) < 0 ||
                          old_size != size || memcmp(old, text, size) != 0;
                if (changed) {
                        r = write_file_atomic(output, text, 0644);
                        if (r < 0)
                                return log_error_errno(r, "Failed to write %s: %m", output), cli_exit_status(r);
                }
                log_info("%s %s: %zu relay fingerprint%s.", changed ? "Wrote" : "Unchanged", output, n_listed,
                         n_listed == 1 ? "" : "s");
        }

        if (!cli->json) {
                if (!output)
                        fputs(text, stdout);
                return EXIT_SUCCESS;
        }
        o = json_object_new_object();
        listed = json_object_new_array();
        unreported = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(i < n_listed ? listed : unreported, relay_to_json(&list[i]));
        json_object_object_add(o, "relays", listed);
        json_object_object_add(o, "unreported", unreported);
        json_object_object_add(o, "output", output ? json_object_new_string(output) : NULL);
        if (output)
                json_object_object_add(o, "changed", json_object_new_boolean(changed));
        cli_print_json(o);
        return EXIT_SUCCESS;
}

int verb_contactinfo(Cli *cli, int argc, char **argv) {
        const char *output = NULL, *v;

        if (argc < 2 || !streq(argv[1], "rsa-fingerprints"))
                return log_error_errno(EINVAL, "Usage: contactinfo rsa-fingerprints [--output FILE]"), EXIT_USAGE;
        for (int i = 2; i < argc; i++) {
                if ((v = startswith(argv[i], "--output=")))
                        output = v;
                else if (streq(argv[i], "--output") && i + 1 < argc)
                        output = argv[++i];
                else
                        return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[i]), EXIT_USAGE;
        }
        if (output && isempty(output))
                return log_error_errno(EINVAL, "--output needs a file name."), EXIT_USAGE;
        return rsa_fingerprints(cli, output);
}
