/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests.h"
#include "tpm2-tcti.h"

static void check(const char *s, const char *module, const char *conf) {
        _cleanup_free_ char *m = NULL, *c = NULL;

        ASSERT_OK(tpm2_tcti_parse(s, &m, &c));
        ASSERT_STREQ(m, module);
        if (conf)
                ASSERT_STREQ(c, conf);
        else
                ASSERT_NULL(c);
}

TEST(parse_valid) {
        check("device:/dev/tpmrm0", "device", "/dev/tpmrm0");
        check("/dev/tpm0", "device", "/dev/tpm0");
        check("device", "device", NULL);
        check("device:", "device", NULL);
        check("swtpm:host=127.0.0.1,port=2321", "swtpm", "host=127.0.0.1,port=2321");
        check("swtpm:path=/run/t/tpm.sock", "swtpm", "path=/run/t/tpm.sock");
        check("mssim:host=::1,port=2321", "mssim", "host=::1,port=2321");
        check("libtpms:/tmp/state", "libtpms", "/tmp/state");
        check("tabrmd:bus_type=system", "tabrmd", "bus_type=system");
}

TEST(parse_invalid) {
        char *m = NULL, *c = NULL;
        char *huge;

        ASSERT_ERROR(tpm2_tcti_parse("", &m, &c), EINVAL);
        ASSERT_ERROR(tpm2_tcti_parse(NULL, &m, &c), EINVAL);
        ASSERT_ERROR(tpm2_tcti_parse("../../tmp/evil:x", &m, &c), EOPNOTSUPP);
        ASSERT_ERROR(tpm2_tcti_parse("nosuchtcti:x", &m, &c), EOPNOTSUPP);
        ASSERT_ERROR(tpm2_tcti_parse("swtpm:host=a\nport=1", &m, &c), EINVAL);
        ASSERT_ERROR(tpm2_tcti_parse(":conf", &m, &c), EOPNOTSUPP);

        huge = malloc(TPM2_TCTI_STRING_MAX + 10);
        ASSERT_NOT_NULL(huge);
        memset(huge, 'a', TPM2_TCTI_STRING_MAX + 9);
        memcpy(huge, "device:", 7);
        huge[TPM2_TCTI_STRING_MAX + 9] = '\0';
        ASSERT_ERROR(tpm2_tcti_parse(huge, &m, &c), E2BIG);
        free(huge);
        ASSERT_NULL(m);
        ASSERT_NULL(c);
}

/* Flags over the environment over the configuration file over the default (issue 11, item 12). */
TEST(select_prefers_the_flag) {
        char *tcti = NULL;

        unsetenv(TPM2_TCTI_ENV);
        ASSERT_STREQ(tpm2_tcti_select(NULL), TPM2_TCTI_DEFAULT);
        ASSERT_STREQ(tpm2_tcti_select("swtpm:port=1"), "swtpm:port=1");
        setenv(TPM2_TCTI_ENV, "mssim:port=2", 1);
        ASSERT_STREQ(tpm2_tcti_select("swtpm:port=1"), "swtpm:port=1");
        ASSERT_STREQ(tpm2_tcti_select(NULL), "mssim:port=2");
        /* configure: a flag stays; without one the environment comes before any file */
        tcti = strdup("swtpm:port=1");
        ASSERT_OK(tpm2_tcti_configure(&tcti, "/nonexistent/patela.conf"));
        ASSERT_STREQ(tcti, "swtpm:port=1");
        free(tcti);
        tcti = NULL;
        ASSERT_OK(tpm2_tcti_configure(&tcti, "/nonexistent/patela.conf"));
        ASSERT_STREQ(tcti, "mssim:port=2");
        free(tcti);
        setenv(TPM2_TCTI_ENV, "", 1);
        ASSERT_STREQ(tpm2_tcti_select("swtpm:port=1"), "swtpm:port=1");
        unsetenv(TPM2_TCTI_ENV);
}

/* Writes text to a new temporary file; returns its path (to unlink and free). */
static char *write_temp(const char *text) {
        char *path = strdup("/tmp/test-tpm2-tcti.XXXXXX");
        int fd;

        ASSERT_NOT_NULL(path);
        fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        return path;
}

static int load(const char *text, char **ret) {
        _cleanup_free_ char *path = write_temp(text);
        int r = tpm2_tcti_load_config(path, ret);

        unlink(path);
        return r;
}

TEST(config_file) {
        char *t = NULL;

        /* configd's keys are left to configd; the last TPMDevice= wins. */
        ASSERT_OK(load("[Config]\nServerURL=https://x\nTPMDevice=/dev/tpm0\nRelayUser=whatever\n"
                       "TPMDevice=swtpm:path=/run/swtpm/tpm.sock\n", &t));
        ASSERT_STREQ(t, "swtpm:path=/run/swtpm/tpm.sock");
        free(t);
        t = NULL;
        ASSERT_OK(load("[Config]\nServerURL=https://x\n", &t));
        ASSERT_NULL(t);
        ASSERT_OK(load("", &t));
        ASSERT_NULL(t);
        /* Modules outside the allow-list, empty values, another section: refused. */
        ASSERT_ERROR(load("[Config]\nTPMDevice=evil:/tmp/x\n", &t), EINVAL);
        ASSERT_ERROR(load("[Config]\nTPMDevice=\n", &t), EINVAL);
        ASSERT_ERROR(load("[TPM]\nTPMDevice=/dev/tpm0\n", &t), EBADMSG);
        ASSERT_NULL(t);
        ASSERT_ERROR(tpm2_tcti_load_config("/nonexistent/patela.conf", &t), ENOENT);
}

DEFINE_TEST_MAIN
