/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "attestd-manager.h"
#include "attestd-varlink.h"
#include "io.patela.Attest.h"
#include "log.h"
#include "tpm2-tcti.h"

int manager_new(Manager **ret) {
        Manager *m;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        *m = (Manager) {
                .ek_type = _TPM2_KEY_TYPE_INVALID,
                .ak_type = TPM2_KEY_ECC_P256,
                .idle_usec = ATTESTD_IDLE_USEC_DEFAULT,
        };
        *ret = m;
        return 0;
}

void manager_forget_tpm(Manager *m) {
        /* Flush what we own while the TPM is still there; after a transport error this fails quietly. */
        m->keys = attest_keys_free(m->keys);
        m->tpm = tpm2_context_free(m->tpm);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        varlink_service_free(m->service);
        if (m->tpm)
                log_debug("TPM commands issued by this process: %u", m->tpm->n_commands);
        manager_forget_tpm(m);
        free(m->tcti);
        free(m->firmware_log);
        free(m->measure_log);
        free(m);
        return NULL;
}

int manager_acquire_keys(Manager *m, AttestKeys **ret) {
        const char *tcti;
        int r;

        if (m->keys) {
                *ret = m->keys;
                return 0;
        }

        if (!m->tpm) {
                tcti = tpm2_tcti_select(m->tcti);
                r = tpm2_context_new(tcti, &m->tpm);
                if (r < 0)
                        return log_error_errno(r, "Failed to open TPM '%s': %m", tcti);
        }

        r = attest_keys_load(m->tpm, m->ek_type, m->ak_type, &m->keys);
        if (r < 0) {
                log_error_errno(r, "Failed to load the EK and AK: %s", tpm2_last_error(m->tpm));
                manager_forget_tpm(m);
                return r == -ENODEV ? -EIO : r;
        }

        log_info("Identity loaded: EK %s%s, AK %s, fingerprint %s.", tpm2_key_type_to_string(m->keys->ek_type),
                 m->keys->ek_persistent ? " (persistent)" : "", tpm2_key_type_to_string(m->keys->ak_type),
                 m->keys->fingerprint);
        *ret = m->keys;
        return 0;
}

int manager_start(Manager *m, const char *listen_address) {
        int r;

        /* The interface hands out quotes and activates credentials: who may connect is the socket's
         * mode, root and patela-configd's group (patela-attestd.socket; 0600 when attestd binds it itself).
         * The input of every call is marked sensitive, so credential blobs are wiped once processed. */
        r = varlink_service_new(&vl_interface_io_patela_Attest, SD_VARLINK_SERVER_INPUT_SENSITIVE, m,
                                m->idle_usec, &m->service);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the varlink server: %m");

        r = attestd_bind_methods(m->service->server);
        if (r < 0)
                return log_error_errno(r, "Failed to bind varlink methods: %m");

        r = varlink_service_listen(m->service, listen_address);
        if (r == -ENXIO)
                return log_error_errno(r, "No socket passed by the service manager and no --listen= given.");
        if (r < 0)
                return log_error_errno(r, "Failed to listen: %m");
        return 0;
}
