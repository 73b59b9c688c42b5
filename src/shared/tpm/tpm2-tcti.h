/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsing of TCTI strings, "MODULE[:CONF]", as tpm2-tools and tpm2-tss spell them:
 *   device:/dev/tpmrm0      swtpm:path=/run/x/tpm.sock     swtpm:host=127.0.0.1,port=2321
 *   mssim:host=::1,port=2321      libtpms:/tmp/state      tabrmd:bus_type=system
 * A bare path "/dev/tpmrm0" means "device:/dev/tpmrm0". Only the modules named above are accepted: the
 * module name becomes a library file name (libtss2-tcti-MODULE.so.0) that the loader opens. */

#define TPM2_TCTI_DEFAULT "device:/dev/tpmrm0"
#define TPM2_TCTI_ENV "PATELA_TPM2_TCTI"
#define TPM2_TCTI_STRING_MAX 4096

int tpm2_tcti_parse(const char *s, char **ret_module, char **ret_conf);

/* The node's configuration file, shared by patela-configd (every key of patela.conf(5)), patela-attestd and
 * patela-keyd (TPMDevice= only: they open the TPM, configd never does). */
#define TPM2_TCTI_CONFIG_FILE "/etc/patela/patela.conf"
#define TPM2_TCTI_CONFIG_DROPIN_DIR "/etc/patela/patela.conf.d"
#define TPM2_TCTI_CONFIG_KEY "TPMDevice"

/* TPMDevice= of the [Config] section of path (must exist), or, with path NULL, of TPM2_TCTI_CONFIG_FILE
 * (may be missing) and its drop-ins; the other keys are configd's and left alone. *ret is NULL when nothing
 * sets it. A value that tpm2_tcti_parse() refuses is an error, logged with its file and line. */
int tpm2_tcti_load_config(const char *path, char **ret);

/* For the daemons that open the TPM: *tcti as given on the command line, else $PATELA_TPM2_TCTI, else
 * TPMDevice= of path (NULL: the node's configuration file and drop-ins), see tpm2_tcti_load_config(). Flags
 * over the environment over files, as everywhere. */
int tpm2_tcti_configure(char **tcti, const char *path);

/* The TCTI to use: the configured value (tpm2_tcti_configure()) if set, else $PATELA_TPM2_TCTI if set, else
 * the default. */
const char *tpm2_tcti_select(const char *configured);
