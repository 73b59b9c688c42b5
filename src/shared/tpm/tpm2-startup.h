/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <tss2/tss2_tcti.h>

/* A TCTI in front of another that sends TPM2_Startup(CLEAR) only when the TPM asks for it.
 *
 * A TPM behind /dev/tpmrm0 was started by the firmware or the kernel, swtpm with --flags startup-clear and
 * qemu's swtpm by the guest firmware: for them a Startup per process is a wasted command (it answers
 * TPM_RC_INITIALIZE). A TPM nobody started (libtpms in-process, swtpm without startup flags) answers
 * TPM_RC_INITIALIZE to its first command instead: then, and only then, Startup is sent and that command
 * sent once more, unseen by ESAPI. From the first answer on, everything passes straight through.
 *
 * n_commands, if not NULL, is incremented for each Startup sent (the count of Tpm2Context). inner stays
 * the caller's: tpm2_startup_tcti_free() does not finalize it. */
int tpm2_startup_tcti_new(TSS2_TCTI_CONTEXT *inner, unsigned *n_commands, TSS2_TCTI_CONTEXT **ret);
TSS2_TCTI_CONTEXT *tpm2_startup_tcti_free(TSS2_TCTI_CONTEXT *t);
