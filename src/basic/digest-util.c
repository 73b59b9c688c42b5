/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "digest-util.h"
#include "macro.h"

static const char *const digest_names[] = { "SHA1", "SHA256", "SHA384", "SHA512" };
static EVP_MD *digests[ELEMENTSOF(digest_names)];
static pthread_once_t digests_once = PTHREAD_ONCE_INIT;

/* Process lifetime: nothing frees them (they stay reachable, so leak checkers do not count them). */
static void digests_fetch(void) {
        for (size_t i = 0; i < ELEMENTSOF(digest_names); i++)
                digests[i] = EVP_MD_fetch(NULL, digest_names[i], NULL);
}

const EVP_MD *digest_md(const char *name) {
        if (!name)
                return NULL;
        (void) pthread_once(&digests_once, digests_fetch);
        for (size_t i = 0; i < ELEMENTSOF(digest_names); i++)
                if (strcasecmp(name, digest_names[i]) == 0)
                        return digests[i];
        return NULL;
}

bool sha256_digest(const void *p, size_t size, uint8_t ret[static 32]) {
        const EVP_MD *md = digest_md("SHA256");
        unsigned n = 0;

        if (md && EVP_Digest(p, size, ret, &n, md, NULL) == 1 && n == 32)
                return true;
        memset(ret, 0, 32);
        return false;
}
