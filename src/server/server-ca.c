/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "server-ca.h"
#include "string-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);

static int make_key(EVP_PKEY **ret) {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (!k)
                return -EIO;
        *ret = k;
        return 0;
}

/* Writes PEM to DIR/NAME atomically: a temporary file in DIR, then rename. New files only. */
static int write_pem(const char *dir, const char *name, mode_t mode, EVP_PKEY *key, X509 *cert) {
        char path[PATH_MAX], tmp[PATH_MAX];
        _cleanup_close_ int fd = -EBADF;
        FILE *f;
        int ok;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
        if (access(path, F_OK) == 0)
                return -EEXIST;

        (void) unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return negative_errno();
        f = fdopen(fd, "w");
        if (!f)
                return negative_errno();
        TAKE_FD(fd);
        ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
        ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
        fclose(f);
        if (!ok) {
                (void) unlink(tmp);
                return -EIO;
        }
        /* link() fails if the target appeared meanwhile: never replace an existing key. */
        if (link(tmp, path) < 0) {
                int r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        (void) unlink(tmp);
        return 0;
}

static int set_serial(X509 *x) {
        uint8_t buf[16];
        BIGNUM *bn;
        int ok;

        if (RAND_bytes(buf, sizeof(buf)) != 1)
                return -EIO;
        buf[0] &= 0x7f; /* positive */
        bn = BN_bin2bn(buf, sizeof(buf), NULL);
        ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
        BN_free(bn);
        return ok ? 0 : -EIO;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
        X509V3_CTX ctx;
        X509_EXTENSION *ext;
        int ok;

        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext)
                return -EINVAL;
        ok = X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        return ok ? 0 : -EIO;
}

static int new_cert(EVP_PKEY *key, const char *cn, unsigned days, X509 **ret) {
        _cleanup_(X509_freep) X509 *x = X509_new();
        X509_NAME *name;
        int r;

        if (!x)
                return -ENOMEM;
        if (!X509_set_version(x, 2))
                return -EIO;
        r = set_serial(x);
        if (r < 0)
                return r;
        if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), (long) days * 24 * 3600) || !X509_set_pubkey(x, key))
                return -EIO;
        name = X509_get_subject_name(x);
        if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0))
                return -EINVAL;
        *ret = TAKE_PTR(x);
        return 0;
}

int ca_init(const char *dir, const char *common_name, unsigned days) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        char path[PATH_MAX];
        int r;

        snprintf(path, sizeof(path), "%s/ca.crt", dir);
        if (access(path, F_OK) == 0)
                return -EEXIST;

        /* DIR itself (/etc/patela/tls on a fresh install: the package ships /etc/patela), root's alone; its
         * parent must exist. */
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return negative_errno();

        r = make_key(&key);
        if (r < 0)
                return r;
        r = new_cert(key, common_name, days, &cert);
        if (r < 0)
                return r;
        if (!X509_set_issuer_name(cert, X509_get_subject_name(cert)))
                return -EIO;
        if ((r = add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) < 0 ||
            (r = add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
            (r = add_ext(cert, cert, NID_subject_key_identifier, "hash")) < 0)
                return r;
        if (!X509_sign(cert, key, EVP_sha256()))
                return -EIO;

        r = write_pem(dir, "ca.key", 0600, key, NULL);
        if (r < 0)
                return r;
        return write_pem(dir, "ca.crt", 0644, NULL, cert);
}

static int load_pem(const char *dir, const char *name, EVP_PKEY **ret_key, X509 **ret_cert) {
        char path[PATH_MAX];
        _cleanup_(BIO_freep) BIO *b = NULL;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        b = BIO_new_file(path, "r");
        if (!b)
                return -ENOENT;
        if (ret_key)
                *ret_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        else
                *ret_cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
        return (ret_key ? (void *) *ret_key : (void *) *ret_cert) ? 0 : -EBADMSG;
}

/* "DNS:name" or "IP:address", validated here rather than by OpenSSL's config parser. */
static int san_is_valid(const char *san) {
        const char *v;
        unsigned char buf[16];

        if ((v = startswith(san, "DNS:")))
                return !isempty(v) && strlen(v) <= 253 &&
                       in_charset(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*");
        if ((v = startswith(san, "IP:")))
                return inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1;
        return 0;
}

int ca_issue(const char *dir, const char *name, char *const *sans, unsigned n_sans, unsigned days) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ca_key = NULL, *key = NULL;
        _cleanup_(X509_freep) X509 *ca = NULL, *cert = NULL;
        char san_list[CA_SAN_MAX * 270] = "", file[PATH_MAX];
        const char *cn = NULL;
        int r;

        /* name becomes a file name in dir: no path separators, no dot files. */
        if (isempty(name) || strlen(name) > 64 || name[0] == '.' ||
            !in_charset(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ||
            n_sans == 0 || n_sans > CA_SAN_MAX)
                return -EINVAL;
        for (unsigned i = 0; i < n_sans; i++) {
                if (!san_is_valid(sans[i]))
                        return -EINVAL;
                if (i > 0)
                        strcat(san_list, ",");
                strcat(san_list, sans[i]);
                if (!cn)
                        cn = strchr(sans[i], ':') + 1;
        }

        r = load_pem(dir, "ca.key", &ca_key, NULL);
        if (r < 0)
                return r;
        r = load_pem(dir, "ca.crt", NULL, &ca);
        if (r < 0)
                return r;

        r = make_key(&key);
        if (r < 0)
                return r;
        r = new_cert(key, cn, days, &cert);
        if (r < 0)
                return r;
        if (!X509_set_issuer_name(cert, X509_get_subject_name(ca)))
                return -EIO;
        if ((r = add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
            (r = add_ext(cert, ca, NID_key_usage, "critical,digitalSignature")) < 0 ||
            (r = add_ext(cert, ca, NID_ext_key_usage, "serverAuth")) < 0 ||
            (r = add_ext(cert, ca, NID_subject_alt_name, san_list)) < 0 ||
            (r = add_ext(cert, ca, NID_authority_key_identifier, "keyid:always")) < 0)
                return r;
        if (!X509_sign(cert, ca_key, EVP_sha256()))
                return -EIO;

        snprintf(file, sizeof(file), "%s.key", name);
        r = write_pem(dir, file, 0600, key, NULL);
        if (r < 0)
                return r;
        snprintf(file, sizeof(file), "%s.crt", name);
        return write_pem(dir, file, 0644, NULL, cert);
}
