/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "configd-config.h"
#include "configd-files.h"
#include "log.h"
#include "tests.h"
#include "tlog-note.h"

#define SEC 1000000ULL

static void write_file(const char *dir, const char *name, const char *content) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        if (!f)
                TEST_FAIL("cannot create %s", path);
        fputs(content, f);
        fclose(f);
}

static void remove_tree(const char *dir) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
}

static int parse(ConfigdConfig *c, const char *text, unsigned *line) {
        return configd_config_parse(c, text, strlen(text), line);
}

TEST(defaults) {
        ConfigdConfig c;

        configd_config_init(&c);
        ASSERT_EQ(c.reattest_usec, 3600 * SEC);
        ASSERT_EQ(c.state_save_usec, 3600 * SEC);
        ASSERT_EQ(c.retry_usec, 5 * SEC);
        ASSERT_EQ(c.retry_max_usec, 300 * SEC);
        ASSERT_TRUE(c.manage_units);
        ASSERT_EQ(c.tor_allocator, TOR_ALLOCATOR_JEMALLOC);
        ASSERT_NULL(c.key_directory); /* the default comes from the manager */
        ASSERT_NULL(c.server_url);
        /* Nothing to reach the server with: refused before anything starts. */
        ASSERT_ERROR(configd_config_check(&c), EINVAL);
        configd_config_done(&c);
}

TEST(parse_every_key) {
        static const char text[] =
                "# patela.conf\n"
                "; another comment\n"
                "\n"
                "[Config]\n"
                "ServerURL = https://config.example.org:8443/patela/\n"
                "CACertificate=/etc/patela/ca.pem\n"
                "ReattestInterval=30min\n"
                "StateSaveInterval=0\n"
                "RetryInterval=2s\n"
                "RetryIntervalMax=1min\n"
                "ConnectTimeout=3s\n"
                "Timeout=20s\n"
                "StateDirectory=/run/patela\n"
                "TorrcDirectory=/run/patela/torrc\n"
                "NetworkDirectory=/run/systemd/network\n"
                "NetworkFile=10-uplink.network\n"
                "AttestSocket=/run/patela/io.patela.Attest\n"
                "KeysSocket=/run/patela/io.patela.Keys\n"
                "RelayUser=_tor-%n\n"
                "DataDirectory=/var/lib/tor-instances/%n\n"
                "KeyDirectory=/run/tor-keys/%n\n"
                "TorAllocator=mimalloc\n"
                "ManageUnits=yes\n";
        ConfigdConfig c;
        unsigned line = 99;

        configd_config_init(&c);
        ASSERT_OK(configd_config_parse(&c, text, strlen(text), &line));
        ASSERT_EQ(line, 0);
        /* The trailing slash goes: paths are appended. */
        ASSERT_STREQ(c.server_url, "https://config.example.org:8443/patela");
        ASSERT_STREQ(c.ca_certificate, "/etc/patela/ca.pem");
        ASSERT_EQ(c.reattest_usec, 1800 * SEC);
        ASSERT_EQ(c.state_save_usec, 0); /* only when configd stops */
        ASSERT_EQ(c.retry_usec, 2 * SEC);
        ASSERT_EQ(c.retry_max_usec, 60 * SEC);
        ASSERT_EQ(c.connect_timeout_usec, 3 * SEC);
        ASSERT_EQ(c.request_timeout_usec, 20 * SEC);
        ASSERT_STREQ(c.network_file, "10-uplink.network");
        ASSERT_STREQ(c.relay_user, "_tor-%n");
        ASSERT_STREQ(c.data_directory, "/var/lib/tor-instances/%n");
        ASSERT_TRUE(c.manage_units);
        ASSERT_STREQ(c.key_directory, "/run/tor-keys/%n");
        ASSERT_EQ(c.tor_allocator, TOR_ALLOCATOR_MIMALLOC);
        ASSERT_STREQ(tor_allocator_library(c.tor_allocator), "libmimalloc.so.3");
        ASSERT_OK(configd_config_check(&c));
        /* Later wins. */
        ASSERT_OK(configd_config_set(&c, "KeyDirectory", ""));
        ASSERT_STREQ(c.key_directory, "");
        ASSERT_OK(configd_config_set(&c, "TorAllocator", "system"));
        ASSERT_OK(configd_config_set(&c, "TPMDevice", "/dev/tpm0"));
        ASSERT_OK(configd_config_set(&c, "TPMDevice", "swtpm:path=/run/swtpm/tpm.sock"));
        ASSERT_STREQ(c.tpm_device, "swtpm:path=/run/swtpm/tpm.sock");
        ASSERT_EQ(c.route_table, CONFIGD_ROUTE_TABLE_DEFAULT);
        ASSERT_OK(configd_config_set(&c, "RouteTable", "4294967295"));
        ASSERT_EQ(c.route_table, UINT32_MAX);
        ASSERT_STREQ(tor_allocator_library(c.tor_allocator), "");
        ASSERT_OK(configd_config_set(&c, "ManageUnits", "off"));
        ASSERT_FALSE(c.manage_units);
        ASSERT_TRUE(c.relay_metrics);
        ASSERT_OK(configd_config_set(&c, "RelayMetrics", "no"));
        ASSERT_FALSE(c.relay_metrics);
        ASSERT_OK(configd_config_set(&c, "RelayUser", "root"));
        ASSERT_STREQ(c.relay_user, "root");
        ASSERT_NULL(c.resolver_file); /* the default comes from manager_start() */
        ASSERT_OK(configd_config_set(&c, "ResolverFile", "/run/patela/resolver/outgoing.conf"));
        ASSERT_STREQ(c.resolver_file, "/run/patela/resolver/outgoing.conf");
        ASSERT_OK(configd_config_set(&c, "ResolverFile", ""));
        ASSERT_STREQ(c.resolver_file, "");
        configd_config_done(&c);
}

TEST(errors_name_the_line) {
        ConfigdConfig c;
        unsigned line = 0;

        configd_config_init(&c);
        /* Blank lines and comments count. */
        ASSERT_ERROR(parse(&c, "[Config]\n\n# x\nNoSuchKey=1\n", &line), ENOENT);
        ASSERT_EQ(line, 4);
        ASSERT_ERROR(parse(&c, "[Server]\n", &line), EBADMSG);
        ASSERT_EQ(line, 1);
        ASSERT_ERROR(parse(&c, "ServerURL=https://x\n", &line), EBADMSG); /* no section */
        ASSERT_EQ(line, 1);
        ASSERT_ERROR(parse(&c, "[Config]\njunk\n", &line), EBADMSG);
        ASSERT_EQ(line, 2);
        ASSERT_ERROR(parse(&c, "[Config]\nTimeout=0\n", &line), EINVAL);
        ASSERT_EQ(line, 2);
        /* NUL bytes and oversized input are refused before anything is parsed. */
        ASSERT_ERROR(configd_config_parse(&c, "[Config]\0x", 10, &line), EBADMSG);
        configd_config_done(&c);
}

TEST(long_lines_and_files) {
        ConfigdConfig c;
        unsigned line = 0;
        size_t n = 70 * 1024;
        char *big = malloc(n + 1);

        ASSERT_NOT_NULL(big);
        configd_config_init(&c);
        memset(big, '#', n);
        big[n] = '\0';
        ASSERT_ERROR(configd_config_parse(&c, big, n, &line), E2BIG);
        memcpy(big, "[Config]\n", 9);
        ASSERT_ERROR(configd_config_parse(&c, big, 9 + 5000, &line), E2BIG);
        ASSERT_EQ(line, 2);
        free(big);
        configd_config_done(&c);
}

TEST(bad_values) {
        static const char *const bad[][2] = {
                { "ServerURL", "http://config.example.org" },   /* TLS only */
                { "ServerURL", "https://" },
                { "ServerURL", "https:///path" },
                { "ServerURL", "https://user:pw@host" },        /* no credentials in URLs */
                { "ServerURL", "https://host/?q=1" },
                { "ServerURL", "https://host/#x" },
                { "ServerURL", "https://ho st" },
                { "ServerURL", "" },
                { "CACertificate", "ca.pem" },                  /* relative */
                { "CACertificate", "/etc/pa tela/ca.pem" },
                { "CACertificate", "/etc/../ca.pem" },
                { "TorrcDirectory", "/run/patela/torrc#x" },    /* '#' starts a torrc comment */
                { "TorrcDirectory", "/run/\"x" },
                { "TorrcDirectory", "/run/%n" },                /* not a pattern */
                { "DataDirectory", "/var/lib/tor/%x" },
                { "DataDirectory", "var/lib" },
                { "RelayUser", "_tor/%n" },
                { "RelayUser", "-x" },
                { "RelayUser", "%u" },
                { "RelayUser", "" },
                { "NetworkFile", "uplink" },
                { "NetworkFile", "../x.network" },
                { "NetworkFile", ".network" },
                { "ReattestInterval", "0" },
                { "ReattestInterval", "1year" },
                { "StateSaveInterval", "8d" },
                { "StateSaveInterval", "-1s" },
                { "RetryInterval", "1ms" },
                { "ConnectTimeout", "-1" },
                { "ManageUnits", "maybe" },
                { "KeyDirectory", "run/keys" },
                { "KeyDirectory", "/run/keys/%u" },
                { "TorAllocator", "tcmalloc" },
                { "TorAllocator", "" },
                { "TorAllocator", "JEMALLOC" },
                { "TPMDevice", "" },
                { "TPMDevice", "evil:/tmp/x" },
                { "TPMDevice", "dev/tpm0" },
                { "RouteTable", "0" },
                { "RouteTable", "254" },
                { "RouteTable", "4294967296" },
                { "RouteTable", "-1" },
                { "ResolverFile", "run/outgoing.conf" },
                { "ResolverFile", "/run/patela/resolver/../x.conf" },
                { "ResolverFile", "/run/out going.conf" },
                { "RelayMetrics", "sometimes" },
        };
        ConfigdConfig c;

        configd_config_init(&c);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (configd_config_set(&c, bad[i][0], bad[i][1]) != -EINVAL)
                        TEST_FAIL("%s=%s accepted", bad[i][0], bad[i][1]);
        ASSERT_ERROR(configd_config_set(&c, "TCTI", "device:/dev/tpmrm0"), ENOENT); /* configd has no TPM */
        ASSERT_ERROR(configd_config_set(&c, "serverurl", "https://x"), ENOENT);     /* keys are case-sensitive */
        ASSERT_OK(configd_config_set(&c, "DataDirectory", "/var/lib/tor-instances/%n-%%"));
        configd_config_done(&c);
}

TEST(check_retry_order) {
        ConfigdConfig c;

        configd_config_init(&c);
        ASSERT_OK(configd_config_set(&c, "ServerURL", "https://127.0.0.1:8443"));
        ASSERT_OK(configd_config_set(&c, "CACertificate", "/ca.pem"));
        ASSERT_OK(configd_config_check(&c));
        ASSERT_OK(configd_config_set(&c, "RetryInterval", "10min"));
        ASSERT_ERROR(configd_config_check(&c), EINVAL); /* longer than RetryIntervalMax=5min */
        configd_config_done(&c);
}

TEST(files_and_dropins) {
        char dir[] = "/tmp/test-configd-config.XXXXXX", main_file[4096], dropins[4096];
        ConfigdConfig c;

        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(main_file, sizeof(main_file), "%s/patela.conf", dir);
        snprintf(dropins, sizeof(dropins), "%s/patela.conf.d", dir);

        /* Neither exists: defaults. */
        configd_config_init(&c);
        ASSERT_OK(configd_config_load(&c, NULL, main_file, dropins));
        ASSERT_NULL(c.server_url);
        configd_config_done(&c);

        write_file(dir, "patela.conf", "[Config]\nServerURL=https://main.example\nRelayUser=main\n");
        ASSERT_EQ(mkdir(dropins, 0755), 0);
        write_file(dropins, "20-b.conf", "[Config]\nRelayUser=b\n");
        write_file(dropins, "10-a.conf", "[Config]\nRelayUser=a\nServerURL=https://a.example\n");
        write_file(dropins, "30-ignored.txt", "this is not read\n");
        write_file(dropins, ".hidden.conf", "neither is this\n");

        configd_config_init(&c);
        ASSERT_OK(configd_config_load(&c, NULL, main_file, dropins));
        ASSERT_STREQ(c.server_url, "https://a.example");
        ASSERT_STREQ(c.relay_user, "b"); /* lexical order: 20-b after 10-a */
        configd_config_done(&c);

        /* --config=FILE: only that file. */
        configd_config_init(&c);
        ASSERT_OK(configd_config_load(&c, main_file, main_file, dropins));
        ASSERT_STREQ(c.relay_user, "main");
        configd_config_done(&c);

        /* A broken drop-in fails the whole load; a named file must exist. */
        write_file(dropins, "40-bad.conf", "[Config]\nRelayUser=ok\nBogus=1\n");
        configd_config_init(&c);
        log_set_max_level(LOG_EMERG); /* the errors are expected */
        ASSERT_ERROR(configd_config_load(&c, NULL, main_file, dropins), ENOENT);
        ASSERT_ERROR(configd_config_load(&c, "/nonexistent/patela.conf", main_file, dropins), ENOENT);
        log_set_max_level(LOG_INFO);
        configd_config_done(&c);
        remove_tree(dir);
}

TEST(credentials_override) {
        char dir[] = "/tmp/test-configd-creds.XXXXXX", ca[4200];
        ConfigdConfig c;

        ASSERT_NOT_NULL(mkdtemp(dir));
        configd_config_init(&c);
        ASSERT_OK(configd_config_set(&c, "ServerURL", "https://from-file.example"));
        ASSERT_OK(configd_config_set(&c, "CACertificate", "/etc/patela/ca.pem"));

        ASSERT_EQ(configd_config_load_credentials(&c, NULL), 0);
        ASSERT_EQ(configd_config_load_credentials(&c, dir), 0); /* empty directory: nothing changes */
        ASSERT_STREQ(c.server_url, "https://from-file.example");

        write_file(dir, "patela.server-url", "https://from-credential.example:8443/\n");
        write_file(dir, "patela.ca", "-----BEGIN CERTIFICATE-----\n");
        ASSERT_EQ(configd_config_load_credentials(&c, dir), 2);
        ASSERT_STREQ(c.server_url, "https://from-credential.example:8443");
        snprintf(ca, sizeof(ca), "%s/patela.ca", dir);
        ASSERT_STREQ(c.ca_certificate, ca);

        write_file(dir, "patela.server-url", "http://plain.example\n");
        log_set_max_level(LOG_EMERG);
        ASSERT_ERROR(configd_config_load_credentials(&c, dir), EINVAL);
        log_set_max_level(LOG_INFO);
        configd_config_done(&c);
        remove_tree(dir);
}

TEST(log_key) {
        char dir[] = "/tmp/test-configd-logkey.XXXXXX", line[512];
        _cleanup_free_ char *verifier = NULL, *signer = NULL;
        ConfigdConfig c;
        TlogKey k;

        ASSERT_OK(tlog_key_generate("patela.test/fleet", &k));
        ASSERT_OK(tlog_key_format_verifier(&k, &verifier));
        ASSERT_OK(tlog_key_format_signer(&k, &signer));
        tlog_key_done(&k);
        configd_config_init(&c);
        ASSERT_NULL(c.log_key);
        ASSERT_OK(configd_config_set(&c, "LogKey", verifier));
        ASSERT_STREQ(c.log_key, verifier);
        /* a signer key, a changed ID, a truncated key are no verifier keys */
        ASSERT_ERROR(configd_config_set(&c, "LogKey", signer), EINVAL);
        snprintf(line, sizeof(line), "%s", verifier);
        line[strlen("patela.test/fleet+")] ^= 1;
        ASSERT_ERROR(configd_config_set(&c, "LogKey", line), EINVAL);
        line[strlen("patela.test/fleet+")] ^= 1;
        line[strlen(line) - 2] = '\0';
        ASSERT_ERROR(configd_config_set(&c, "LogKey", line), EINVAL);
        ASSERT_STREQ(c.log_key, verifier);
        ASSERT_OK(configd_config_set(&c, "LogKey", ""));
        ASSERT_NULL(c.log_key);

        /* the credential, as systemd-creds or echo wrote it */
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(line, sizeof(line), "%s\n", verifier);
        write_file(dir, "patela.log-key", line);
        ASSERT_EQ(configd_config_load_credentials(&c, dir), 1);
        ASSERT_STREQ(c.log_key, verifier);
        write_file(dir, "patela.log-key", "patela.test/fleet+00000000+AQ==\n");
        log_set_max_level(LOG_EMERG);
        ASSERT_ERROR(configd_config_load_credentials(&c, dir), EINVAL);
        log_set_max_level(LOG_INFO);
        configd_config_done(&c);
        remove_tree(dir);
        erase_and_free_sized(signer, strlen(signer));
        signer = NULL;
}

TEST(patterns) {
        char *s = NULL;

        ASSERT_OK(configd_expand_pattern("_tor-%n", "exitA", &s));
        ASSERT_STREQ(s, "_tor-exitA");
        free(s);
        ASSERT_OK(configd_expand_pattern("/var/lib/tor-instances/%n/%n%%", "r1", &s));
        ASSERT_STREQ(s, "/var/lib/tor-instances/r1/r1%");
        free(s);
        ASSERT_OK(configd_expand_pattern("root", "exitA", &s));
        ASSERT_STREQ(s, "root");
        free(s);
        ASSERT_ERROR(configd_expand_pattern("%x", "exitA", &s), EINVAL);
}

TEST(jitter) {
        for (unsigned i = 0; i < 1000; i++) {
                uint64_t j = configd_jitter(3600 * SEC, 10);
                ASSERT_TRUE(j >= 3240 * SEC && j <= 3960 * SEC);
        }
        ASSERT_EQ(configd_jitter(5, 10), 5); /* too short to jitter */
}

DEFINE_TEST_MAIN
