/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Numbered schema migrations. A released migration is never edited: add a new one. Each entry records the
 * SHA-256 of its SQL; test-server-db fails if the text and the hash disagree.
 *
 * Times: nodes.first_seen/last_seen/last_verdict_at, attestations.at and images.added_at/retired_at are
 * seconds since the epoch; challenges.expires_at and sessions.created_at/expires_at are microseconds
 * (lifetimes of seconds must not round). */
#include "server-db.h"

static const char migration_0001[] =
        "CREATE TABLE nodes (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        ek_name BLOB NOT NULL UNIQUE,\n"
        "        ek_type TEXT NOT NULL CHECK (ek_type IN ('rsa2048', 'ecc-p256')),\n"
        "        ek_public BLOB NOT NULL,\n"
        "        ek_certificate BLOB,\n"
        "        ak_public BLOB NOT NULL,\n"
        "        ak_name BLOB NOT NULL,\n"
        "        fingerprint TEXT NOT NULL UNIQUE,\n"
        "        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'enabled', 'disabled')),\n"
        "        relay_count INTEGER NOT NULL DEFAULT 1 CHECK (relay_count BETWEEN 0 AND 64),\n"
        "        first_seen INTEGER NOT NULL,\n"
        "        last_seen INTEGER NOT NULL,\n"
        "        last_source TEXT,\n"
        "        reset_count INTEGER,\n"
        "        restart_count INTEGER\n"
        ");\n"
        "CREATE INDEX nodes_state ON nodes(state);\n"
        "CREATE TABLE challenges (\n"
        "        id BLOB PRIMARY KEY,\n"
        "        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,\n"
        "        secret_hash BLOB NOT NULL,\n"
        "        nonce BLOB NOT NULL,\n"
        "        pcr_bank TEXT NOT NULL,\n"
        "        pcr_mask INTEGER NOT NULL,\n"
        "        expires_at INTEGER NOT NULL\n"
        ");\n"
        "CREATE INDEX challenges_node ON challenges(node_id);\n"
        "CREATE TABLE sessions (\n"
        "        token_hash BLOB PRIMARY KEY,\n"
        "        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,\n"
        "        created_at INTEGER NOT NULL,\n"
        "        expires_at INTEGER NOT NULL\n"
        ");\n"
        "CREATE INDEX sessions_node ON sessions(node_id);\n"
        "CREATE TABLE attestations (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        node_id INTEGER,\n"
        "        fingerprint TEXT NOT NULL,\n"
        "        at INTEGER NOT NULL,\n"
        "        verdict TEXT NOT NULL CHECK (verdict IN ('accepted', 'rejected')),\n"
        "        reason TEXT,\n"
        "        pcr_bank TEXT,\n"
        "        pcr_values TEXT,\n"
        "        reset_count INTEGER,\n"
        "        restart_count INTEGER,\n"
        "        source TEXT\n"
        ");\n"
        "CREATE INDEX attestations_node ON attestations(node_id, at);\n"
        "CREATE TRIGGER attestations_no_update BEFORE UPDATE ON attestations\n"
        "        BEGIN SELECT RAISE(ABORT, 'the attestation log is append-only'); END;\n"
        "CREATE TRIGGER attestations_no_delete BEFORE DELETE ON attestations\n"
        "        BEGIN SELECT RAISE(ABORT, 'the attestation log is append-only'); END;\n"
        "CREATE TABLE relays (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,\n"
        "        slot INTEGER NOT NULL CHECK (slot >= 0),\n"
        "        name TEXT NOT NULL UNIQUE,\n"
        "        ipv4 TEXT,\n"
        "        ipv6 TEXT,\n"
        "        UNIQUE (node_id, slot)\n"
        ");\n"
        "CREATE TABLE pool_names (\n"
        "        name TEXT PRIMARY KEY,\n"
        "        relay_id INTEGER UNIQUE REFERENCES relays(id) ON DELETE SET NULL\n"
        ");\n"
        "CREATE TABLE pool_addresses (\n"
        "        address TEXT PRIMARY KEY,\n"
        "        family INTEGER NOT NULL CHECK (family IN (4, 6)),\n"
        "        relay_id INTEGER REFERENCES relays(id) ON DELETE SET NULL,\n"
        "        UNIQUE (relay_id, family)\n"
        ");\n"
        "CREATE TABLE config_ops (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        level TEXT NOT NULL CHECK (level IN ('default', 'node', 'relay')),\n"
        "        node_id INTEGER REFERENCES nodes(id) ON DELETE CASCADE,\n"
        "        relay_id INTEGER REFERENCES relays(id) ON DELETE CASCADE,\n"
        "        kind TEXT NOT NULL CHECK (kind IN ('torrc', 'setting')),\n"
        "        op TEXT NOT NULL CHECK (op IN ('set', 'append', 'unset')),\n"
        "        key TEXT NOT NULL,\n"
        "        value TEXT,\n"
        "        CHECK ((level = 'default' AND node_id IS NULL AND relay_id IS NULL) OR\n"
        "               (level = 'node' AND node_id IS NOT NULL AND relay_id IS NULL) OR\n"
        "               (level = 'relay' AND relay_id IS NOT NULL AND node_id IS NULL))\n"
        ");\n"
        "CREATE INDEX config_ops_scope ON config_ops(level, node_id, relay_id);\n";

/* Challenges and sessions are looked up, inserted and deleted by their random key, once or twice per
 * authentication: stored in their primary key's b-tree alone (WITHOUT ROWID), each row is one b-tree entry
 * instead of a table row plus a unique-index entry. Same columns, same constraints. */
static const char migration_0002[] =
        "CREATE TABLE challenges_new (\n"
        "        id BLOB PRIMARY KEY,\n"
        "        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,\n"
        "        secret_hash BLOB NOT NULL,\n"
        "        nonce BLOB NOT NULL,\n"
        "        pcr_bank TEXT NOT NULL,\n"
        "        pcr_mask INTEGER NOT NULL,\n"
        "        expires_at INTEGER NOT NULL\n"
        ") WITHOUT ROWID;\n"
        "INSERT INTO challenges_new (id, node_id, secret_hash, nonce, pcr_bank, pcr_mask, expires_at)\n"
        "        SELECT id, node_id, secret_hash, nonce, pcr_bank, pcr_mask, expires_at FROM challenges;\n"
        "DROP TABLE challenges;\n"
        "ALTER TABLE challenges_new RENAME TO challenges;\n"
        "CREATE INDEX challenges_node ON challenges(node_id);\n"
        "CREATE TABLE sessions_new (\n"
        "        token_hash BLOB PRIMARY KEY,\n"
        "        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,\n"
        "        created_at INTEGER NOT NULL,\n"
        "        expires_at INTEGER NOT NULL\n"
        ") WITHOUT ROWID;\n"
        "INSERT INTO sessions_new (token_hash, node_id, created_at, expires_at)\n"
        "        SELECT token_hash, node_id, created_at, expires_at FROM sessions;\n"
        "DROP TABLE sessions;\n"
        "ALTER TABLE sessions_new RENAME TO sessions;\n"
        "CREATE INDEX sessions_node ON sessions(node_id);\n";

/* The image registry (server-images.h). A registered image never changes: its values are what nodes are
 * judged against, so UPDATE may only set retired_at, once, and DELETE is refused; INSERT OR REPLACE would
 * delete the old row without firing the DELETE trigger (recursive_triggers is off), so an insert that
 * collides is refused by a trigger of its own. A migration that adds a column to images must add it to
 * images_immutable. Digests are 64 lower-case hex digits, as in the reference JSON.
 * nodes gains what the verifier fills in for each node: the image it booted last and its last verdict
 * (names of issue 10: Trusted, UnknownImage, RetiredImage, FirmwareChanged, LogMismatch, checked by
 * triggers so that a later migration can change the list without rebuilding nodes). */
static const char migration_0003[] =
        "CREATE TABLE images (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        name TEXT NOT NULL UNIQUE\n"
        "                CHECK (length(name) BETWEEN 1 AND 64 AND name GLOB '[A-Za-z0-9]*'\n"
        "                       AND name NOT GLOB '*[^A-Za-z0-9._~+-]*'),\n"
        "        uki_sha256 TEXT NOT NULL UNIQUE\n"
        "                CHECK (length(uki_sha256) = 64 AND uki_sha256 NOT GLOB '*[^0-9a-f]*'),\n"
        "        uki_size INTEGER CHECK (uki_size > 0),\n"
        "        uki_authenticode TEXT NOT NULL UNIQUE\n"
        "                CHECK (length(uki_authenticode) = 64 AND uki_authenticode NOT GLOB '*[^0-9a-f]*'),\n"
        "        kernel_authenticode TEXT\n"
        "                CHECK (length(kernel_authenticode) = 64 AND kernel_authenticode NOT GLOB '*[^0-9a-f]*'),\n"
        "        pcr9 TEXT NOT NULL CHECK (length(pcr9) = 64 AND pcr9 NOT GLOB '*[^0-9a-f]*'),\n"
        "        pcr11_boot TEXT NOT NULL\n"
        "                CHECK (length(pcr11_boot) = 64 AND pcr11_boot NOT GLOB '*[^0-9a-f]*'),\n"
        "        pcr11_sysinit TEXT NOT NULL\n"
        "                CHECK (length(pcr11_sysinit) = 64 AND pcr11_sysinit NOT GLOB '*[^0-9a-f]*'),\n"
        "        pcr11_ready TEXT NOT NULL\n"
        "                CHECK (length(pcr11_ready) = 64 AND pcr11_ready NOT GLOB '*[^0-9a-f]*'),\n"
        "        os_id TEXT,\n"
        "        os_version_id TEXT,\n"
        "        os_image_id TEXT,\n"
        "        os_image_version TEXT,\n"
        "        os_build_id TEXT,\n"
        "        reference_version INTEGER NOT NULL CHECK (reference_version IN (1, 2)),\n"
        "        reference TEXT NOT NULL CHECK (length(CAST(reference AS BLOB)) BETWEEN 1 AND 65536),\n"
        "        added_at INTEGER NOT NULL,\n"
        "        retired_at INTEGER CHECK (retired_at >= added_at)\n"
        ");\n"
        "CREATE TRIGGER images_no_replace BEFORE INSERT ON images\n"
        "        WHEN EXISTS (SELECT 1 FROM images WHERE id = NEW.id OR name = NEW.name\n"
        "                     OR uki_sha256 = NEW.uki_sha256 OR uki_authenticode = NEW.uki_authenticode)\n"
        "        BEGIN SELECT RAISE(ABORT, 'an image with this name or digest is registered'); END;\n"
        "CREATE TRIGGER images_immutable BEFORE UPDATE ON images\n"
        "        WHEN OLD.retired_at IS NOT NULL OR NEW.retired_at IS NULL\n"
        "             OR NEW.id IS NOT OLD.id OR NEW.name IS NOT OLD.name\n"
        "             OR NEW.uki_sha256 IS NOT OLD.uki_sha256 OR NEW.uki_size IS NOT OLD.uki_size\n"
        "             OR NEW.uki_authenticode IS NOT OLD.uki_authenticode\n"
        "             OR NEW.kernel_authenticode IS NOT OLD.kernel_authenticode\n"
        "             OR NEW.pcr9 IS NOT OLD.pcr9 OR NEW.pcr11_boot IS NOT OLD.pcr11_boot\n"
        "             OR NEW.pcr11_sysinit IS NOT OLD.pcr11_sysinit OR NEW.pcr11_ready IS NOT OLD.pcr11_ready\n"
        "             OR NEW.os_id IS NOT OLD.os_id OR NEW.os_version_id IS NOT OLD.os_version_id\n"
        "             OR NEW.os_image_id IS NOT OLD.os_image_id\n"
        "             OR NEW.os_image_version IS NOT OLD.os_image_version\n"
        "             OR NEW.os_build_id IS NOT OLD.os_build_id\n"
        "             OR NEW.reference_version IS NOT OLD.reference_version\n"
        "             OR NEW.reference IS NOT OLD.reference OR NEW.added_at IS NOT OLD.added_at\n"
        "        BEGIN SELECT RAISE(ABORT, 'a registered image is immutable: only retiring it (once) changes it'); END;\n"
        "CREATE TRIGGER images_no_delete BEFORE DELETE ON images\n"
        "        BEGIN SELECT RAISE(ABORT, 'a registered image is never deleted: retire it'); END;\n"
        "ALTER TABLE nodes ADD COLUMN image_id INTEGER REFERENCES images(id);\n"
        "ALTER TABLE nodes ADD COLUMN last_verdict TEXT;\n"
        "ALTER TABLE nodes ADD COLUMN last_verdict_reason TEXT;\n"
        "ALTER TABLE nodes ADD COLUMN last_verdict_at INTEGER;\n"
        "CREATE INDEX nodes_image ON nodes(image_id);\n"
        "CREATE TRIGGER nodes_verdict_insert BEFORE INSERT ON nodes\n"
        "        WHEN NEW.last_verdict IS NOT NULL AND (NEW.last_verdict_at IS NULL OR NEW.last_verdict NOT IN\n"
        "             ('Trusted', 'UnknownImage', 'RetiredImage', 'FirmwareChanged', 'LogMismatch'))\n"
        "        BEGIN SELECT RAISE(ABORT, 'unknown verdict, or a verdict without its time'); END;\n"
        "CREATE TRIGGER nodes_verdict_update BEFORE UPDATE OF last_verdict, last_verdict_at ON nodes\n"
        "        WHEN NEW.last_verdict IS NOT NULL AND (NEW.last_verdict_at IS NULL OR NEW.last_verdict NOT IN\n"
        "             ('Trusted', 'UnknownImage', 'RetiredImage', 'FirmwareChanged', 'LogMismatch'))\n"
        "        BEGIN SELECT RAISE(ABORT, 'unknown verdict, or a verdict without its time'); END;\n";

/* The verifier (issue 10): each node's firmware PCRs, pinned by its first trusted attestation and forgotten by
 * `node repin`; each attestation's measured-boot verdict and image. And the attestation log's append-only
 * rule for INSERT too: INSERT OR REPLACE with an existing id deleted the old entry without firing the DELETE
 * trigger. */
static const char migration_0004[] =
        "CREATE TABLE node_firmware_pins (\n"
        "        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,\n"
        "        pcr INTEGER NOT NULL CHECK (pcr BETWEEN 0 AND 23),\n"
        "        value BLOB NOT NULL CHECK (length(value) = 32),\n"
        "        pinned_at INTEGER NOT NULL,\n"
        "        PRIMARY KEY (node_id, pcr)\n"
        ") WITHOUT ROWID;\n"
        "ALTER TABLE attestations ADD COLUMN measured_verdict TEXT\n"
        "        CHECK (measured_verdict IN ('Trusted', 'UnknownImage', 'RetiredImage', 'FirmwareChanged', 'LogMismatch'));\n"
        "ALTER TABLE attestations ADD COLUMN image_id INTEGER;\n"
        "CREATE TRIGGER attestations_no_replace BEFORE INSERT ON attestations\n"
        "        WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM attestations WHERE id = NEW.id)\n"
        "        BEGIN SELECT RAISE(ABORT, 'the attestation log is append-only'); END;\n";

/* EK certificates (issue 11): how a node's was judged when it first enrolled, and who issued it. */
static const char migration_0005[] =
        "ALTER TABLE nodes ADD COLUMN ek_certificate_status TEXT\n"
        "        CHECK (ek_certificate_status IN ('verified', 'absent', 'ignored'));\n"
        "ALTER TABLE nodes ADD COLUMN ek_certificate_issuer TEXT;\n";

/* No pending row without a TPM (issue 11, item 3): an identity the server does not know first proves, with a
 * credential challenge, that one TPM holds its EK and AK. The open proofs, bounded by MaxPendingNodes=, each
 * expiring after ChallengeLifetime=; what is needed to create the pending node once the proof arrives. */
static const char migration_0006[] =
        "CREATE TABLE enrolment_proofs (\n"
        "        id BLOB PRIMARY KEY CHECK (length(id) = 16),\n"
        "        ek_public BLOB NOT NULL,\n"
        "        ak_public BLOB NOT NULL,\n"
        "        ek_certificate BLOB,\n"
        "        ek_certificate_status TEXT CHECK (ek_certificate_status IN ('verified', 'absent', 'ignored')),\n"
        "        ek_certificate_issuer TEXT,\n"
        "        secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),\n"
        "        source TEXT NOT NULL,\n"
        "        expires_at INTEGER NOT NULL\n"
        ") WITHOUT ROWID;\n";

/* ContactInfo proofs (issue 12, item 7): each relay's public identity as its node reported it once patela-keyd
 * made the keys (POST /v1/node/fingerprints). One row per relay, gone with the relay (a lower relay count, a
 * removed node): a relay's name and addresses go back to the pools, its identity does not go to the next relay
 * that takes them. Fingerprints in the spelling tor writes (upper-case hex, unpadded base64), each at most once. */
static const char migration_0007[] =
        "CREATE TABLE relay_fingerprints (\n"
        "        relay_id INTEGER PRIMARY KEY REFERENCES relays(id) ON DELETE CASCADE,\n"
        "        rsa_fingerprint TEXT NOT NULL UNIQUE\n"
        "                CHECK (length(rsa_fingerprint) = 40 AND rsa_fingerprint NOT GLOB '*[^0-9A-F]*'),\n"
        "        ed25519_identity TEXT UNIQUE\n"
        "                CHECK (length(ed25519_identity) = 43 AND ed25519_identity NOT GLOB '*[^A-Za-z0-9+/]*'),\n"
        "        reported_at INTEGER NOT NULL\n"
        ");\n";

/* The transparency log (issue 14; docs/transparency.md): its entries, canonical text, and the hashes of its
 * complete subtrees (src/shared/tlog) at their tlog_stored_hash_index(), both append-only: a row goes in only
 * at the next index, so both tables only ever grow at their end. */
static const char migration_0008[] =
        "CREATE TABLE tlog_entries (\n"
        "        idx INTEGER PRIMARY KEY CHECK (idx >= 0),\n"
        "        kind TEXT NOT NULL CHECK (kind IN ('image-registered', 'image-retired', 'node-enabled', 'node-disabled',\n"
        "                                           'node-repinned', 'verdict')),\n"
        "        at INTEGER NOT NULL,\n"
        "        entry BLOB NOT NULL CHECK (length(entry) BETWEEN 1 AND 4096)\n"
        ");\n"
        "CREATE TABLE tlog_hashes (\n"
        "        id INTEGER PRIMARY KEY CHECK (id >= 0),\n"
        "        hash BLOB NOT NULL CHECK (length(hash) = 32)\n"
        ");\n"
        "CREATE TRIGGER tlog_entries_append BEFORE INSERT ON tlog_entries\n"
        "        WHEN NEW.idx IS NOT (SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_entries)\n"
        "        BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;\n"
        "CREATE TRIGGER tlog_entries_no_update BEFORE UPDATE ON tlog_entries\n"
        "        BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;\n"
        "CREATE TRIGGER tlog_entries_no_delete BEFORE DELETE ON tlog_entries\n"
        "        BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;\n"
        "CREATE TRIGGER tlog_hashes_append BEFORE INSERT ON tlog_hashes\n"
        "        WHEN NEW.id IS NOT (SELECT COALESCE(MAX(id) + 1, 0) FROM tlog_hashes)\n"
        "        BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;\n"
        "CREATE TRIGGER tlog_hashes_no_update BEFORE UPDATE ON tlog_hashes\n"
        "        BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;\n"
        "CREATE TRIGGER tlog_hashes_no_delete BEFORE DELETE ON tlog_hashes\n"
        "        BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;\n";

/* Up to RelaysPerAddress= relays of one node on one address (issue 12, item 2), each with an ORPort of its own
 * from ORPortRange=. The address a relay holds is relays.ipv4/ipv6 alone: pool_addresses loses relay_id (one
 * relay per address), rebuilt with its rows and their order (rowid: the allocation's tie-break). Each relay's
 * port is stored: for the relays that exist, the port they run on now, i.e. the ORPort setting as the cascade
 * resolved it (default, node, relay level, the last operation winning; unset or absent: 9001), so that no
 * running relay moves. The ORPort setting is then gone: ports are allocated, not set. Two relays never share
 * an address and a port, and an address carries relays of one node only (it is configured on that node). */
static const char migration_0009[] =
        "ALTER TABLE relays ADD COLUMN or_port INTEGER NOT NULL DEFAULT 9001 CHECK (or_port BETWEEN 1 AND 65535);\n"
        "UPDATE relays SET or_port = COALESCE((\n"
        "        SELECT CASE WHEN c.op = 'unset' THEN NULL ELSE CAST(c.value AS INTEGER) END FROM config_ops c\n"
        "        WHERE c.kind = 'setting' AND c.key = 'ORPort' COLLATE NOCASE\n"
        "              AND (c.level = 'default' OR (c.level = 'node' AND c.node_id = relays.node_id)\n"
        "                   OR (c.level = 'relay' AND c.relay_id = relays.id))\n"
        "        ORDER BY CASE c.level WHEN 'default' THEN 0 WHEN 'node' THEN 1 ELSE 2 END DESC, c.id DESC\n"
        "        LIMIT 1), 9001);\n"
        "DELETE FROM config_ops WHERE kind = 'setting' AND key = 'ORPort' COLLATE NOCASE;\n"
        "CREATE UNIQUE INDEX relays_ipv4_port ON relays(ipv4, or_port);\n"
        "CREATE UNIQUE INDEX relays_ipv6_port ON relays(ipv6, or_port);\n"
        "CREATE TRIGGER relays_address_one_node_insert BEFORE INSERT ON relays\n"
        "        WHEN EXISTS (SELECT 1 FROM relays WHERE node_id != NEW.node_id AND (ipv4 = NEW.ipv4 OR ipv6 = NEW.ipv6))\n"
        "        BEGIN SELECT RAISE(ABORT, 'an address carries the relays of one node only'); END;\n"
        "CREATE TRIGGER relays_address_one_node_update BEFORE UPDATE OF node_id, ipv4, ipv6 ON relays\n"
        "        WHEN EXISTS (SELECT 1 FROM relays WHERE id != NEW.id AND node_id != NEW.node_id\n"
        "                     AND (ipv4 = NEW.ipv4 OR ipv6 = NEW.ipv6))\n"
        "        BEGIN SELECT RAISE(ABORT, 'an address carries the relays of one node only'); END;\n"
        "CREATE TABLE pool_addresses_new (\n"
        "        address TEXT PRIMARY KEY,\n"
        "        family INTEGER NOT NULL CHECK (family IN (4, 6))\n"
        ");\n"
        "INSERT INTO pool_addresses_new (rowid, address, family) SELECT rowid, address, family FROM pool_addresses;\n"
        "DROP TABLE pool_addresses;\n"
        "ALTER TABLE pool_addresses_new RENAME TO pool_addresses;\n";
/* One family for the fleet (issue 12, item 3): the fleet's Happy Family keys (tor ≥ 0.4.9). A key is published
 * (its FamilyId in every relay's torrc, its secret released to trusted nodes) while retired_at is NULL; at most
 * two are, the current one and, while a rotation runs, the previous one. Retiring erases the secret: only the
 * FamilyId and the times stay, as a record. Times in microseconds, as the sessions' (GET /v1/node/check
 * compares them). */
static const char migration_0010[] =
        "CREATE TABLE family_keys (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        family_id TEXT NOT NULL UNIQUE CHECK (length(family_id) = 43 AND family_id NOT GLOB '*[^A-Za-z0-9+/]*'),\n"
        "        secret BLOB CHECK (length(secret) = 32),\n"
        "        created_at INTEGER NOT NULL,\n"
        "        retired_at INTEGER CHECK (retired_at >= created_at),\n"
        "        CHECK ((secret IS NULL) = (retired_at IS NOT NULL))\n"
        ");\n"
        "CREATE TRIGGER family_keys_at_most_two BEFORE INSERT ON family_keys\n"
        "        WHEN (SELECT count(*) FROM family_keys WHERE retired_at IS NULL) >= 2\n"
        "        BEGIN SELECT RAISE(ABORT, 'two family keys are published already: retire one first'); END;\n"
        "CREATE TRIGGER family_keys_no_revival BEFORE UPDATE ON family_keys\n"
        "        WHEN OLD.retired_at IS NOT NULL OR NEW.retired_at IS NULL OR NEW.id IS NOT OLD.id\n"
        "             OR NEW.family_id IS NOT OLD.family_id\n"
        "             OR NEW.created_at IS NOT OLD.created_at\n"
        "        BEGIN SELECT RAISE(ABORT, 'a family key is only ever retired, once'); END;\n";

/* A node proving its own image's registration (patelactl log verify) asks for that entry by the UKI's
 * Authenticode digest (GET /v1/log/registration): the registrations are found through this index, not by
 * reading every verdict of the log. */
static const char migration_0011[] =
        "CREATE INDEX tlog_entries_registrations ON tlog_entries (idx) WHERE kind = 'image-registered';\n";

/* tor's state survives a reboot without a disk (issue 12, item 5): each relay's tor state file (its bandwidth
 * history) as patela-keyd sealed it, opaque to the server (it never has the key). One blob per relay, replaced
 * whole by each save, gone with the relay. The bounds are PROTO_SEALED_STATE_MIN and _MAX. */
static const char migration_0012[] =
        "CREATE TABLE relay_states (\n"
        "        relay_id INTEGER PRIMARY KEY REFERENCES relays(id) ON DELETE CASCADE,\n"
        "        state BLOB NOT NULL CHECK (length(state) BETWEEN 32 AND 32800),\n"
        "        saved_at INTEGER NOT NULL\n"
        ");\n";

/* Fleet observability (issue 13): when each node last attested Trusted (seconds since the epoch), which its
 * last verdict does not tell once a later one was not Trusted; /metrics exports it per node. Filled from the
 * attestation log for the nodes that exist. */
static const char migration_0013[] =
        "ALTER TABLE nodes ADD COLUMN last_trusted_at INTEGER;\n"
        "UPDATE nodes SET last_trusted_at = (SELECT max(a.at) FROM attestations a WHERE a.node_id = nodes.id\n"
        "        AND a.verdict = 'accepted' AND a.measured_verdict = 'Trusted');\n";

/* Relay metrics (issue 13, item 2): each relay's last MetricsPort summary as its node reported it (POST
 * /v1/node/relay-metrics), gone with the relay. Counters as tor counts them (they restart with tor), clamped to
 * SQLite's INT64_MAX; dns_errors: the non-zero reasons, "reason:count …"; flags: a bitmask of TorRelayFlag. */
static const char migration_0014[] =
        "CREATE TABLE relay_metrics (\n"
        "        relay_id INTEGER PRIMARY KEY REFERENCES relays(id) ON DELETE CASCADE,\n"
        "        reported_at INTEGER NOT NULL,\n"
        "        onionskins_dropped INTEGER NOT NULL CHECK (onionskins_dropped >= 0),\n"
        "        oom_bytes INTEGER NOT NULL CHECK (oom_bytes >= 0),\n"
        "        tcp_exhaustion INTEGER NOT NULL CHECK (tcp_exhaustion >= 0),\n"
        "        rate_limit_reached INTEGER NOT NULL CHECK (rate_limit_reached >= 0),\n"
        "        dns_queries INTEGER NOT NULL CHECK (dns_queries >= 0),\n"
        "        dns_errors TEXT NOT NULL CHECK (length(dns_errors) <= 512 AND dns_errors NOT GLOB '*[^a-z_:0-9 ]*'),\n"
        "        flags INTEGER NOT NULL CHECK (flags >= 0),\n"
        "        read_bytes INTEGER NOT NULL CHECK (read_bytes >= 0),\n"
        "        written_bytes INTEGER NOT NULL CHECK (written_bytes >= 0)\n"
        ") WITHOUT ROWID;\n";

/* Challenges and sessions found by their node (docs/server.md, "Challenges and sessions"): a challenge id and a
 * session token begin with their node's id, so each row is stored under the node's key, one b-tree entry and
 * no second index to keep. Per authentication that is one page of each table written instead of two and
 * three. Tokens issued before this migration do not carry their node's id: the sessions go, and each node
 * attests again at its next check (a 401 starts a cycle), as after a restart of its relays. */
static const char migration_0015[] =
        "DROP TABLE challenges;\n"
        "CREATE TABLE challenges (\n"
        "        node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,\n"
        "        id BLOB NOT NULL CHECK (length(id) = 16),\n"
        "        secret_hash BLOB NOT NULL,\n"
        "        nonce BLOB NOT NULL,\n"
        "        pcr_bank TEXT NOT NULL,\n"
        "        pcr_mask INTEGER NOT NULL,\n"
        "        expires_at INTEGER NOT NULL,\n"
        "        PRIMARY KEY (node_id, id)\n"
        ") WITHOUT ROWID;\n"
        "DROP TABLE sessions;\n"
        "CREATE TABLE sessions (\n"
        "        token_hash BLOB NOT NULL CHECK (length(token_hash) = 32),\n"
        "        node_id INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,\n"
        "        created_at INTEGER NOT NULL,\n"
        "        expires_at INTEGER NOT NULL\n"
        ");\n";
/* The relays' MetricsPort summaries move to the server's memory (server-relay-metrics.c): a write transaction per
 * report under the request threads' lock cost more than the ratio to an authentication allows, for gauges and
 * tor's own counters that the next report brings back after a restart (docs/observability.md). */
static const char migration_0016[] = "DROP TABLE relay_metrics;\n";
/* Challenges derived from a key instead of stored (server-challenge.h, docs/server.md "Challenges"): the key, made
 * here once for the database (every server on it derives the same challenges), and each node's challenge_floor,
 * milliseconds since the epoch: a challenge no later than it is answered or void. Open challenges of the old
 * format go with their table (and the open proofs: ids are 32 bytes now); a node asks again when its answer is
 * refused. */
static const char migration_0017[] =
        "DROP TABLE challenges;\n"
        "CREATE TABLE server_keys (\n"
        "        name TEXT PRIMARY KEY,\n"
        "        key BLOB NOT NULL CHECK (length(key) = 32)\n"
        ") WITHOUT ROWID;\n"
        "INSERT INTO server_keys (name, key) VALUES ('challenge', randomblob(32));\n"
        "ALTER TABLE nodes ADD COLUMN challenge_floor INTEGER NOT NULL DEFAULT 0 CHECK (challenge_floor >= 0);\n"
        /* A challenge id is 32 bytes now (the protocol's one size), proofs' random ids too; open proofs go. */
        "DROP TABLE enrolment_proofs;\n"
        "CREATE TABLE enrolment_proofs (\n"
        "        id BLOB PRIMARY KEY CHECK (length(id) = 32),\n"
        "        ek_public BLOB NOT NULL,\n"
        "        ak_public BLOB NOT NULL,\n"
        "        ek_certificate BLOB,\n"
        "        ek_certificate_status TEXT CHECK (ek_certificate_status IN ('verified', 'absent', 'ignored')),\n"
        "        ek_certificate_issuer TEXT,\n"
        "        secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),\n"
        "        source TEXT NOT NULL,\n"
        "        expires_at INTEGER NOT NULL\n"
        ") WITHOUT ROWID;\n";
/* Quote-only re-attestation (docs/protocol.md, docs/server.md "Challenges"): whether the node's TPM proved that it
 * holds the node's EK and AK, by activating a credential of this server. A node created since migration 6 did at its
 * enrolment proof (node_create_pending() sets it); one enrolled before proves it with its next answer to a challenge
 * with a credential. Until then it gets one in every challenge. */
static const char migration_0018[] =
        "ALTER TABLE nodes ADD COLUMN credential_proven INTEGER NOT NULL DEFAULT 0 CHECK (credential_proven IN (0, 1));\n";
/* Two indexes that every authentication wrote a page of, for admin commands only. An attestation's answer writes the
 * node's row with image_id among the columns it sets, and SQLite then rewrites the row's entry in every index of
 * those columns, whether the value changed or not (measured with sqlite3: 2 WAL frames for such an UPDATE, 1 without
 * the index); images are never deleted (a trigger refuses it), so nodes_image served only `image list`'s count of
 * nodes per image, which now scans the nodes (milliseconds for 10,000). attestations_node put each new row of the
 * attestation log into the index at its node's place: a page of its own in every authentication, read from disk
 * once the log outgrows the cache; `attestations --node` never used it (its WHERE has an OR) and now reads the log
 * from its newest row, as does `node show` for a node whose row has no verdict (none since migration 3). */
static const char migration_0019[] = "DROP INDEX nodes_image;\nDROP INDEX attestations_node;\n";

const DbMigration db_migrations[] = {
        { 1, "initial schema", migration_0001, "ce328afc790f5b0c8ee0d0d65059d29d6e7f37847222f6a434e3e530f938fc41" },
        { 2, "challenges and sessions WITHOUT ROWID", migration_0002, "b456ec7e408a7d0a807ac27591c09e0387d8a0d5c3b2740680bbdaf8415b7422" },
        { 3, "image registry; each node's image and last verdict", migration_0003,
          "8265adc1bbeb4fa1abca8d1107ba97272050ff034e56d7b9610396e27653f15f" },
        { 4, "firmware pins, measured-boot verdicts in the attestation log, no INSERT OR REPLACE there", migration_0004,
          "e0b16bd4f6356c5090f03b70fab7863eec38ae6885b0832485b3a98cc2f9be0f" },
        { 5, "EK certificate status and issuer", migration_0005,
          "1359bf0c96b3af2ab910fffcd34031d93f3d8e413f31d32f69f589d37d0c868e" },
        { 6, "proofs of TPM possession before a pending node", migration_0006,
          "9285e7cf3db8b8ffadef5eeb0cf879c0e83c787cc9977b1c73afc14a6c99357e" },
        { 7, "relays' identity fingerprints for ContactInfo proofs", migration_0007,
          "441a0df95e1e6d3214c0050ac3c59a137b9afbe0b93169da58edf3830278ebe8" },
        { 8, "transparency log: entries and stored subtree hashes", migration_0008,
          "306e549a6bef27be8daab33c069ba517f8b87d3af93aaeef1d562f148b57add2" },
        { 9, "up to RelaysPerAddress= relays per address, each relay's ORPort allocated", migration_0009,
          "b46bf159959afba14087a702496569e64ee74999e5ff32faecd0409ddd0c9b9f" },
        { 10, "the fleet's family keys", migration_0010,
          "2f362224549bc55804f347303ae5b24161241227cc4a8b511b736a8987a013c7" },
        { 11, "an index of the log's image registrations", migration_0011,
          "ae25c631ac259e6f300079b214350ccfe409f934e40d284b5d0ae38b0fca08c7" },
        { 12, "the relays' sealed tor state", migration_0012,
          "bf2f67c548a886bf1fbb16d65fc2998a4413d82be8d6f507be2cbc6258d8363e" },
        { 13, "each node's last Trusted attestation", migration_0013,
          "051547f1e9dabbd5c067dcc354d1a1a330b61f18cbb9a274eeb42b8c82f437f6" },
        { 14, "relays' last MetricsPort summaries", migration_0014,
          "c60ea4ef33c87fbf1942d78f60a73327eb65523dfaf70e58d0f89b9459a84077" },
        { 15, "challenges and sessions stored under their node", migration_0015,
          "64fec3dcc0130fd564fcc0a27c8cca4f35f81c42c1a1ead9fe164f3e406dc40c" },
        { 16, "relays' MetricsPort summaries in the server's memory", migration_0016,
          "85ed704e41c99afca81c4557c37639d6337214b7062ef57de3b0d1cbfaa28dbe" },
        { 17, "challenges derived from a key, answered once through each node's floor", migration_0017,
          "477854eacdc63d498f3ae7014343b68d2ae93c285fca044d5808c2c03deb0297" },
        { 18, "whether each node's TPM proved its EK and AK, for quote-only re-attestation", migration_0018,
          "f627fbeb1fa6523ddcbc02d7cfd73ca55821c4921c203e877e376bc7e6ee4209" },
        { 19, "no index of the nodes' images nor of the attestation log by node: two WAL pages less per attestation",
          migration_0019,
          "5b19e6ac67ac9d54a6597865303cc2d3a733ce56fb2e99fcbc1df9f78b554dd7" },
};
const unsigned db_n_migrations = ELEMENTSOF(db_migrations);
