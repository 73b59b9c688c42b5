/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-json.h>
#include <unistd.h>

#include "hexdecoct.h"
#include "keyd-files.h"
#include "keyd-manager.h"
#include "keyd-state.h"
#include "keyd-varlink.h"
#include "tor-nickname.h"
#include "log-event.h"
#include "log.h"
#include "string-util.h"
#include "tpm2-nv.h"
#include "varlink-service.h"

#define RELAYS_PER_CALL_MAX 64U
#define USER_NAME_MAX 64U

static int append_pcrs(sd_json_variant **arr, uint32_t mask) {
        int r = sd_json_variant_new_array(arr, NULL, 0);
        for (unsigned i = 0; r >= 0 && i < TPM2_PCRS_MAX; i++)
                if (mask & (1U << i))
                        r = sd_json_variant_append_arrayb(arr, SD_JSON_BUILD_UNSIGNED(i));
        return r;
}

/* The declared error for what kek_inspect() found. */
static const char *keyd_error_name(int error) {
        switch (error) {
        case -EUCLEAN:
                return "io.patela.Keys.NvTampered";
        case -ENODATA:
                return "io.patela.Keys.StoreMissing";
        case -EBADMSG:
                return "io.patela.Keys.StoreCorrupted";
        default:
                return "io.patela.Keys.TpmFailure";
        }
}

/* The declared errors for a failure to get the KEK. */
static int reply_kek_error(sd_varlink *link, Manager *m, const KekError *e) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *pcrs = NULL;

        switch (e->error) {
        case -ENOENT:
                return sd_varlink_errorbo(link, "io.patela.Keys.NoPolicy", SD_JSON_BUILD_PAIR_STRING("path", m->policy_path));
        case -ENOTRECOVERABLE:
                if (append_pcrs(&pcrs, e->missing_pcrs) < 0)
                        return -ENOMEM;
                log_event(LOG_EVENT_KEYS_REFUSED, LOG_ERR, NULL, "Refusing a weaker policy: %s", e->message);
                return sd_varlink_errorbo(link, "io.patela.Keys.PolicyTooWeak", SD_JSON_BUILD_PAIR_VARIANT("missingPcrs", pcrs));
        case -EPERM:
        case -EKEYREJECTED:
        case -ENXIO:
                log_event(LOG_EVENT_KEYS_REFUSED, LOG_ERR, NULL, "Refusing to unseal the relay keys: %s", e->message);
                return sd_varlink_errorbo(link, "io.patela.Keys.PolicyMismatch", SD_JSON_BUILD_PAIR_STRING("message", e->message));
        case -EUCLEAN: {
                char index[16];

                snprintf(index, sizeof(index), "0x%08x", e->index);
                log_event(LOG_EVENT_KEYS_REFUSED, LOG_ERR, NULL, "Refusing keyd's NV: %s.", e->message);
                return sd_varlink_errorbo(link, "io.patela.Keys.NvTampered", SD_JSON_BUILD_PAIR_STRING("index", index),
                                          SD_JSON_BUILD_PAIR_STRING("message", e->message));
        }
        default:
                log_error("%s", e->message);
                return sd_varlink_errorbo(link, "io.patela.Keys.TpmFailure", SD_JSON_BUILD_PAIR_STRING("message", e->message));
        }
}

static int reply_store_error(sd_varlink *link, Manager *m, int r, const char *what) {
        char msg[300];

        if (r == -EBADMSG) {
                log_event(LOG_EVENT_KEYS_REFUSED, LOG_ERR, NULL,
                          "Refusing the stored keys: neither slot holds the set the sealed key commits to (altered, "
                          "or an older set put back). Nothing is generated.");
                return sd_varlink_error(link, "io.patela.Keys.StoreCorrupted", NULL);
        }
        if (r == -ENODATA) {
                log_event(LOG_EVENT_KEYS_REFUSED, LOG_ERR, NULL,
                          "Refusing: the sealed key says relay keys were stored, but the store is gone from NV. Nothing "
                          "is generated: new keys would replace the relays' identities.");
                return sd_varlink_error(link, "io.patela.Keys.StoreMissing", NULL);
        }
        if (r == -ENOSPC)
                return sd_varlink_error(link, "io.patela.Keys.NvFull", NULL);
        snprintf(msg, sizeof(msg), "%s: %s (%s)", what, strerror(-r), m->tpm ? tpm2_last_error(m->tpm) : "no TPM");
        log_error("%s", msg);
        return sd_varlink_errorbo(link, "io.patela.Keys.TpmFailure", SD_JSON_BUILD_PAIR_STRING("message", msg));
}

/* The stored set, or an empty one with room for capacity relays if nothing was stored yet. */
static int load_set(Manager *m, const Kek *kek, SecretBuffer **ret) {
        _cleanup_(secret_buffer_freep) SecretBuffer *set = NULL, *grown = NULL;
        unsigned capacity = store_capacity(m->tpm);
        int r;

        r = store_read(m->tpm, kek->key->data, kek->head, &set);
        if (r == -ENOENT)
                return keyset_new(capacity, ret);
        if (r < 0)
                return r;
        /* Room to grow up to the capacity. */
        r = keyset_new(MAX(capacity, keyset_of(set)->n_entries), &grown);
        if (r < 0)
                return r;
        {
                KeySet *from = keyset_of(set), *to = keyset_of(grown);
                unsigned room = to->capacity;
                memcpy(to, from, sizeof(KeySet) + from->n_entries * sizeof(KeySetEntry));
                to->capacity = room;
        }
        *ret = TAKE_PTR(grown);
        return 0;
}

/* created, family_changed and state_restored: -1 for none (ListRelays). */
static int relay_json(const char *name, const TorKeys *k, const char *dir, int created, int family_changed,
                      int state_restored, sd_json_variant **ret) {
        return sd_json_buildo(ret, SD_JSON_BUILD_PAIR_STRING("name", name),
                              SD_JSON_BUILD_PAIR_STRING("rsaFingerprint", tor_keys_rsa_fingerprint(k)),
                              SD_JSON_BUILD_PAIR_STRING("ed25519Identity", tor_keys_ed25519_id(k)),
                              SD_JSON_BUILD_PAIR_CONDITION(!!dir, "keyDirectory", SD_JSON_BUILD_STRING(dir)),
                              SD_JSON_BUILD_PAIR_CONDITION(created >= 0, "created", SD_JSON_BUILD_BOOLEAN(created > 0)),
                              SD_JSON_BUILD_PAIR_CONDITION(family_changed >= 0, "familyChanged",
                                                           SD_JSON_BUILD_BOOLEAN(family_changed > 0)),
                              SD_JSON_BUILD_PAIR_CONDITION(state_restored >= 0, "stateRestored",
                                                           SD_JSON_BUILD_BOOLEAN(state_restored > 0)));
}

/* The FamilyIds of the stored family keys, as tor and the torrc name them. */
static int family_ids_json(const KeySet *set, sd_json_variant **ret) {
        int r = sd_json_variant_new_array(ret, NULL, 0);

        for (unsigned i = 0; r >= 0 && i < set->n_family; i++) {
                char id[TOR_ED25519_ID_LEN + 1];

                r = tor_family_id(set->family[i], KEYD_FAMILY_KEY_SIZE, id);
                if (r >= 0)
                        r = sd_json_variant_append_arrayb(ret, SD_JSON_BUILD_STRING(id));
        }
        return r;
}

/* familyKeys of EnsureRelays: at most KEYD_FAMILY_KEYS_MAX distinct base64 seeds, into a wiped buffer. */
static int parse_family_keys(sd_json_variant *v, SecretBuffer **ret, unsigned *ret_n) {
        _cleanup_(secret_buffer_freep) SecretBuffer *b = NULL;
        size_t n = sd_json_variant_elements(v);
        uint8_t (*keys)[KEYD_FAMILY_KEY_SIZE];
        int r;

        if (n > KEYD_FAMILY_KEYS_MAX)
                return -EINVAL;
        r = secret_buffer_new(KEYD_FAMILY_KEYS_MAX * KEYD_FAMILY_KEY_SIZE, &b);
        if (r < 0)
                return r;
        keys = (uint8_t (*)[KEYD_FAMILY_KEY_SIZE]) b->data;
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *e = sd_json_variant_by_index(v, i);
                void *seed = NULL;
                size_t size = 0;

                if (!sd_json_variant_is_string(e))
                        return -EINVAL;
                r = varlink_param_base64(sd_json_variant_string(e), KEYD_FAMILY_KEY_SIZE, &seed, &size);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0 && size == KEYD_FAMILY_KEY_SIZE)
                        memcpy(keys[i], seed, KEYD_FAMILY_KEY_SIZE);
                if (seed)
                        erase_and_free_sized(seed, size);
                if (r < 0 || size != KEYD_FAMILY_KEY_SIZE)
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (memcmp(keys[i], keys[j], KEYD_FAMILY_KEY_SIZE) == 0)
                                return -EINVAL;
        }
        *ret = TAKE_PTR(b);
        *ret_n = (unsigned) n;
        return 0;
}

typedef struct RelayRequest {
        const char *name;
        const char *user;
        const char *state; /* base64 of a sealed tor state, or NULL */
} RelayRequest;

/* The sealed states of one EnsureRelays call, opened: wiped when freed. */
typedef struct OpenedStates {
        SecretBuffer *states[RELAYS_PER_CALL_MAX];
} OpenedStates;

static void opened_states_done(OpenedStates *o) {
        for (size_t i = 0; i < RELAYS_PER_CALL_MAX; i++)
                o->states[i] = secret_buffer_free(o->states[i]);
}

typedef struct EnsureParameters {
        sd_json_variant *relays;
        sd_json_variant *family_keys;
} EnsureParameters;

static int parse_relays(sd_json_variant *v, RelayRequest *ret, size_t *ret_n) {
        static const sd_json_dispatch_field table[] = {
                { "name", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(RelayRequest, name), SD_JSON_MANDATORY },
                { "user", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(RelayRequest, user), SD_JSON_NULLABLE },
                { "state", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(RelayRequest, state), SD_JSON_NULLABLE },
                {}
        };
        size_t n = sd_json_variant_elements(v);

        if (n == 0 || n > RELAYS_PER_CALL_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                RelayRequest r = {};
                if (sd_json_dispatch(sd_json_variant_by_index(v, i), table, 0, &r) < 0 || !tor_nickname_ok(r.name) ||
                    (r.user && (isempty(r.user) || strlen(r.user) > USER_NAME_MAX)) ||
                    (r.state && strlen(r.state) > (KEYD_SEALED_STATE_MAX + 2) / 3 * 4))
                        return -EINVAL;
                for (size_t k = 0; k < i; k++)
                        if (streq(ret[k].name, r.name))
                                return -EINVAL; /* duplicate */
                ret[i] = r;
        }
        *ret_n = n;
        return 0;
}

/* The socket admits root and patela-configd's group (patela-keyd.socket). configd, the daemon that parses
 * network input, runs as a user of its own so that taking it over does not give the relays' keys: it must
 * not have the key files written to its own user (they are readable by their owner alone), nor delete keys
 * from the TPM. Root may do both (patelactl, the operator). */
static bool peer_is_root(sd_varlink *link) {
        uid_t uid;

        return sd_varlink_get_peer_uid(link, &uid) >= 0 && uid == 0;
}

/* A relay's sealed state (base64) opened with its key: -ENOENT if the store holds no keys for it, -EBADMSG if it
 * does not open, -EINVAL if it is not base64 of a sealed state's size. */
static int open_state(Manager *m, const Kek *kek, const KeySet *set, const char *name, const char *b64,
                      SecretBuffer **ret) {
        _cleanup_(tor_keys_freep) TorKeys *k = NULL;
        const KeySetEntry *entry = keyset_find((KeySet *) set, name);
        void *blob = NULL;
        size_t size = 0;
        int r;

        (void) m;
        if (!entry)
                return -ENOENT;
        r = tor_keys_unpack(entry->keys, KEYD_RELAY_KEYS_SIZE, &k);
        if (r < 0)
                return r;
        r = varlink_param_base64(b64, KEYD_SEALED_STATE_MAX, &blob, &size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EINVAL;
        r = tor_state_open(kek->key->data, name, tor_keys_rsa_fingerprint(k), blob, size, ret);
        free(blob);
        return r;
}

static bool kept_copy(Manager *m, const char *name) {
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s/sealed", m->state_directory, name);
        return access(path, F_OK) >= 0;
}

/* For a relay given without a state whose key directory has none (a relay given back, a node enabled again, a
 * configd restarted in this boot): the copy keyd sealed when its instance last stopped, if it opens. 1 if restored. */
static int restore_kept_state(Manager *m, const Kek *kek, const char *name, const TorKeys *k, uid_t uid, gid_t gid) {
        _cleanup_(secret_buffer_freep) SecretBuffer *plain = NULL;
        _cleanup_free_ uint8_t *blob = NULL;
        char path[PATH_MAX];
        size_t size = 0;
        int r;

        snprintf(path, sizeof(path), "%s/%s/" KEYD_STATE_FILE, m->key_directory, name);
        if (access(path, F_OK) >= 0)
                return 0;
        r = keyd_read_relay_file(m->state_directory, name, "sealed", KEYD_SEALED_STATE_MAX, &blob, &size);
        if (r == -ENOENT)
                return 0;
        if (r >= 0)
                r = tor_state_open(kek->key->data, name, tor_keys_rsa_fingerprint(k), blob, size, &plain);
        if (r >= 0)
                r = keyd_write_relay_file(m->key_directory, name, KEYD_STATE_FILE, plain->data, plain->size, uid, gid);
        if (r < 0)
                return log_warning_errno(r, "Cannot put back the tor state of %s that keyd kept: %m", name), 0;
        log_info("Relay %s: tor state put back from keyd's sealed copy (%zu bytes).", name, plain->size);
        return 1;
}

static int reply_state_rejected(sd_varlink *link, const char *name, int error) {
        const char *why = error == -ENOENT ? "no keys are stored for this relay"
                        : error == -EINVAL ? "not base64 of a sealed state"
                        : error == -EBADMSG ? "does not open: sealed on another TPM or boot, for another relay, "
                                              "or altered"
                        : strerror(-error);

        log_warning("Refusing the tor state given for %s: %s. Nothing was written.", name, why);
        return sd_varlink_errorbo(link, "io.patela.Keys.StateRejected", SD_JSON_BUILD_PAIR_STRING("name", name),
                                  SD_JSON_BUILD_PAIR_STRING("message", why));
}

static int vl_method_ensure_relays(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                   void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = {
                { "relays", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref, offsetof(EnsureParameters, relays), SD_JSON_MANDATORY },
                { "familyKeys", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref, offsetof(EnsureParameters, family_keys), SD_JSON_NULLABLE },
                {}
        };
        _cleanup_(secret_buffer_freep) SecretBuffer *setbuf = NULL, *family = NULL;
        _cleanup_(kek_freep) Kek *kek = NULL;
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *out = NULL, *family_ids = NULL;
        _cleanup_(opened_states_done) OpenedStates opened = {};
        RelayRequest relays[RELAYS_PER_CALL_MAX];
        size_t n;
        unsigned n_family = 0;
        bool changed = false, created[RELAYS_PER_CALL_MAX] = {};
        EnsureParameters p = {};
        Manager *m = userdata;
        KeySet *set;
        KekError e;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, &p);
        if (r != 0)
                return r;
        if (parse_relays(p.relays, relays, &n) < 0)
                return sd_varlink_error_invalid_parameter_name(link, "relays");
        for (size_t i = 0; i < n; i++) {
                uid_t uid, peer;
                gid_t gid;
                if (keyd_resolve_user(relays[i].user, &uid, &gid) < 0)
                        return sd_varlink_error_invalid_parameter_name(link, "relays");
                if (uid != 0 && (sd_varlink_get_peer_uid(link, &peer) < 0 || peer == uid)) {
                        log_warning("Refusing to write the keys of %s to user %s: the caller's own.",
                                    relays[i].name, relays[i].user);
                        return sd_varlink_error(link, SD_VARLINK_ERROR_PERMISSION_DENIED, NULL);
                }
        }
        if (p.family_keys) {
                r = parse_family_keys(p.family_keys, &family, &n_family);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return sd_varlink_error_invalid_parameter_name(link, "familyKeys");
        }

        unsigned commands_before = m->tpm ? m->tpm->n_commands : 0;
        r = kek_acquire(m, /* create= */ true, &kek, &e);
        if (r < 0)
                return reply_kek_error(link, m, &e);
        log_debug("EnsureRelays: %u TPM commands to unseal the key-encryption key.", m->tpm->n_commands - commands_before);
        r = load_set(m, kek, &setbuf);
        if (r < 0)
                return reply_store_error(link, m, r, "Reading the stored keys");
        set = keyset_of(setbuf);
        /* Every state opens, or nothing is written: before any key is generated. */
        for (size_t i = 0; i < n; i++) {
                if (!relays[i].state)
                        continue;
                r = open_state(m, kek, set, relays[i].name, relays[i].state, &opened.states[i]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return reply_state_rejected(link, relays[i].name, r);
        }

        for (size_t i = 0; i < n; i++) {
                _cleanup_(tor_keys_freep) TorKeys *k = NULL;
                _cleanup_(secret_buffer_freep) SecretBuffer *packed = NULL;

                if (keyset_find(set, relays[i].name))
                        continue;
                r = tor_keys_generate(&k);
                if (r >= 0)
                        r = tor_keys_pack(k, &packed);
                if (r < 0)
                        return sd_varlink_error_errno(link, r);
                r = keyset_add(set, relays[i].name, packed->data);
                if (r == -ENOSPC)
                        return sd_varlink_errorbo(link, "io.patela.Keys.CapacityExceeded",
                                                  SD_JSON_BUILD_PAIR_UNSIGNED("capacity", set->capacity));
                if (r < 0)
                        return sd_varlink_error_errno(link, r);
                created[i] = changed = true;
        }
        /* The family keys the caller gave are the fleet's now: stored with the relay keys (a warm boot with the same
         * keys writes nothing), the others dropped. Without familyKeys, the stored ones are used. */
        if (family && (set->n_family != n_family ||
                       memcmp(set->family, family->data, (size_t) n_family * KEYD_FAMILY_KEY_SIZE) != 0)) {
                explicit_bzero(set->family, sizeof(set->family));
                memcpy(set->family, family->data, (size_t) n_family * KEYD_FAMILY_KEY_SIZE);
                set->n_family = n_family;
                changed = true;
        }
        family = secret_buffer_free(family);
        if (changed) {
                unsigned before_write = m->tpm->n_commands;
                /* One atomic write for the whole set: all new relays are stored, or none. */
                r = kek_store_write(m->tpm, kek, set);
                if (r < 0)
                        return reply_store_error(link, m, r, "Storing the keys");
                log_debug("EnsureRelays: %u TPM commands to store %u relays.", m->tpm->n_commands - before_write,
                          set->n_entries);
                log_info("Stored keys of %u relays and %u family keys (generation %" PRIu64 ").", set->n_entries,
                         set->n_family, set->generation);
        }
        r = family_ids_json(set, &family_ids);
        if (r < 0)
                return r;

        r = sd_json_variant_new_array(&out, NULL, 0);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_json_variant_unrefp) sd_json_variant *j = NULL;
                _cleanup_(tor_keys_freep) TorKeys *k = NULL;
                _cleanup_free_ char *dir = NULL;
                KeySetEntry *entry = keyset_find(set, relays[i].name);
                bool family_changed = false, restored = false;
                uid_t uid;
                gid_t gid;

                r = tor_keys_unpack(entry->keys, KEYD_RELAY_KEYS_SIZE, &k);
                if (r < 0)
                        return sd_varlink_error(link, "io.patela.Keys.StoreCorrupted", NULL);
                (void) keyd_resolve_user(relays[i].user, &uid, &gid);
                r = keyd_write_relay(m->key_directory, relays[i].name, k, set->family, set->n_family, uid, gid, &dir,
                                     &family_changed);
                if (r < 0) {
                        log_error_errno(r, "Failed to write the key files of %s: %m", relays[i].name);
                        return sd_varlink_error_errno(link, r);
                }
                if (family_changed)
                        log_info("Relay %s: its family key files changed (%u family keys).", relays[i].name,
                                 set->n_family);
                /* What keyd sealed in this boot (when the instance stopped, or at a save) is at least as new as what
                 * the server holds: a state given for a relay that has run in this boot (configd restarted) is not
                 * put over it. */
                if (opened.states[i] && !kept_copy(m, relays[i].name)) {
                        r = keyd_write_relay_file(m->key_directory, relays[i].name, KEYD_STATE_FILE,
                                                  opened.states[i]->data, opened.states[i]->size, uid, gid);
                        if (r < 0) {
                                log_error_errno(r, "Failed to write the tor state of %s: %m", relays[i].name);
                                return sd_varlink_error_errno(link, r);
                        }
                        log_info("Relay %s: tor state restored (%zu bytes).", relays[i].name, opened.states[i]->size);
                        restored = true;
                } else
                        restored = restore_kept_state(m, kek, relays[i].name, k, uid, gid) > 0;
                r = relay_json(relays[i].name, k, dir, created[i], family_changed, restored, &j);
                if (r < 0)
                        return r;
                r = sd_json_variant_append_array(&out, j);
                if (r < 0)
                        return r;
        }
        log_debug("EnsureRelays: %u TPM commands in all.", m->tpm->n_commands - commands_before);
        return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_VARIANT("relays", out),
                                  SD_JSON_BUILD_PAIR_VARIANT("familyIds", family_ids));
}

typedef struct SealParameters {
        sd_json_variant *relays;
} SealParameters;

/* The relays of SealStates: 1…RELAYS_PER_CALL_MAX nicknames, no duplicates. */
static int parse_names(sd_json_variant *v, const char **ret, size_t *ret_n) {
        size_t n = sd_json_variant_elements(v);

        if (n == 0 || n > RELAYS_PER_CALL_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *e = sd_json_variant_by_index(v, i);

                if (!sd_json_variant_is_string(e) || !tor_nickname_ok(sd_json_variant_string(e)))
                        return -EINVAL;
                ret[i] = sd_json_variant_string(e);
                for (size_t k = 0; k < i; k++)
                        if (streq(ret[k], ret[i]))
                                return -EINVAL;
        }
        *ret_n = n;
        return 0;
}

/* tor's state file of a relay's instance, sealed for it, and kept as its last sealed copy. */
static int seal_live_state(Manager *m, const Kek *kek, KeySet *set, const char *name, const SecretBuffer *plain,
                           uint8_t **ret, size_t *ret_size) {
        _cleanup_(tor_keys_freep) TorKeys *k = NULL;
        KeySetEntry *entry = keyset_find(set, name);
        _cleanup_free_ uint8_t *blob = NULL;
        size_t size = 0;
        int r;

        if (!entry)
                return -ENOENT;
        r = tor_keys_unpack(entry->keys, KEYD_RELAY_KEYS_SIZE, &k);
        if (r >= 0)
                r = tor_state_seal(kek->key->data, name, tor_keys_rsa_fingerprint(k), plain->data, plain->size, &blob,
                                   &size);
        if (r < 0)
                return r;
        r = keyd_write_relay_file(m->state_directory, name, "sealed", blob, size, 0, 0);
        if (r < 0)
                log_warning_errno(r, "Failed to keep the sealed tor state of %s in %s: %m", name, m->state_directory);
        /* The relay's next start in this boot (a relay given back, a node enabled again) begins where tor left. */
        r = keyd_refresh_relay_file(m->key_directory, name, KEYD_STATE_FILE, plain->data, plain->size);
        if (r < 0)
                log_warning_errno(r, "Failed to refresh the tor state in the key directory of %s: %m", name);
        *ret = TAKE_PTR(blob);
        *ret_size = size;
        return 0;
}

static int vl_method_seal_states(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                 void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = {
                { "relays", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref, offsetof(SealParameters, relays), SD_JSON_MANDATORY },
                {}
        };
        _cleanup_(secret_buffer_freep) SecretBuffer *setbuf = NULL;
        _cleanup_(kek_freep) Kek *kek = NULL;
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *out = NULL;
        const char *names[RELAYS_PER_CALL_MAX];
        SealParameters p = {};
        Manager *m = userdata;
        unsigned n_live = 0;
        size_t n;
        KekError e;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, &p);
        if (r != 0)
                return r;
        if (parse_names(p.relays, names, &n) < 0)
                return sd_varlink_error_invalid_parameter_name(link, "relays");
        r = sd_json_variant_new_array(&out, NULL, 0);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(secret_buffer_freep) SecretBuffer *plain = NULL;
                _cleanup_free_ uint8_t *blob = NULL;
                size_t size = 0;
                bool live = false;

                r = tor_state_read(m->tor_directory, names[i], &plain);
                if (r >= 0) {
                        /* The KEK only if an instance has a state now: after the instances stopped, the copies. */
                        if (!kek) {
                                r = kek_acquire(m, /* create= */ false, &kek, &e);
                                if (r == -ENOKEY)
                                        return sd_varlink_error(link, "io.patela.Keys.NoSuchRelay", NULL);
                                if (r < 0)
                                        return reply_kek_error(link, m, &e);
                                r = load_set(m, kek, &setbuf);
                                if (r < 0)
                                        return reply_store_error(link, m, r, "Reading the stored keys");
                        }
                        r = seal_live_state(m, kek, keyset_of(setbuf), names[i], plain, &blob, &size);
                        if (r == -ENOENT) {
                                log_warning("Refusing to seal the tor state of %s: no keys are stored for it.", names[i]);
                                return sd_varlink_error(link, "io.patela.Keys.NoSuchRelay", NULL);
                        }
                        if (r < 0)
                                return sd_varlink_error_errno(link, r);
                        live = true;
                        n_live++;
                } else if (r == -ENOENT) {
                        r = keyd_read_relay_file(m->state_directory, names[i], "sealed", KEYD_SEALED_STATE_MAX, &blob,
                                                 &size);
                        if (r == -ENOENT)
                                continue;
                        if (r < 0) {
                                log_warning_errno(r, "Cannot read the sealed tor state of %s: %m", names[i]);
                                continue;
                        }
                } else {
                        log_warning_errno(r, "Cannot read the tor state of %s%s: %m", names[i],
                                          r == -EFBIG ? " (larger than 32 KiB)" : "");
                        continue;
                }
                r = sd_json_variant_append_arraybo(&out, SD_JSON_BUILD_PAIR_STRING("name", names[i]),
                                                   SD_JSON_BUILD_PAIR_BASE64("state", blob, size),
                                                   SD_JSON_BUILD_PAIR_BOOLEAN("live", live));
                if (r < 0)
                        return r;
        }
        log_info("Sealed the tor state of %u relays, %zu states in all.", n_live, sd_json_variant_elements(out));
        return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_VARIANT("states", out));
}

static int vl_method_list_relays(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                 void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        _cleanup_(secret_buffer_freep) SecretBuffer *setbuf = NULL;
        _cleanup_(kek_freep) Kek *kek = NULL;
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *out = NULL, *family_ids = NULL;
        Manager *m = userdata;
        KekError e;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;
        r = sd_json_variant_new_array(&out, NULL, 0);
        if (r < 0)
                return r;
        r = kek_acquire(m, /* create= */ false, &kek, &e);
        if (r == -ENOKEY) /* nothing sealed yet */
                return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_VARIANT("relays", out),
                                          SD_JSON_BUILD_PAIR_EMPTY_ARRAY("familyIds"));
        if (r < 0)
                return reply_kek_error(link, m, &e);
        r = load_set(m, kek, &setbuf);
        if (r < 0)
                return reply_store_error(link, m, r, "Reading the stored keys");
        r = family_ids_json(keyset_of(setbuf), &family_ids);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < keyset_of(setbuf)->n_entries; i++) {
                _cleanup_(sd_json_variant_unrefp) sd_json_variant *j = NULL;
                _cleanup_(tor_keys_freep) TorKeys *k = NULL;
                KeySetEntry *entry = &keyset_of(setbuf)->entries[i];

                if (tor_keys_unpack(entry->keys, KEYD_RELAY_KEYS_SIZE, &k) < 0)
                        return sd_varlink_error(link, "io.patela.Keys.StoreCorrupted", NULL);
                r = relay_json(entry->name, k, NULL, -1, -1, -1, &j);
                if (r >= 0)
                        r = sd_json_variant_append_array(&out, j);
                if (r < 0)
                        return r;
        }
        return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_VARIANT("relays", out),
                                  SD_JSON_BUILD_PAIR_VARIANT("familyIds", family_ids));
}

typedef struct RemoveParameters {
        const char *name;
} RemoveParameters;

static int vl_method_remove_relay(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                  void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = {
                { "name", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(RemoveParameters, name), SD_JSON_MANDATORY },
                {}
        };
        _cleanup_(secret_buffer_freep) SecretBuffer *setbuf = NULL;
        _cleanup_(kek_freep) Kek *kek = NULL;
        RemoveParameters p = {};
        Manager *m = userdata;
        KekError e;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, &p);
        if (r != 0)
                return r;
        if (!tor_nickname_ok(p.name))
                return sd_varlink_error_invalid_parameter_name(link, "name");
        if (!peer_is_root(link)) {
                log_warning("Refusing to remove the keys of %s: the caller is not root.", p.name);
                return sd_varlink_error(link, SD_VARLINK_ERROR_PERMISSION_DENIED, NULL);
        }

        r = kek_acquire(m, /* create= */ false, &kek, &e);
        if (r == -ENOKEY)
                return sd_varlink_error(link, "io.patela.Keys.NoSuchRelay", NULL);
        if (r < 0)
                return reply_kek_error(link, m, &e);
        r = load_set(m, kek, &setbuf);
        if (r < 0)
                return reply_store_error(link, m, r, "Reading the stored keys");
        if (keyset_remove(keyset_of(setbuf), p.name) < 0)
                return sd_varlink_error(link, "io.patela.Keys.NoSuchRelay", NULL);
        r = kek_store_write(m->tpm, kek, keyset_of(setbuf));
        if (r < 0)
                return reply_store_error(link, m, r, "Storing the keys");
        r = keyd_remove_relay(m->key_directory, p.name);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the key files of %s: %m", p.name);
        log_info("Removed the keys of relay %s.", p.name);
        return sd_varlink_reply(link, NULL);
}

static int append_dropped(const char *name, void *userdata) {
        sd_json_variant **list = userdata;

        log_info("Removed the key files of relay %s (its keys stay sealed).", name);
        return sd_json_variant_append_arrayb(list, SD_JSON_BUILD_STRING(name));
}

static int vl_method_drop_key_files(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                    void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *dropped = NULL;
        Manager *m = userdata;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;
        r = sd_json_variant_new_array(&dropped, NULL, 0);
        if (r < 0)
                return r;
        r = keyd_drop_key_files(m->key_directory, append_dropped, &dropped);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_warning_errno(r, "Not every key file in %s could be removed: %m", m->key_directory);
        return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_VARIANT("dropped", dropped));
}

static int vl_method_get_status(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *policy_pcrs = NULL, *required = NULL;
        Manager *m = userdata;
        Tpm2Context *c;
        StoreInfo info;
        Tpm2DaState da = {};
        bool have_da;
        KekError e;
        char nv[16] = "", problem[sizeof(e.message) + 64] = "";
        size_t kek_size;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;
        r = tpm2_pcrlock_policy_load(m->policy_path, &p);
        if (r >= 0)
                snprintf(nv, sizeof(nv), "0x%08x", p->nv_index);
        if (append_pcrs(&policy_pcrs, p ? tpm2_pcrlock_pcr_mask(p) : 0) < 0 || append_pcrs(&required, m->required_pcrs) < 0)
                return -ENOMEM;
        r = manager_tpm(m, &c);
        if (r < 0)
                return sd_varlink_errorbo(link, "io.patela.Keys.TpmFailure", SD_JSON_BUILD_PAIR_STRING("message", "Cannot open the TPM"));
        r = store_info(c, &info);
        if (r < 0)
                return reply_store_error(link, m, r, "Reading NV");
        if (kek_inspect(m, &e) < 0) {
                snprintf(problem, sizeof(problem), "%s: %s", keyd_error_name(e.error), e.message);
                log_warning("keyd's NV is not as keyd left it: %s", problem);
        }
        have_da = tpm2_da_state(c, &da) >= 0;
        if (have_da && da.in_lockout)
                log_warning("The TPM is in dictionary-attack lockout (%" PRIu32 " of %" PRIu32 " failures; one is "
                            "forgotten every %" PRIu32 " s). patela's keys are noDA and keep working; software that "
                            "uses DA-protected keys does not.",
                            da.failed_tries, da.max_tries, da.recovery_interval_sec);
        return sd_varlink_replybo(
                        link,
                        SD_JSON_BUILD_PAIR_STRING("policyPath", m->policy_path),
                        SD_JSON_BUILD_PAIR_CONDITION(!!nv[0], "policyNvIndex", SD_JSON_BUILD_STRING(nv)),
                        SD_JSON_BUILD_PAIR_CONDITION(!nv[0], "policyNvIndex", SD_JSON_BUILD_NULL),
                        SD_JSON_BUILD_PAIR_VARIANT("policyPcrs", policy_pcrs),
                        SD_JSON_BUILD_PAIR_VARIANT("requiredPcrs", required),
                        SD_JSON_BUILD_PAIR_BOOLEAN("sealed", tpm2_nv_size(c, KEYD_NV_KEK, &kek_size) >= 0),
                        SD_JSON_BUILD_PAIR_CONDITION(!!problem[0], "nvProblem", SD_JSON_BUILD_STRING(problem)),
                        SD_JSON_BUILD_PAIR_CONDITION(!problem[0], "nvProblem", SD_JSON_BUILD_NULL),
                        SD_JSON_BUILD_PAIR_UNSIGNED("nvIndexMax", info.index_max),
                        SD_JSON_BUILD_PAIR_UNSIGNED("nvUsed", info.used),
                        SD_JSON_BUILD_PAIR_UNSIGNED("relaysPerIndex", info.per_index),
                        SD_JSON_BUILD_PAIR_UNSIGNED("capacity", info.capacity),
                        SD_JSON_BUILD_PAIR_CONDITION(have_da, "dictionaryAttack",
                                                     SD_JSON_BUILD_OBJECT(
                                                             SD_JSON_BUILD_PAIR_BOOLEAN("inLockout", da.in_lockout),
                                                             SD_JSON_BUILD_PAIR_UNSIGNED("failedTries", da.failed_tries),
                                                             SD_JSON_BUILD_PAIR_UNSIGNED("maxTries", da.max_tries),
                                                             SD_JSON_BUILD_PAIR_UNSIGNED("recoveryIntervalSec",
                                                                                         da.recovery_interval_sec))),
                        SD_JSON_BUILD_PAIR_CONDITION(!have_da, "dictionaryAttack", SD_JSON_BUILD_NULL));
}

static int vl_method_check_reseal(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                  void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *pcrs = NULL, *missing = NULL;
        Manager *m = userdata;
        uint32_t mismatch = 0;
        Tpm2Context *c;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;
        r = tpm2_pcrlock_policy_load(m->policy_path, &p);
        if (r == -ENOENT)
                return sd_varlink_errorbo(link, "io.patela.Keys.NoPolicy", SD_JSON_BUILD_PAIR_STRING("path", m->policy_path));
        if (r < 0)
                return sd_varlink_error_errno(link, r);
        r = manager_tpm(m, &c);
        if (r >= 0)
                r = tpm2_pcrlock_check_pcrs(c, p, &mismatch);
        if (r < 0)
                return reply_store_error(link, m, r, "Reading PCRs");
        if (append_pcrs(&pcrs, tpm2_pcrlock_pcr_mask(p)) < 0 ||
            append_pcrs(&missing, m->required_pcrs & ~tpm2_pcrlock_pcr_mask(p)) < 0)
                return -ENOMEM;
        return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_VARIANT("policyPcrs", pcrs),
                                  SD_JSON_BUILD_PAIR_VARIANT("missingPcrs", missing),
                                  SD_JSON_BUILD_PAIR_BOOLEAN("unsealable", mismatch == 0));
}

int keyd_bind_methods(sd_varlink_server *s) {
        return sd_varlink_server_bind_method_many(
                        s,
                        "io.patela.Keys.EnsureRelays", vl_method_ensure_relays,
                        "io.patela.Keys.ListRelays", vl_method_list_relays,
                        "io.patela.Keys.SealStates", vl_method_seal_states,
                        "io.patela.Keys.RemoveRelay", vl_method_remove_relay,
                        "io.patela.Keys.DropKeyFiles", vl_method_drop_key_files,
                        "io.patela.Keys.GetStatus", vl_method_get_status,
                        "io.patela.Keys.CheckReseal", vl_method_check_reseal);
}
