/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-varlink.h>

#include "ctl-varlink.h"
#include "log.h"

static const char *const service_interface[_CTL_SERVICE_MAX] = {
        [CTL_ATTEST] = "io.patela.Attest",
        [CTL_KEYS] = "io.patela.Keys",
        [CTL_CONFIG] = "io.patela.Config",
};

static const char *const service_daemon[_CTL_SERVICE_MAX] = {
        [CTL_ATTEST] = "patela-attestd",
        [CTL_KEYS] = "patela-keyd",
        [CTL_CONFIG] = "patela-configd",
};

const char *ctl_service_to_string(CtlService s) {
        return s >= 0 && s < _CTL_SERVICE_MAX ? service_interface[s] : NULL;
}

const char *ctl_service_daemon(CtlService s) {
        return s >= 0 && s < _CTL_SERVICE_MAX ? service_daemon[s] : NULL;
}

void ctl_error_done(CtlError *e) {
        free(e->id);
        e->id = NULL;
        e->parameters = sd_json_variant_unref(e->parameters);
        free(e->message);
        e->message = NULL;
}

/* Errors that mean nobody is listening (or the peer went away before answering). */
static bool errno_is_unreachable(int r) {
        switch (-r) {
        case ENOENT:
        case ECONNREFUSED:
        case ENOTSOCK:
        case ECONNRESET:
        case ECONNABORTED:
        case ENOTCONN:
        case EPIPE:
        case ESHUTDOWN:
                return true;
        default:
                return false;
        }
}

static int set_message(CtlError *e, const char *fmt, ...) _printf_(2, 3);
static int set_message(CtlError *e, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;

        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        free(e->message);
        e->message = m;
        return m ? 0 : -ENOMEM;
}

/* "name=value name=value", strings bare, anything else as compact JSON. */
static char *format_parameters(sd_json_variant *p) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!sd_json_variant_is_object(p) || sd_json_variant_elements(p) == 0)
                return strdup("");
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i + 1 < sd_json_variant_elements(p); i += 2) {
                const char *k = sd_json_variant_string(sd_json_variant_by_index(p, i));
                sd_json_variant *v = sd_json_variant_by_index(p, i + 1);

                fputc(' ', f);
                fputs(k, f);
                fputc('=', f);
                if (sd_json_variant_is_string(v))
                        fputs(sd_json_variant_string(v), f);
                else
                        (void) sd_json_variant_dump(v, 0, f, NULL);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

int ctl_call(const Ctl *c, CtlService s, const char *method, uint64_t timeout_usec,
        sd_json_variant **ret_reply, CtlError *ret_error) {
        _cleanup_(sd_varlink_unrefp) sd_varlink *vl = NULL;
        _cleanup_free_ char *full = NULL, *text = NULL;
        sd_json_variant *reply = NULL;
        const char *error_id = NULL, *path = c->socket[s];
        CtlError e = {};
        int r;

        if (asprintf(&full, "%s.%s", service_interface[s], method) < 0)
                return -ENOMEM;

        r = sd_varlink_connect_address(&vl, path);
        if (r < 0) {
                (void) set_message(
                        &e, "Failed to connect to %s at %s: %s", service_daemon[s], path, strerror(-r));
                r = errno_is_unreachable(r) ? -EHOSTUNREACH : r;
                goto fail;
        }
        if (timeout_usec > 0) {
                r = sd_varlink_set_relative_timeout(vl, timeout_usec);
                if (r < 0)
                        return r;
        }

        r = sd_varlink_call(vl, full, NULL, &reply, &error_id);
        if (r < 0) {
                (void) set_message(&e, "Failed to call %s on %s: %s", full, path, strerror(-r));
                r = errno_is_unreachable(r) ? -EHOSTUNREACH : r;
                goto fail;
        }
        if (error_id) {
                if (streq(error_id, SD_VARLINK_ERROR_DISCONNECTED)) {
                        (void) set_message(&e, "%s at %s closed the connection without answering %s",
                                service_daemon[s], path, full);
                        r = -EHOSTUNREACH;
                        goto fail;
                }
                if (streq(error_id, SD_VARLINK_ERROR_TIMEOUT)) {
                        (void) set_message(
                                &e, "%s at %s did not answer %s in time", service_daemon[s], path, full);
                        r = -ETIMEDOUT;
                        goto fail;
                }
                _cleanup_free_ char *params = format_parameters(reply);
                e.id = strdup(error_id);
                e.parameters = sd_json_variant_ref(reply);
                (void) set_message(&e, "%s: %s%s", service_daemon[s], error_id, params ?: "");
                r = e.id ? -EREMOTEIO : -ENOMEM;
                goto fail;
        }

        /* sd-varlink has read the message already (up to its own 16 MiB limit); refuse to work with more
         * than a status or a configuration can sensibly be. */
        r = sd_json_variant_format(reply, 0, &text);
        if (r < 0)
                return r;
        if ((size_t) r > CTL_REPLY_MAX) {
                (void) set_message(&e, "Reply of %s to %s is %d bytes, more than the %u allowed",
                        service_daemon[s], full, r, CTL_REPLY_MAX);
                r = -EMSGSIZE;
                goto fail;
        }

        if (ret_reply)
                *ret_reply = sd_json_variant_ref(reply);
        return 0;

fail:
        if (ret_error)
                *ret_error = e;
        else
                ctl_error_done(&e);
        return r;
}

int ctl_call_log(
        const Ctl *c, CtlService s, const char *method, uint64_t timeout_usec, sd_json_variant **ret_reply) {
        CtlError e = {};
        int r;

        r = ctl_call(c, s, method, timeout_usec, ret_reply, &e);
        if (r < 0) {
                if (e.message)
                        log_error("%s", e.message);
                else
                        log_error_errno(r, "Failed to call %s.%s: %m", service_interface[s], method);
                ctl_error_done(&e);
        }
        return r;
}

int ctl_exit_code(int r) {
        if (r >= 0)
                return r;
        switch (-r) {
        case EINVAL:
                return CTL_EXIT_USAGE;
        case EHOSTUNREACH:
                return CTL_EXIT_UNREACHABLE;
        case EREMOTEIO:
                return CTL_EXIT_DECLARED_ERROR;
        default:
                return CTL_EXIT_FAILURE;
        }
}
