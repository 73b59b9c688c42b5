/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "io.patela.Config.h"

static SD_VARLINK_DEFINE_ENUM_TYPE(
                Phase,
                SD_VARLINK_FIELD_COMMENT("Asking patela-attestd for the node's identity"),
                SD_VARLINK_DEFINE_ENUM_VALUE(starting),
                SD_VARLINK_FIELD_COMMENT("Presenting the identity to the server"),
                SD_VARLINK_DEFINE_ENUM_VALUE(enrolling),
                SD_VARLINK_FIELD_COMMENT("The server knows the node but the operator has not enabled it yet; retrying with backoff"),
                SD_VARLINK_DEFINE_ENUM_VALUE(pending),
                SD_VARLINK_FIELD_COMMENT("Activating the server's credential and quoting the PCRs through patela-attestd"),
                SD_VARLINK_DEFINE_ENUM_VALUE(attesting),
                SD_VARLINK_FIELD_COMMENT("Fetching the configuration, getting the relays' keys from patela-keyd and writing files"),
                SD_VARLINK_DEFINE_ENUM_VALUE(configuring),
                SD_VARLINK_FIELD_COMMENT("Configured; re-attests on the jittered interval"),
                SD_VARLINK_DEFINE_ENUM_VALUE(running),
                SD_VARLINK_FIELD_COMMENT("The server refused the node (disabled, attestation rejected…); the relays' files are removed"),
                SD_VARLINK_DEFINE_ENUM_VALUE(refused),
                SD_VARLINK_FIELD_COMMENT("The server could not be reached or answered nonsense; retrying with backoff, relays keep their last configuration"),
                SD_VARLINK_DEFINE_ENUM_VALUE(unreachable));

static SD_VARLINK_DEFINE_ENUM_TYPE(
                RelayState,
                SD_VARLINK_FIELD_COMMENT("Fetched; keys and files not done yet"),
                SD_VARLINK_DEFINE_ENUM_VALUE(configuring),
                SD_VARLINK_FIELD_COMMENT("Keys in place, torrc and network files written"),
                SD_VARLINK_DEFINE_ENUM_VALUE(applied),
                SD_VARLINK_FIELD_COMMENT("Could not be configured (see error); the other relays are not affected"),
                SD_VARLINK_DEFINE_ENUM_VALUE(failed));

static SD_VARLINK_DEFINE_STRUCT_TYPE(
                RelayStatus,
                SD_VARLINK_FIELD_COMMENT("Relay nickname, as allocated by the server"),
                SD_VARLINK_DEFINE_FIELD(name, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The relay's IPv4 address, null if it has none"),
                SD_VARLINK_DEFINE_FIELD(ipv4, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The relay's IPv6 address, null if it has none"),
                SD_VARLINK_DEFINE_FIELD(ipv6, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Where the relay stands"),
                SD_VARLINK_DEFINE_FIELD_BY_TYPE(state, RelayState, 0),
                SD_VARLINK_FIELD_COMMENT("Why the relay failed, null unless state is failed"),
                SD_VARLINK_DEFINE_FIELD(error, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("RSA identity fingerprint from patela-keyd (40 upper-case hex digits), null until the keys are in place"),
                SD_VARLINK_DEFINE_FIELD(rsaFingerprint, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("ed25519 master identity from patela-keyd, unpadded base64, null until the keys are in place"),
                SD_VARLINK_DEFINE_FIELD(ed25519Identity, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The relay's key directory on tmpfs (tor's KeyDirectory), null until the keys are in place"),
                SD_VARLINK_DEFINE_FIELD(keyDirectory, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Path of the relay's torrc, null if not written"),
                SD_VARLINK_DEFINE_FIELD(torrcPath, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Path of the relay's systemd-networkd drop-in, null if not written (no address, or each of its addresses is in the drop-in of an earlier relay that shares it)"),
                SD_VARLINK_DEFINE_FIELD(networkPath, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("ActiveState of patela-tor@NAME.service (active, activating, failed, inactive…); null while patela-configd does not manage units"),
                SD_VARLINK_DEFINE_FIELD(unitState, SD_VARLINK_STRING, SD_VARLINK_NULLABLE));

static SD_VARLINK_DEFINE_STRUCT_TYPE(
                NetworkSettings,
                SD_VARLINK_FIELD_COMMENT("Interface setting of the server, null if unset"),
                SD_VARLINK_DEFINE_FIELD(interface, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("IPv4 gateway, null if unset"),
                SD_VARLINK_DEFINE_FIELD(ipv4Gateway, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("IPv6 gateway, null if unset"),
                SD_VARLINK_DEFINE_FIELD(ipv6Gateway, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Prefix length of the relays' IPv4 addresses, null if unset (then /32)"),
                SD_VARLINK_DEFINE_FIELD(ipv4PrefixLength, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Prefix length of the relays' IPv6 addresses, null if unset (then /128)"),
                SD_VARLINK_DEFINE_FIELD(ipv6PrefixLength, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("DNS servers"),
                SD_VARLINK_DEFINE_FIELD(dns, SD_VARLINK_STRING, SD_VARLINK_ARRAY),
                SD_VARLINK_FIELD_COMMENT("ORPort setting, null if unset (the server's torrc carries the ORPort lines)"),
                SD_VARLINK_DEFINE_FIELD(orPort, SD_VARLINK_INT, SD_VARLINK_NULLABLE));

static SD_VARLINK_DEFINE_STRUCT_TYPE(
                RelayConfig,
                SD_VARLINK_FIELD_COMMENT("Relay nickname"),
                SD_VARLINK_DEFINE_FIELD(name, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The relay's IPv4 address, null if it has none"),
                SD_VARLINK_DEFINE_FIELD(ipv4, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The relay's IPv6 address, null if it has none"),
                SD_VARLINK_DEFINE_FIELD(ipv6, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The torrc as the server rendered it"),
                SD_VARLINK_DEFINE_FIELD(serverTorrc, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The torrc file as patela-configd writes it (with KeyDirectory and DataDirectory); null while the relay has no keys"),
                SD_VARLINK_DEFINE_FIELD(torrc, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The systemd-networkd drop-in as written, null if the relay has no address of its own (none, or each shared with an earlier relay, whose drop-in has it)"),
                SD_VARLINK_DEFINE_FIELD(network, SD_VARLINK_STRING, SD_VARLINK_NULLABLE));

static SD_VARLINK_DEFINE_ENUM_TYPE(
                ChangeType,
                SD_VARLINK_FIELD_COMMENT("The file is not there yet"),
                SD_VARLINK_DEFINE_ENUM_VALUE(added),
                SD_VARLINK_FIELD_COMMENT("The file is there but its relay is gone (or refused)"),
                SD_VARLINK_DEFINE_ENUM_VALUE(removed),
                SD_VARLINK_FIELD_COMMENT("The file differs from the fetched configuration"),
                SD_VARLINK_DEFINE_ENUM_VALUE(changed),
                SD_VARLINK_FIELD_COMMENT("The file equals the fetched configuration"),
                SD_VARLINK_DEFINE_ENUM_VALUE(unchanged));

static SD_VARLINK_DEFINE_STRUCT_TYPE(
                FileChange,
                SD_VARLINK_FIELD_COMMENT("The file's path"),
                SD_VARLINK_DEFINE_FIELD(path, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The relay the file belongs to"),
                SD_VARLINK_DEFINE_FIELD(relay, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("What the file is: torrc or network"),
                SD_VARLINK_DEFINE_FIELD(kind, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("How the applied file differs from the fetched configuration"),
                SD_VARLINK_DEFINE_FIELD_BY_TYPE(change, ChangeType, 0),
                SD_VARLINK_FIELD_COMMENT("Lines in the applied file that the fetched configuration no longer has"),
                SD_VARLINK_DEFINE_FIELD(removedLines, SD_VARLINK_STRING, SD_VARLINK_ARRAY),
                SD_VARLINK_FIELD_COMMENT("Lines of the fetched configuration missing from the applied file"),
                SD_VARLINK_DEFINE_FIELD(addedLines, SD_VARLINK_STRING, SD_VARLINK_ARRAY));

static SD_VARLINK_DEFINE_METHOD(
                GetStatus,
                SD_VARLINK_FIELD_COMMENT("What patela-configd is doing or where it stopped"),
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(phase, Phase, 0),
                SD_VARLINK_FIELD_COMMENT("The configuration server"),
                SD_VARLINK_DEFINE_OUTPUT(serverUrl, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The node's state as the server last said: pending, enabled or disabled; null before its first answer"),
                SD_VARLINK_DEFINE_OUTPUT(nodeState, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The node's identity fingerprint (XXXX-XXXX-XXXX-XXXX) to compare before enabling it; null before attestd answered"),
                SD_VARLINK_DEFINE_OUTPUT(fingerprint, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The relays of the last fetched configuration; empty when refused"),
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(relays, RelayStatus, SD_VARLINK_ARRAY),
                SD_VARLINK_FIELD_COMMENT("The fleet's FamilyIds whose keys the server released to this node with the last configuration: every relay's torrc names them and its key directory holds their keys. Empty if the server released none (no family key on the server, or a boot not judged Trusted)"),
                SD_VARLINK_DEFINE_OUTPUT(familyIds, SD_VARLINK_STRING, SD_VARLINK_ARRAY),
                SD_VARLINK_FIELD_COMMENT("When the server last judged an attestation, µs since the epoch; null if never"),
                SD_VARLINK_DEFINE_OUTPUT(lastAttestation, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Its verdict: accepted or rejected; null if never"),
                SD_VARLINK_DEFINE_OUTPUT(lastVerdict, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Why the server rejected the last attestation; null unless rejected"),
                SD_VARLINK_DEFINE_OUTPUT(lastVerdictReason, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The server's measured-boot verdict of the last attestation: Trusted, UnknownImage, RetiredImage, FirmwareChanged or LogMismatch; null if the server did not judge it"),
                SD_VARLINK_DEFINE_OUTPUT(bootVerdict, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The verdict's reason, naming the PCR and event; null for Trusted without one"),
                SD_VARLINK_DEFINE_OUTPUT(bootVerdictReason, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("When the server last answered a session check, µs since the epoch; null if never"),
                SD_VARLINK_DEFINE_OUTPUT(lastCheck, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("When the next session check is due, µs since the epoch; null if none is planned"),
                SD_VARLINK_DEFINE_OUTPUT(nextCheck, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("What went wrong in the last cycle, null if it succeeded"),
                SD_VARLINK_DEFINE_OUTPUT(lastError, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The server's error code for lastError (NodeDisabled, QuoteRejected…), null if the server did not give one"),
                SD_VARLINK_DEFINE_OUTPUT(lastErrorCode, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Consecutive cycles that did not end in running; the backoff grows with it"),
                SD_VARLINK_DEFINE_OUTPUT(failedAttempts, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("When the next cycle starts, µs since the epoch; null while a cycle runs"),
                SD_VARLINK_DEFINE_OUTPUT(nextAttempt, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Whether patela-configd starts and stops patela-tor@NAME.service (false with --no-units)"),
                SD_VARLINK_DEFINE_OUTPUT(manageUnits, SD_VARLINK_BOOL, 0),
                SD_VARLINK_FIELD_COMMENT("When VerifyLog last succeeded in this boot, µs since the epoch; null if never"),
                SD_VARLINK_DEFINE_OUTPUT(logVerified, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The size of the log's checkpoint it verified then; null if never"),
                SD_VARLINK_DEFINE_OUTPUT(logTreeSize, SD_VARLINK_INT, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("Why the last VerifyLog failed; null if it succeeded or none ran"),
                SD_VARLINK_DEFINE_OUTPUT(logError, SD_VARLINK_STRING, SD_VARLINK_NULLABLE));

static SD_VARLINK_DEFINE_METHOD(
                Refresh,
                SD_VARLINK_FIELD_COMMENT("The phase after the cycle: running (the other outcomes are errors)"),
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(phase, Phase, 0),
                SD_VARLINK_FIELD_COMMENT("Relays that are configured"),
                SD_VARLINK_DEFINE_OUTPUT(applied, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("Relays that failed (see GetStatus)"),
                SD_VARLINK_DEFINE_OUTPUT(failed, SD_VARLINK_INT, 0));

static SD_VARLINK_DEFINE_METHOD(
                ShowConfig,
                SD_VARLINK_FIELD_COMMENT("When the configuration was fetched, µs since the epoch"),
                SD_VARLINK_DEFINE_OUTPUT(fetched, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("The node's resolved network settings"),
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(network, NetworkSettings, 0),
                SD_VARLINK_FIELD_COMMENT("Each relay's configuration"),
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(relays, RelayConfig, SD_VARLINK_ARRAY));

static SD_VARLINK_DEFINE_METHOD(
                Diff,
                SD_VARLINK_FIELD_COMMENT("Each file of the fetched configuration or found in the directories, and how it differs"),
                SD_VARLINK_DEFINE_OUTPUT_BY_TYPE(files, FileChange, SD_VARLINK_ARRAY));

static SD_VARLINK_DEFINE_METHOD(
                VerifyLog,
                SD_VARLINK_FIELD_COMMENT("The log's origin: the name of the pinned key (LogKey=)"),
                SD_VARLINK_DEFINE_OUTPUT(origin, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("Entries in the signed checkpoint verified"),
                SD_VARLINK_DEFINE_OUTPUT(treeSize, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("Its root hash, base64"),
                SD_VARLINK_DEFINE_OUTPUT(rootHash, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The checkpoint as the server signed it (a C2SP signed note)"),
                SD_VARLINK_DEFINE_OUTPUT(checkpoint, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The image's name, as its registration entry says"),
                SD_VARLINK_DEFINE_OUTPUT(image, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The index of the registration entry in the log"),
                SD_VARLINK_DEFINE_OUTPUT(entryIndex, SD_VARLINK_INT, 0),
                SD_VARLINK_FIELD_COMMENT("The registration entry, as logged and hashed"),
                SD_VARLINK_DEFINE_OUTPUT(entry, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The Authenticode SHA-256 of the UKI the firmware started (PCR 4), hex"),
                SD_VARLINK_DEFINE_OUTPUT(ukiAuthenticode, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The UKI file's SHA-256 as registered, hex"),
                SD_VARLINK_DEFINE_OUTPUT(ukiSha256, SD_VARLINK_STRING, 0),
                SD_VARLINK_FIELD_COMMENT("The size of the checkpoint verified before in this boot, which this one extends; null for the first"),
                SD_VARLINK_DEFINE_OUTPUT(previousTreeSize, SD_VARLINK_INT, SD_VARLINK_NULLABLE));

static SD_VARLINK_DEFINE_ERROR(
                Pending,
                SD_VARLINK_FIELD_COMMENT("The fingerprint the operator enables on the server"),
                SD_VARLINK_DEFINE_FIELD(fingerprint, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                Refused,
                SD_VARLINK_FIELD_COMMENT("The server's error code (NodeDisabled, QuoteRejected, TokenRejected…), null if none"),
                SD_VARLINK_DEFINE_FIELD(code, SD_VARLINK_STRING, SD_VARLINK_NULLABLE),
                SD_VARLINK_FIELD_COMMENT("The server's reason"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                Unreachable,
                SD_VARLINK_FIELD_COMMENT("Why: connection, TLS, timeout, server error or malformed reply"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                Failed,
                SD_VARLINK_FIELD_COMMENT("Which local step failed (patela-attestd, patela-keyd, files) and why"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(NoConfiguration);
static SD_VARLINK_DEFINE_ERROR(NoLogKey);
static SD_VARLINK_DEFINE_ERROR(
                NotMeasured,
                SD_VARLINK_FIELD_COMMENT("Why the node does not know what it booted"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                NotRegistered,
                SD_VARLINK_FIELD_COMMENT("The UKI looked for"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                EntryMismatch,
                SD_VARLINK_FIELD_COMMENT("Which entry, and what in it is not this node's measurement"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                BadCheckpoint,
                SD_VARLINK_FIELD_COMMENT("No signature by the pinned key, a forged one, or not a checkpoint of its log"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                ProofInvalid,
                SD_VARLINK_FIELD_COMMENT("The entry and tree size whose proof failed"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                Rollback,
                SD_VARLINK_FIELD_COMMENT("The sizes before and now"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));
static SD_VARLINK_DEFINE_ERROR(
                Inconsistent,
                SD_VARLINK_FIELD_COMMENT("The two checkpoints that do not fit"),
                SD_VARLINK_DEFINE_FIELD(message, SD_VARLINK_STRING, 0));

SD_VARLINK_DEFINE_INTERFACE(
                io_patela_Config,
                "io.patela.Config",
                SD_VARLINK_INTERFACE_COMMENT("patela-configd: the node's boot flow (enrolment, attestation, configuration of the relays) and its state."),
                SD_VARLINK_SYMBOL_COMMENT("Phase of the boot flow"),
                &vl_type_Phase,
                SD_VARLINK_SYMBOL_COMMENT("State of one relay"),
                &vl_type_RelayState,
                SD_VARLINK_SYMBOL_COMMENT("A relay as configured on this node"),
                &vl_type_RelayStatus,
                SD_VARLINK_SYMBOL_COMMENT("The node's network settings as fetched"),
                &vl_type_NetworkSettings,
                SD_VARLINK_SYMBOL_COMMENT("A relay's configuration as fetched, and the files made from it"),
                &vl_type_RelayConfig,
                SD_VARLINK_SYMBOL_COMMENT("How a file on disk differs from the fetched configuration"),
                &vl_type_ChangeType,
                SD_VARLINK_SYMBOL_COMMENT("One file and its difference"),
                &vl_type_FileChange,
                SD_VARLINK_SYMBOL_COMMENT("Phase, server, node state and fingerprint, relays, last attestation and last error."),
                &vl_method_GetStatus,
                SD_VARLINK_SYMBOL_COMMENT("Re-attests and re-applies the configuration now; replies when that cycle ends."),
                &vl_method_Refresh,
                SD_VARLINK_SYMBOL_COMMENT("The resolved configuration as last fetched: network settings and each relay's torrc."),
                &vl_method_ShowConfig,
                SD_VARLINK_SYMBOL_COMMENT("What applying the last fetched configuration would change in the torrc and network directories."),
                &vl_method_Diff,
                SD_VARLINK_SYMBOL_COMMENT("Proves from the transparency log that the image this node booted is registered: its registration entry, checked against this boot's own measurements (PCR 4's UKI from the firmware log, PCR 9, PCR 11), included in a checkpoint signed by the pinned LogKey=, which extends every checkpoint verified before in this boot. Keeps the checkpoint in StateDirectory=."),
                &vl_method_VerifyLog,
                SD_VARLINK_SYMBOL_COMMENT("The node is pending: the operator has not enabled it on the server yet."),
                &vl_error_Pending,
                SD_VARLINK_SYMBOL_COMMENT("The server refused the node; its relays' files were removed."),
                &vl_error_Refused,
                SD_VARLINK_SYMBOL_COMMENT("The server could not be reached, or its reply was not valid."),
                &vl_error_Unreachable,
                SD_VARLINK_SYMBOL_COMMENT("A local step failed: patela-attestd or patela-keyd unavailable or refusing, or a file could not be written."),
                &vl_error_Failed,
                SD_VARLINK_SYMBOL_COMMENT("No configuration has been fetched yet (or it was dropped when the server refused the node)."),
                &vl_error_NoConfiguration,
                SD_VARLINK_SYMBOL_COMMENT("No LogKey= (nor credential patela.log-key) is configured: there is no key to verify the log under."),
                &vl_error_NoLogKey,
                SD_VARLINK_SYMBOL_COMMENT("The node has no measurement of its boot yet (not attested in this boot) or an unusable one (no firmware event log, PCR 4 not quoted, a log that does not replay to the quote)."),
                &vl_error_NotMeasured,
                SD_VARLINK_SYMBOL_COMMENT("The log registers no image with the UKI this node booted."),
                &vl_error_NotRegistered,
                SD_VARLINK_SYMBOL_COMMENT("The entry the server gave as this image's registration is not what this node measured."),
                &vl_error_EntryMismatch,
                SD_VARLINK_SYMBOL_COMMENT("The server's checkpoint is not signed by the pinned key, or is not a checkpoint of its log."),
                &vl_error_BadCheckpoint,
                SD_VARLINK_SYMBOL_COMMENT("The registration entry as served is not in the signed tree: its inclusion proof does not verify."),
                &vl_error_ProofInvalid,
                SD_VARLINK_SYMBOL_COMMENT("The signed checkpoint is smaller than one verified before in this boot."),
                &vl_error_Rollback,
                SD_VARLINK_SYMBOL_COMMENT("The signed checkpoint does not extend the one verified before in this boot (a fork): another head at the same size, another origin, or a consistency proof that does not verify."),
                &vl_error_Inconsistent);
