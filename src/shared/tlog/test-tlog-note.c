/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signed notes and checkpoints: both key forms round trip and refuse what is off by one field; a note opens
 * under its key and under no other, and not after one byte of it changed; a witness's signature is skipped,
 * a forged one under our key refused; checkpoints parse strictly. test/tlog checks all of it against Go's
 * golang.org/x/mod/sumdb implementation. */
#include <stdio.h>
#include <stdlib.h>

#include "hexdecoct.h"
#include "tests.h"
#include "tlog-note.h"

static const char checkpoint_text[] = "patela.example/fleet\n42\n"
                                      "3q2+7w==3q2+7w==3q2+7w==3q2+7w==3q2+7w==AAA=\n";

TEST(keys) {
        _cleanup_free_ char *v = NULL, *s = NULL;
        TlogKey k, pv, ps, bad;

        ASSERT_OK(tlog_key_generate("patela.example/log", &k));
        ASSERT_OK(tlog_key_format_verifier(&k, &v));
        ASSERT_OK(tlog_key_format_signer(&k, &s));
        ASSERT_TRUE(strncmp(s, "PRIVATE+KEY+patela.example/log+", 31) == 0);
        ASSERT_OK(tlog_key_parse_verifier(v, &pv));
        ASSERT_OK(tlog_key_parse_signer(s, &ps));
        ASSERT_STREQ(pv.name, k.name);
        ASSERT_EQ(pv.id, k.id);
        ASSERT_EQ(ps.id, k.id);
        ASSERT_FALSE(pv.has_seed);
        ASSERT_TRUE(ps.has_seed);
        ASSERT_MEMEQ(ps.seed, k.seed, TLOG_ED25519_SIZE);
        ASSERT_MEMEQ(pv.public_key, k.public_key, TLOG_ED25519_SIZE);
        /* a verifier key cannot sign */
        ASSERT_ERROR(tlog_key_format_signer(&pv, &s), ENOKEY);

        /* names */
        ASSERT_ERROR(tlog_key_generate("a+b", &bad), EINVAL);
        ASSERT_ERROR(tlog_key_generate("a b", &bad), EINVAL);
        ASSERT_ERROR(tlog_key_generate("", &bad), EINVAL);

        /* one field off: the ID, its case, the algorithm byte, the key's length, the prefix, extra text */
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", v);
        char *id = strchr(buf, '+') + 1;
        id[0] = id[0] == '0' ? '1' : '0';
        ASSERT_ERROR(tlog_key_parse_verifier(buf, &bad), EBADMSG);
        ASSERT_ERROR(tlog_key_parse_verifier("name+0000000g+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &bad),
                     EBADMSG);
        ASSERT_ERROR(tlog_key_parse_verifier("name+00000000+AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &bad),
                     EBADMSG); /* algorithm 0x02 */
        ASSERT_ERROR(tlog_key_parse_verifier("name+00000000+AQAAAA==", &bad), EBADMSG);
        ASSERT_ERROR(tlog_key_parse_verifier("name+00000000", &bad), EBADMSG);
        ASSERT_ERROR(tlog_key_parse_signer(v, &bad), EBADMSG);
        snprintf(buf, sizeof(buf), "%s+", v);
        ASSERT_ERROR(tlog_key_parse_verifier(buf, &bad), EBADMSG);
        snprintf(buf, sizeof(buf), "%s", s);
        buf[0] = 'p';
        ASSERT_ERROR(tlog_key_parse_signer(buf, &bad), EBADMSG);
        tlog_key_done(&k);
        tlog_key_done(&ps);
        explicit_bzero(s, strlen(s));
}

TEST(notes) {
        _cleanup_free_ char *note = NULL, *other_note = NULL, *two = NULL;
        TlogKey k, other, same_name;
        size_t text_size, n;

        ASSERT_OK(tlog_key_generate("patela.example/log", &k));
        ASSERT_OK(tlog_key_generate("witness.example", &other));
        ASSERT_OK(tlog_key_generate("patela.example/log", &same_name));
        ASSERT_OK(tlog_note_sign(&k, checkpoint_text, &note));
        n = strlen(note);
        ASSERT_OK(tlog_note_open(note, n, &k, &text_size));
        ASSERT_EQ(text_size, strlen(checkpoint_text));
        ASSERT_TRUE(strncmp(note, checkpoint_text, text_size) == 0);

        /* another key, the same name under another key */
        ASSERT_ERROR(tlog_note_open(note, n, &other, &text_size), ENOKEY);
        ASSERT_ERROR(tlog_note_open(note, n, &same_name, &text_size), ENOKEY);

        /* every byte of the text and of the signature line changed in turn */
        for (size_t i = 0; i < n; i++) {
                char *copy = strdup(note);
                ASSERT_NOT_NULL(copy);
                copy[i] ^= (i % 2) ? 0x01 : 0x20;
                ASSERT_TRUE(tlog_note_open(copy, n, &k, &text_size) < 0);
                free(copy);
        }

        /* a witness's cosignature: skipped, ours still verifies, in either order */
        ASSERT_OK(tlog_note_sign(&other, checkpoint_text, &other_note));
        const char *witness_line = other_note + strlen(checkpoint_text) + 1;
        ASSERT_TRUE(asprintf(&two, "%s%s", note, witness_line) > 0);
        ASSERT_OK(tlog_note_open(two, strlen(two), &k, &text_size));
        ASSERT_OK(tlog_note_open(two, strlen(two), &other, &text_size));
        free(two);
        ASSERT_TRUE(asprintf(&two, "%s\n%s%s", checkpoint_text, witness_line, note + strlen(checkpoint_text) + 1) > 0);
        ASSERT_OK(tlog_note_open(two, strlen(two), &k, &text_size));
        ASSERT_EQ(text_size, strlen(checkpoint_text));

        /* a signature under our name and ID that does not verify: a forgery, refused even beside a good one;
         * the same bytes under another ID: someone else's, skipped */
        uint8_t raw[4 + 64] = { k.id >> 24, k.id >> 16, k.id >> 8, k.id };
        _cleanup_free_ char *forged = base64mem(raw, sizeof(raw));
        ASSERT_NOT_NULL(forged);
        free(two);
        ASSERT_TRUE(asprintf(&two, "%s\xe2\x80\x94 %s %s\n", note, k.name, forged) > 0);
        ASSERT_ERROR(tlog_note_open(two, strlen(two), &k, &text_size), EBADMSG);
        raw[0] ^= 0xff;
        free(forged);
        forged = base64mem(raw, sizeof(raw));
        ASSERT_NOT_NULL(forged);
        free(two);
        ASSERT_TRUE(asprintf(&two, "%s\xe2\x80\x94 %s %s\n", note, k.name, forged) > 0);
        ASSERT_OK(tlog_note_open(two, strlen(two), &k, &text_size));

        /* malformed: no empty line, no final newline, a control character, no signature, bad base64 */
        ASSERT_ERROR(tlog_note_open(checkpoint_text, strlen(checkpoint_text), &k, &text_size), EBADMSG);
        ASSERT_ERROR(tlog_note_open(note, n - 1, &k, &text_size), EBADMSG);
        ASSERT_ERROR(tlog_note_open("a\tb\n\n\xe2\x80\x94 x AAAAAAA=\n", 20, &k, &text_size), EBADMSG);
        ASSERT_ERROR(tlog_note_open("a\n\n", 3, &k, &text_size), EBADMSG);
        ASSERT_ERROR(tlog_note_open("a\n\n\xe2\x80\x94 x !!!!\n", 14, &k, &text_size), EBADMSG);
        ASSERT_ERROR(tlog_note_open("a\n\n- x AAAAAAA=\n", 16, &k, &text_size), EBADMSG);
        ASSERT_ERROR(tlog_note_open("\xff\n\n\xe2\x80\x94 x AAAAAAA=\n", 17, &k, &text_size), EBADMSG);

        /* more than TLOG_NOTE_SIGNATURES_MAX lines */
        free(two);
        size_t size = strlen(note) + (TLOG_NOTE_SIGNATURES_MAX + 1) * strlen(witness_line) + 1;
        two = malloc(size);
        ASSERT_NOT_NULL(two);
        strcpy(two, note);
        for (size_t i = 0; i <= TLOG_NOTE_SIGNATURES_MAX; i++)
                strcat(two, witness_line);
        ASSERT_ERROR(tlog_note_open(two, strlen(two), &k, &text_size), EBADMSG);

        /* what cannot be signed */
        char *x = NULL;
        ASSERT_ERROR(tlog_note_sign(&k, "no newline", &x), EINVAL);
        ASSERT_ERROR(tlog_note_sign(&k, "tab\there\n", &x), EINVAL);
        ASSERT_NULL(x);
        tlog_key_done(&k);
        tlog_key_done(&other);
        tlog_key_done(&same_name);
}

TEST(checkpoints) {
        _cleanup_free_ char *text = NULL;
        TlogCheckpoint c;
        TlogHash root;

        for (size_t i = 0; i < TLOG_HASH_SIZE; i++)
                root.bytes[i] = (uint8_t) i;
        ASSERT_OK(tlog_checkpoint_format("patela.example/fleet", 1234567, &root, &text));
        ASSERT_STREQ(text, "patela.example/fleet\n1234567\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
        ASSERT_OK(tlog_checkpoint_parse(text, strlen(text), &c));
        ASSERT_STREQ(c.origin, "patela.example/fleet");
        ASSERT_EQ(c.size, 1234567);
        ASSERT_TRUE(tlog_hash_equal(&c.root, &root));

        static const char *const good[] = {
                "o\n0\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
                "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next one\next two\n",
                "o\n9223372036854775808\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        };
        static const char *const bad[] = {
                "\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",     /* empty origin */
                "o\n01\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",   /* leading zero */
                "o\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",   /* sign */
                "o\n\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",     /* no size */
                "o\n9223372036854775809\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", /* > 2^63 */
                "o\n99999999999999999999\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
                "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",   /* 31 bytes */
                "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",    /* no padding */
                "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",      /* no final newline */
                "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",  /* empty extension line */
                "o\n1\n",
                "o\x01\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", /* control character */
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ASSERT_OK(tlog_checkpoint_parse(good[i], strlen(good[i]), &c));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ASSERT_ERROR(tlog_checkpoint_parse(bad[i], strlen(bad[i]), &c), EBADMSG);
        char *x = NULL;
        ASSERT_ERROR(tlog_checkpoint_format("", 1, &root, &x), EINVAL);
        ASSERT_ERROR(tlog_checkpoint_format("o", TLOG_SIZE_MAX + 1, &root, &x), EINVAL);
        ASSERT_NULL(x);
}

DEFINE_TEST_MAIN
