/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <tss2/tss2_rc.h>

#include <stdio.h>
#include <unistd.h>

#include "test-libtpms.h"
#include "tests.h"
#include "tpm2-nv.h"
#include "tpm2-util.h"

TEST(rc_to_errno) {
        ASSERT_EQ(tpm2_rc_to_errno(TSS2_RC_SUCCESS), 0);
        /* fmt1 codes carry parameter/handle/session numbers in bits 6 and 8–11: they must not matter. */
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_INTEGRITY), -EBADMSG);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_INTEGRITY | TPM2_RC_P | TPM2_RC_2), -EBADMSG);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_HANDLE | TPM2_RC_H | TPM2_RC_1), -ENOENT);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_POLICY_FAIL | TPM2_RC_S | TPM2_RC_1), -EPERM);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_BAD_AUTH | TPM2_RC_S | TPM2_RC_2), -EPERM);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_VALUE | TPM2_RC_P | TPM2_RC_1), -EINVAL);
        /* fmt0 */
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_RETRY), -EAGAIN);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_NV_SPACE), -ENOSPC);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_NV_DEFINED), -EEXIST);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_PCR_CHANGED), -ESTALE);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_LOCKOUT), -EBUSY);
        ASSERT_EQ(tpm2_rc_to_errno(TPM2_RC_FAILURE), -EIO);
        /* other layers */
        ASSERT_EQ(tpm2_rc_to_errno(TSS2_TCTI_RC_IO_ERROR), -EIO);
        ASSERT_EQ(tpm2_rc_to_errno(TSS2_ESYS_RC_BAD_VALUE), -EINVAL);
        ASSERT_EQ(tpm2_rc_to_errno(TSS2_ESYS_RC_MEMORY), -ENOMEM);
        ASSERT_EQ(tpm2_rc_to_errno(TSS2_RESMGR_TPM_RC_LAYER | TPM2_RC_INTEGRITY), -EBADMSG);
}

TEST(pcr_selection) {
        TPML_PCR_SELECTION s;

        tpm2_pcr_selection_from_mask(TPM2_ALG_SHA256, (1U << 0) | (1U << 7) | (1U << 11) | (1U << 23), &s);
        ASSERT_EQ(s.count, 1);
        ASSERT_EQ(s.pcrSelections[0].hash, TPM2_ALG_SHA256);
        ASSERT_EQ(s.pcrSelections[0].sizeofSelect, 3);
        ASSERT_EQ(s.pcrSelections[0].pcrSelect[0], 0x81);
        ASSERT_EQ(s.pcrSelections[0].pcrSelect[1], 0x08);
        ASSERT_EQ(s.pcrSelections[0].pcrSelect[2], 0x80);
}

TEST(hash_algs) {
        ASSERT_EQ(tpm2_hash_alg_from_string("sha256"), TPM2_ALG_SHA256);
        ASSERT_EQ(tpm2_hash_alg_from_string("sha1"), TPM2_ALG_SHA1);
        ASSERT_EQ(tpm2_hash_alg_from_string("SHA256"), -EINVAL);
        ASSERT_EQ(tpm2_hash_alg_from_string("md5"), -EINVAL);
        ASSERT_EQ(tpm2_hash_alg_from_string(NULL), -EINVAL);
        ASSERT_STREQ(tpm2_hash_alg_to_string(TPM2_ALG_SHA384), "sha384");
        ASSERT_NULL(tpm2_hash_alg_to_string(TPM2_ALG_NULL));
        ASSERT_EQ(tpm2_hash_alg_digest_size(TPM2_ALG_SHA512), 64);
        ASSERT_EQ(tpm2_hash_alg_digest_size(TPM2_ALG_NULL), 0);
}

TEST(context_with_bad_tcti) {
        Tpm2Context *c = NULL;

        ASSERT_EQ(tpm2_context_new("nosuch:x", &c), -EOPNOTSUPP);
        /* A socket that does not exist: the TCTI loads, the connection fails. */
        ASSERT_TRUE(tpm2_context_new("swtpm:path=/nonexistent/tpm.sock", &c) < 0);
        ASSERT_NULL(c);
}

TEST(pcr_lists) {
        uint32_t m;

        ASSERT_OK(tpm2_parse_pcr_list("0", &m));
        ASSERT_EQ(m, 1);
        ASSERT_OK(tpm2_parse_pcr_list("0-23", &m));
        ASSERT_EQ(m, 0xFFFFFF);
        ASSERT_OK(tpm2_parse_pcr_list("7,0-1", &m));
        ASSERT_EQ(m, 0x83);
        ASSERT_ERROR(tpm2_parse_pcr_list("24", &m), EINVAL);
        ASSERT_ERROR(tpm2_parse_pcr_list("3-1", &m), EINVAL);
        ASSERT_ERROR(tpm2_parse_pcr_list("1,,2", &m), EINVAL);
        ASSERT_ERROR(tpm2_parse_pcr_list("", &m), EINVAL);
        ASSERT_ERROR(tpm2_parse_pcr_list("a", &m), EINVAL);
        ASSERT_ERROR(tpm2_parse_pcr_list("1-", &m), EINVAL);
}


/* The NV helpers against libtpms in this process, and what each costs in TPM commands. */
TEST(nv_commands) {
        _cleanup_(tpm2_context_freep) Tpm2Context *c = NULL;
        _cleanup_free_ uint8_t *big = NULL, *back = NULL;
        _cleanup_(tpm2_handle_freep) Tpm2Handle *h = NULL;
        uint8_t small[100];
        TPM2B_NV_PUBLIC pub;
        uint32_t buffer_max, index_max;
        uint64_t present;
        size_t size;
        unsigned n;

        ASSERT_OK(libtpms_context(&c));
        big = malloc(1500);
        ASSERT_NOT_NULL(big);
        for (size_t i = 0; i < 1500; i++)
                big[i] = (uint8_t) (i * 7);
        memset(small, 0x5a, sizeof(small));
        ASSERT_OK(tpm2_nv_define(c, 0x01300100, sizeof(small)));
        ASSERT_OK(tpm2_nv_write_all(c, 0x01300100, small, sizeof(small)));
        ASSERT_OK(tpm2_nv_define(c, 0x01300102, 1500));
        ASSERT_OK(tpm2_nv_write_all(c, 0x01300102, big, 1500));

        /* Fixed properties: one GetCapability for all of them (the writes above asked already). */
        n = c->n_commands;
        ASSERT_OK(tpm2_get_property(c, TPM2_PT_NV_BUFFER_MAX, &buffer_max));
        ASSERT_OK(tpm2_get_property(c, TPM2_PT_NV_INDEX_MAX, &index_max));
        ASSERT_EQ(c->n_commands, n);
        ASSERT_TRUE(buffer_max >= 512 && index_max >= 1500);

        /* A small index: NV_ReadPublic and one NV_Read. */
        n = c->n_commands;
        ASSERT_OK(tpm2_nv_read_all(c, 0x01300100, 4096, &back, &size, &pub));
        ASSERT_EQ(c->n_commands - n, 2);
        /* and the public area it read, with no command more */
        ASSERT_EQ(pub.nvPublic.dataSize, sizeof(small));
        ASSERT_EQ(pub.nvPublic.attributes,
                  TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA | TPMA_NV_WRITTEN);
        ASSERT_EQ(size, sizeof(small));
        ASSERT_MEMEQ(back, small, sizeof(small));
        free(TAKE_PTR(back));

        /* A large one: NV_ReadPublic and one NV_Read per TPM2_PT_NV_BUFFER_MAX bytes. */
        n = c->n_commands;
        ASSERT_OK(tpm2_nv_read_all(c, 0x01300102, 4096, &back, &size, NULL));
        ASSERT_EQ(c->n_commands - n, 1 + (1500 + buffer_max - 1) / buffer_max);
        ASSERT_EQ(size, 1500);
        ASSERT_MEMEQ(back, big, 1500);
        ASSERT_ERROR(tpm2_nv_read_all(c, 0x01300102, 1000, &back, &size, NULL), E2BIG);
        ASSERT_ERROR(tpm2_nv_read_all(c, 0x01300101, 4096, &back, &size, NULL), ENOENT);

        /* Sizes and public areas: the lookup's NV_ReadPublic and nothing more. */
        n = c->n_commands;
        ASSERT_OK(tpm2_nv_size(c, 0x01300102, &size));
        ASSERT_EQ(size, 1500);
        ASSERT_EQ(c->n_commands - n, 1);
        ASSERT_OK(tpm2_handle_from_tpm(c, 0x01300100, &h));
        n = c->n_commands;
        ASSERT_OK(tpm2_handle_nv_public(h, &pub));
        ASSERT_EQ(c->n_commands, n);
        ASSERT_EQ(pub.nvPublic.nvIndex, 0x01300100);
        ASSERT_EQ(pub.nvPublic.dataSize, sizeof(small));
        ASSERT_TRUE(pub.nvPublic.attributes & TPMA_NV_WRITTEN);
        {
                TPM2B_PUBLIC p;
                ASSERT_ERROR(tpm2_handle_public(h, &p), EINVAL); /* an index, not an object */
        }

        /* Which handles exist, in one command. */
        n = c->n_commands;
        ASSERT_OK(tpm2_handles_present(c, 0x01300100, 4, &present));
        ASSERT_EQ(c->n_commands - n, 1);
        ASSERT_EQ(present, 0x5);
        ASSERT_ERROR(tpm2_handles_present(c, 0x01300100, 65, &present), EINVAL);

        /* An index only a policy writes: defined by the owner, but the owner cannot write it. */
        {
                TPM2B_DIGEST policy = { .size = 32 };
                memset(policy.buffer, 0x42, 32);
                ASSERT_OK(tpm2_nv_define_with_policy(c, 0x01300103, 16, TPMA_NV_POLICYWRITE | TPMA_NV_OWNERREAD |
                                                                                TPMA_NV_NO_DA, &policy));
                n = c->n_commands;
                ASSERT_OK(tpm2_nv_public(c, 0x01300103, &pub));
                ASSERT_EQ(c->n_commands - n, 1);
                ASSERT_EQ(pub.nvPublic.attributes, TPMA_NV_POLICYWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA);
                ASSERT_EQ(pub.nvPublic.authPolicy.size, 32);
                ASSERT_MEMEQ(pub.nvPublic.authPolicy.buffer, policy.buffer, 32);
                ASSERT_ERROR(tpm2_nv_write_all(c, 0x01300103, small, 16), EPERM);
                ASSERT_ERROR(tpm2_nv_read_all(c, 0x01300103, 4096, &back, &size, &pub), ENODATA);
                ASSERT_ERROR(tpm2_nv_public(c, 0x01300104, &pub), ENOENT);
        }
}

DEFINE_TEST_MAIN
