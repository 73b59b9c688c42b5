/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* For the server's unit tests: a pending node with an identity of its own (EK and AK from the default
 * templates, told apart by i). */
#include <stdio.h>

#include "server-nodes.h"
#include "tests.h"
#include "tpm2-marshal.h"
#include "tpm2-templates.h"

static inline int64_t test_node_new(Db *db, unsigned i) {
        NodeIdentity id = { .ek_type = "ecc-p256", .ek_certificate_status = "absent" };
        Node n;

        tpm2_ek_template(TPM2_KEY_ECC_P256, &id.ek_public);
        id.ek_public.publicArea.unique.ecc.x.buffer[0] = (uint8_t) i;
        tpm2_ak_template(TPM2_KEY_ECC_P256, &id.ak_public);
        id.ak_public.publicArea.unique.ecc.x.size = 32;
        id.ak_public.publicArea.unique.ecc.x.buffer[0] = (uint8_t) i;
        ASSERT_OK(tpm2_public_name(&id.ek_public.publicArea, &id.ek_name));
        ASSERT_OK(tpm2_public_name(&id.ak_public.publicArea, &id.ak_name));
        snprintf(id.fingerprint, sizeof(id.fingerprint), "TEST-%04u", i);
        ASSERT_OK(node_create_pending(db, &id, "test", 100, 3600, 1, &n));
        return n.id;
}
