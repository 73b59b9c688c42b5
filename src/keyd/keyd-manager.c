/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdlib.h>

#include "io.patela.Keys.h"
#include "keyd-manager.h"
#include "keyd-varlink.h"
#include "log.h"
#include "tor-nickname.h"
#include "tpm2-tcti.h"

int manager_new(Manager **ret) {
        Manager *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->required_pcrs = KEYD_REQUIRED_PCRS_DEFAULT;
        m->idle_usec = KEYD_IDLE_USEC_DEFAULT;
        m->policy_path = strdup(KEYD_POLICY_DEFAULT);
        m->key_directory = strdup(KEYD_KEY_DIRECTORY_DEFAULT);
        m->tor_directory = strdup(KEYD_TOR_DIRECTORY_DEFAULT);
        m->state_directory = strdup(KEYD_STATE_DIRECTORY_DEFAULT);
        if (!m->policy_path || !m->key_directory || !m->tor_directory || !m->state_directory) {
                manager_free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

void manager_forget_tpm(Manager *m) {
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
        free(m->policy_path);
        free(m->key_directory);
        free(m->tor_directory);
        free(m->state_directory);
        free(m);
        return NULL;
}

int manager_tpm(Manager *m, Tpm2Context **ret) {
        const char *tcti;
        int r;

        if (!m->tpm) {
                tcti = tpm2_tcti_select(m->tcti);
                r = tpm2_context_new(tcti, &m->tpm);
                if (r < 0)
                        return log_error_errno(r, "Failed to open TPM '%s': %m", tcti);
        }
        *ret = m->tpm;
        return 0;
}

/* While a relay instance exists (its RuntimeDirectory, TOR_DIRECTORY/NAME), keyd stays: the instance's
 * ExecStopPost= has keyd seal tor's state when it stops, and at shutdown systemd no longer starts a service
 * for a connection to its socket. */
static int keep_alive(void *userdata) {
        Manager *m = userdata;
        DIR *d = opendir(m->tor_directory);
        struct dirent *de;
        int found = 0;

        if (!d)
                return 0;
        while (!found && (de = readdir(d)))
                found = tor_nickname_ok(de->d_name);
        closedir(d);
        if (found)
                log_debug("Idle, but a relay instance exists in %s: staying to seal its tor state when it stops.",
                          m->tor_directory);
        return found;
}

int manager_start(Manager *m, const char *listen_address) {
        int r;

        /* Who may connect is the socket's mode: root and patela-configd's group (patela-keyd.socket; 0600
         * when keyd binds it itself). What configd's user may not do is refused per method (keyd-varlink.c).
         * Every input is sensitive: a family key arrives through EnsureRelays. */
        r = varlink_service_new(&vl_interface_io_patela_Keys, SD_VARLINK_SERVER_INPUT_SENSITIVE, m,
                                m->idle_usec, &m->service);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the varlink server: %m");
        m->service->keep_alive = keep_alive;
        r = keyd_bind_methods(m->service->server);
        if (r < 0)
                return log_error_errno(r, "Failed to bind varlink methods: %m");
        r = varlink_service_listen(m->service, listen_address);
        if (r == -ENXIO)
                return log_error_errno(r, "No socket passed by the service manager and no --listen= given.");
        if (r < 0)
                return log_error_errno(r, "Failed to listen: %m");
        return 0;
}
