/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "digest-util.h"
#include "hexdecoct.h"
#include "tlog-note.h"

#define ALG_ED25519 0x01
#define ED25519_SIGNATURE_SIZE 64U
/* "— ": U+2014 EM DASH in UTF-8, then a space: how every signature line starts. */
static const char signature_prefix[] = "\xe2\x80\x94 ";

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);

void tlog_key_done(TlogKey *k) {
        if (k)
                explicit_bzero(k, sizeof(*k));
}

bool tlog_key_name_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > TLOG_KEY_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (name[i] <= ' ' || name[i] >= 0x7f || name[i] == '+')
                        return false;
        return true;
}

/* The key ID: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), its first four bytes big-endian. */
static int key_id(const char *name, const uint8_t public_key[static TLOG_ED25519_SIZE], uint32_t *ret) {
        size_t n = strlen(name);
        _cleanup_free_ uint8_t *buf = malloc(n + 2 + TLOG_ED25519_SIZE);
        uint8_t d[32];

        if (!buf)
                return -ENOMEM;
        memcpy(buf, name, n);
        buf[n] = '\n';
        buf[n + 1] = ALG_ED25519;
        memcpy(buf + n + 2, public_key, TLOG_ED25519_SIZE);
        if (!sha256_digest(buf, n + 2 + TLOG_ED25519_SIZE, d))
                return -ENOMEM;
        *ret = (uint32_t) d[0] << 24 | (uint32_t) d[1] << 16 | (uint32_t) d[2] << 8 | d[3];
        return 0;
}

static int public_from_seed(const uint8_t seed[static TLOG_ED25519_SIZE], uint8_t ret[static TLOG_ED25519_SIZE]) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
                                                                              TLOG_ED25519_SIZE);
        size_t n = TLOG_ED25519_SIZE;

        if (!k || EVP_PKEY_get_raw_public_key(k, ret, &n) != 1 || n != TLOG_ED25519_SIZE)
                return -EIO;
        return 0;
}

int tlog_key_generate(const char *name, TlogKey *ret) {
        TlogKey k = { .has_seed = true };
        int r;

        assert(ret);
        if (!tlog_key_name_valid(name))
                return -EINVAL;
        snprintf(k.name, sizeof(k.name), "%s", name);
        if (RAND_priv_bytes(k.seed, sizeof(k.seed)) != 1)
                return -EIO;
        r = public_from_seed(k.seed, k.public_key);
        if (r >= 0)
                r = key_id(k.name, k.public_key, &k.id);
        if (r < 0) {
                tlog_key_done(&k);
                return r;
        }
        *ret = k;
        explicit_bzero(&k, sizeof(k));
        return 0;
}

/* base64(0x01 ‖ 32 bytes) */
static char *key_base64(const uint8_t key[static TLOG_ED25519_SIZE]) {
        uint8_t buf[1 + TLOG_ED25519_SIZE] = { ALG_ED25519 };
        char *s;

        memcpy(buf + 1, key, TLOG_ED25519_SIZE);
        s = base64mem(buf, sizeof(buf));
        explicit_bzero(buf, sizeof(buf));
        return s;
}

int tlog_key_format_verifier(const TlogKey *k, char **ret) {
        _cleanup_free_ char *b64 = key_base64(k->public_key);

        if (!b64 || asprintf(ret, "%s+%08" PRIx32 "+%s", k->name, k->id, b64) < 0)
                return -ENOMEM;
        return 0;
}

int tlog_key_format_signer(const TlogKey *k, char **ret) {
        char *b64;
        int r = 0;

        if (!k->has_seed)
                return -ENOKEY;
        b64 = key_base64(k->seed);
        if (!b64 || asprintf(ret, "PRIVATE+KEY+%s+%08" PRIx32 "+%s", k->name, k->id, b64) < 0)
                r = -ENOMEM;
        if (b64)
                explicit_bzero(b64, strlen(b64));
        free(b64);
        return r;
}

/* "name+ID+base64": the three fields of both forms after the signer's "PRIVATE+KEY+". */
static int parse_key_fields(const char *text, bool seed, TlogKey *ret) {
        _cleanup_free_ char *copy = NULL;
        _cleanup_free_ void *key = NULL;
        char *id_text, *b64, *end;
        TlogKey k = { .has_seed = seed };
        unsigned long id;
        size_t size;
        int r;

        if (strlen(text) > TLOG_KEY_NAME_MAX + 64)
                return -EBADMSG;
        copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        id_text = strchr(copy, '+');
        if (!id_text)
                return -EBADMSG;
        *id_text++ = '\0';
        b64 = strchr(id_text, '+');
        if (!b64)
                return -EBADMSG;
        *b64++ = '\0';
        if (!tlog_key_name_valid(copy) || strlen(id_text) != 8 || strspn(id_text, "0123456789abcdef") != 8)
                return -EBADMSG;
        errno = 0;
        id = strtoul(id_text, &end, 16);
        if (errno != 0 || *end != '\0')
                return -EBADMSG;
        r = unbase64mem(b64, 1 + TLOG_ED25519_SIZE, &key, &size);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || size != 1 + TLOG_ED25519_SIZE || ((uint8_t *) key)[0] != ALG_ED25519)
                return -EBADMSG;
        snprintf(k.name, sizeof(k.name), "%s", copy);
        if (seed) {
                memcpy(k.seed, (uint8_t *) key + 1, TLOG_ED25519_SIZE);
                explicit_bzero(key, size);
                explicit_bzero(copy, strlen(text));
                r = public_from_seed(k.seed, k.public_key);
                if (r < 0) {
                        tlog_key_done(&k);
                        return r;
                }
        } else
                memcpy(k.public_key, (uint8_t *) key + 1, TLOG_ED25519_SIZE);
        r = key_id(k.name, k.public_key, &k.id);
        if (r >= 0 && k.id != id)
                r = -EBADMSG; /* the ID must be the one the key implies */
        if (r < 0) {
                tlog_key_done(&k);
                return r;
        }
        *ret = k;
        explicit_bzero(&k, sizeof(k));
        return 0;
}

int tlog_key_parse_verifier(const char *text, TlogKey *ret) {
        assert(text && ret);
        return parse_key_fields(text, /* seed= */ false, ret);
}

int tlog_key_parse_signer(const char *text, TlogKey *ret) {
        static const char prefix[] = "PRIVATE+KEY+";

        assert(text && ret);
        if (strncmp(text, prefix, strlen(prefix)) != 0)
                return -EBADMSG;
        return parse_key_fields(text + strlen(prefix), /* seed= */ true, ret);
}

/* Valid UTF-8 (no overlong form, no surrogate, nothing above U+10FFFF) without an ASCII control character
 * other than the newline, as signed notes require. */
static bool note_text_valid(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n;) {
                uint8_t c = p[i];
                uint32_t cp;
                size_t len;

                if (c < 0x80) {
                        if (c < 0x20 && c != '\n')
                                return false;
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0)
                        len = 2, cp = c & 0x1f;
                else if ((c & 0xf0) == 0xe0)
                        len = 3, cp = c & 0x0f;
                else if ((c & 0xf8) == 0xf0)
                        len = 4, cp = c & 0x07;
                else
                        return false;
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i + k] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

static int ed25519_sign(const uint8_t seed[static TLOG_ED25519_SIZE], const void *msg, size_t n,
                        uint8_t ret[static ED25519_SIGNATURE_SIZE]) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
                                                                              TLOG_ED25519_SIZE);
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t size = ED25519_SIGNATURE_SIZE;

        if (!k || !ctx)
                return -ENOMEM;
        if (EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, k, NULL) != 1 ||
            EVP_DigestSign(ctx, ret, &size, msg, n) != 1 || size != ED25519_SIGNATURE_SIZE)
                return -EIO;
        return 0;
}

static bool ed25519_verify(const uint8_t public_key[static TLOG_ED25519_SIZE], const void *msg, size_t n,
                           const uint8_t *sig, size_t sig_size) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, public_key,
                                                                             TLOG_ED25519_SIZE);
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        return k && ctx && sig_size == ED25519_SIGNATURE_SIZE &&
               EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, k, NULL) == 1 &&
               EVP_DigestVerify(ctx, sig, sig_size, msg, n) == 1;
}

int tlog_note_sign(const TlogKey *signer, const char *text, char **ret_note) {
        uint8_t sig[4 + ED25519_SIGNATURE_SIZE];
        _cleanup_free_ char *b64 = NULL;
        size_t n;
        int r;

        assert(signer && text && ret_note);
        if (!signer->has_seed)
                return -ENOKEY;
        n = strlen(text);
        if (n == 0 || n > TLOG_NOTE_SIZE_MAX / 2 || text[n - 1] != '\n' ||
            !note_text_valid((const uint8_t *) text, n))
                return -EINVAL;
        sig[0] = (uint8_t) (signer->id >> 24);
        sig[1] = (uint8_t) (signer->id >> 16);
        sig[2] = (uint8_t) (signer->id >> 8);
        sig[3] = (uint8_t) signer->id;
        r = ed25519_sign(signer->seed, text, n, sig + 4);
        if (r < 0)
                return r;
        b64 = base64mem(sig, sizeof(sig));
        if (!b64 || asprintf(ret_note, "%s\n%s%s %s\n", text, signature_prefix, signer->name, b64) < 0)
                return -ENOMEM;
        return 0;
}

int tlog_note_open(const char *note, size_t size, const TlogKey *verifier, size_t *ret_text_size) {
        const char *sigs, *end = note + size, *split = NULL;
        size_t text_size, n_sigs = 0;
        bool verified = false;

        assert(note && verifier && ret_text_size);
        if (size == 0 || size > TLOG_NOTE_SIZE_MAX || !note_text_valid((const uint8_t *) note, size))
                return -EBADMSG;
        /* The signatures follow the last empty line; the text keeps its final newline. */
        for (const char *p = note; p + 1 < end; p++)
                if (p[0] == '\n' && p[1] == '\n')
                        split = p;
        if (!split)
                return -EBADMSG;
        text_size = (size_t) (split - note) + 1;
        sigs = split + 2;
        if (sigs >= end || end[-1] != '\n')
                return -EBADMSG;

        while (sigs < end) {
                const char *nl = memchr(sigs, '\n', (size_t) (end - sigs)), *name, *space;
                _cleanup_free_ char *b64 = NULL;
                _cleanup_free_ void *raw = NULL;
                size_t name_size, raw_size;
                uint32_t id;
                int r;

                if (++n_sigs > TLOG_NOTE_SIGNATURES_MAX)
                        return -EBADMSG;
                if ((size_t) (nl - sigs) < strlen(signature_prefix) ||
                    memcmp(sigs, signature_prefix, strlen(signature_prefix)) != 0)
                        return -EBADMSG;
                name = sigs + strlen(signature_prefix);
                space = memchr(name, ' ', (size_t) (nl - name));
                if (!space)
                        return -EBADMSG;
                name_size = (size_t) (space - name);
                b64 = strndup(space + 1, (size_t) (nl - space - 1));
                if (!b64)
                        return -ENOMEM;
                r = unbase64mem(b64, 4 + 1024, &raw, &raw_size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || raw_size < 5 || name_size == 0 || name_size > TLOG_KEY_NAME_MAX)
                        return -EBADMSG;
                id = (uint32_t) ((uint8_t *) raw)[0] << 24 | (uint32_t) ((uint8_t *) raw)[1] << 16 |
                     (uint32_t) ((uint8_t *) raw)[2] << 8 | ((uint8_t *) raw)[3];
                if (name_size == strlen(verifier->name) && memcmp(name, verifier->name, name_size) == 0 &&
                    id == verifier->id) {
                        /* A signature that claims our key and does not verify is a forgery, not noise. */
                        if (!ed25519_verify(verifier->public_key, note, text_size, (uint8_t *) raw + 4,
                                            raw_size - 4))
                                return -EBADMSG;
                        verified = true;
                }
                sigs = nl + 1;
        }
        if (!verified)
                return -ENOKEY;
        *ret_text_size = text_size;
        return 0;
}

static bool origin_valid(const char *s, size_t n) {
        if (n == 0 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x20 || s[i] >= 0x7f)
                        return false;
        return true;
}

int tlog_checkpoint_format(const char *origin, uint64_t size, const TlogHash *root, char **ret_text) {
        _cleanup_free_ char *b64 = NULL;

        assert(origin && root && ret_text);
        if (!origin_valid(origin, strlen(origin)) || size > TLOG_SIZE_MAX)
                return -EINVAL;
        b64 = base64mem(root->bytes, TLOG_HASH_SIZE);
        if (!b64 || asprintf(ret_text, "%s\n%" PRIu64 "\n%s\n", origin, size, b64) < 0)
                return -ENOMEM;
        return 0;
}

int tlog_checkpoint_parse(const char *text, size_t size, TlogCheckpoint *ret) {
        const char *p = text, *end = text + size, *nl;
        _cleanup_free_ void *root = NULL;
        char line[128];
        TlogCheckpoint c = {};
        size_t n, root_size;
        int r;

        assert(text && ret);
        if (size == 0 || size > TLOG_NOTE_SIZE_MAX || end[-1] != '\n' || memchr(text, '\0', size))
                return -EBADMSG;

        /* origin */
        nl = memchr(p, '\n', (size_t) (end - p));
        n = (size_t) (nl - p);
        if (!origin_valid(p, n))
                return -EBADMSG;
        memcpy(c.origin, p, n);
        p = nl + 1;

        /* size: decimal, no sign, no leading zero */
        nl = p < end ? memchr(p, '\n', (size_t) (end - p)) : NULL;
        if (!nl)
                return -EBADMSG;
        n = (size_t) (nl - p);
        if (n == 0 || n > 20 || strspn(p, "0123456789") < n || (n > 1 && p[0] == '0'))
                return -EBADMSG;
        c.size = 0;
        for (size_t i = 0; i < n; i++) {
                uint64_t digit = (uint64_t) (p[i] - '0');
                if (c.size > (TLOG_SIZE_MAX - digit) / 10)
                        return -EBADMSG;
                c.size = c.size * 10 + digit;
        }
        p = nl + 1;

        /* root hash */
        nl = p < end ? memchr(p, '\n', (size_t) (end - p)) : NULL;
        if (!nl)
                return -EBADMSG;
        n = (size_t) (nl - p);
        if (n == 0 || n >= sizeof(line))
                return -EBADMSG;
        memcpy(line, p, n);
        line[n] = '\0';
        r = unbase64mem(line, TLOG_HASH_SIZE, &root, &root_size);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || root_size != TLOG_HASH_SIZE)
                return -EBADMSG;
        memcpy(c.root.bytes, root, TLOG_HASH_SIZE);
        p = nl + 1;

        /* extension lines: each non-empty */
        while (p < end) {
                nl = memchr(p, '\n', (size_t) (end - p));
                if (nl == p)
                        return -EBADMSG;
                p = nl + 1;
        }
        *ret = c;
        return 0;
}
