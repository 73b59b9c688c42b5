#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela's tor relay keys (src/shared/tor/tor-keys.c) read by tor itself: tor --list-fingerprint prints the
# fingerprints patela computed, a tor started on the keys writes the same fingerprint-ed25519 and loads the
# family key named by FamilyId, and the files have the layout tor's own key generation gives them.
# Every torrc has DisableNetwork 1, no SocksPort, no descriptor publication and a literal Address (no
# hostname lookup): tor never touches the network.
source "$PATELA_SOURCE_DIR/test/lib.sh"

TOOL=$PATELA_BUILD_DIR/test/tor-keys-tool
: >"$T/defaults" # instead of the system's torrc-defaults

tor_in() { # TORRC ARGS...: tor with nothing but our configuration
        local rc=$1
        shift
        tor --defaults-torrc "$T/defaults" -f "$rc" "$@"
}

# write_torrc NAME DATADIR [LINE...]: $T/NAME.torrc
write_torrc() {
        local name=$1 data=$2 line
        shift 2
        {
                echo "DataDirectory $data"
                echo "Nickname test1"
                echo "ORPort 9001"
                echo "Address 192.0.2.1"
                echo "AddressDisableIPv6 1"
                echo "DisableNetwork 1"
                echo "SocksPort 0"
                echo "PublishServerDescriptor 0"
                echo "ContactInfo test@example.org"
                echo "Log info file $T/$name.log"
                for line in "$@"; do
                        echo "$line"
                done
        } >"$T/$name.torrc"
}

# The key material tor must not have replaced.
key_sums() {
        (cd "$1/keys" && sha256sum ed25519_master_id_secret_key ed25519_master_id_public_key secret_id_key)
}

# ---- relay keys -----------------------------------------------------------------------------------------
mkdir -m 0700 "$T/data"
"$TOOL" generate "$T/data" >"$T/generate.out" || fail "tor-keys-tool generate failed"
RSA=$(awk '$1 == "rsa" { print $2 }' "$T/generate.out")
RSA_SPACED=$(sed -n 's/^rsa-spaced //p' "$T/generate.out")
ED=$(awk '$1 == "ed25519" { print $2 }' "$T/generate.out")
[[ $RSA =~ ^[0-9A-F]{40}$ ]] || fail "bad RSA fingerprint: $RSA"
[[ $RSA_SPACED == "$(sed 's/..../& /g; s/ $//' <<<"$RSA")" ]] || fail "bad spaced fingerprint: $RSA_SPACED"
[[ $ED =~ ^[A-Za-z0-9+/]{43}$ ]] || fail "bad ed25519 id: $ED"
for f in ed25519_master_id_secret_key ed25519_master_id_public_key secret_id_key; do
        [[ $(stat -c %a "$T/data/keys/$f") == 600 ]] || fail "$f: mode $(stat -c %a "$T/data/keys/$f")"
done
key_sums "$T/data" >"$T/keys.sum"

# The same layout as tor's own: let tor make a relay's keys in another directory and compare headers and
# sizes (the secret parts differ, of course).
mkdir -m 0700 "$T/ref"
write_torrc ref "$T/ref"
tor_in "$T/ref.torrc" --list-fingerprint >"$T/ref.out" 2>&1 || fail "tor could not make reference keys"
for f in ed25519_master_id_secret_key ed25519_master_id_public_key; do
        cmp -s <(head -c 32 "$T/ref/keys/$f") <(head -c 32 "$T/data/keys/$f") || fail "$f: header differs from tor's"
        [[ $(stat -c %s "$T/ref/keys/$f") == $(stat -c %s "$T/data/keys/$f") ]] || fail "$f: size differs from tor's"
done
# tor writes its PEM with the string's terminating NUL (crypto_rsa.c writes pem_encoded_size() bytes, which
# counts it) and reads up to "-----END": ours is plain PEM, and otherwise the same armour and line width.
tr -d '\0' <"$T/ref/keys/secret_id_key" >"$T/ref-pem"
for l in 1 2 '$'; do
        shape() { sed -n "${l}p" "$1" | tr -c '\n' x; }
        [[ $(shape "$T/ref-pem") == "$(shape "$T/data/keys/secret_id_key")" ]] ||
                fail "secret_id_key: line $l is not like tor's"
done
[[ $(head -1 "$T/data/keys/secret_id_key") == "$(head -1 "$T/ref-pem")" &&
   $(tail -1 "$T/data/keys/secret_id_key") == "$(tail -1 "$T/ref-pem")" ]] ||
        fail "secret_id_key: PEM armour differs from tor's"
if command -v openssl >/dev/null; then
        [[ $(openssl rsa -in "$T/data/keys/secret_id_key" -noout -text 2>/dev/null | head -1) == *"1024 bit"* ]] ||
                fail "secret_id_key is not a 1024-bit RSA key"
        openssl rsa -in "$T/data/keys/secret_id_key" -check -noout >/dev/null 2>&1 || fail "openssl rsa -check fails"
fi
pass "key files have tor's layout and mode 0600"

write_torrc relay "$T/data"
tor_in "$T/relay.torrc" --list-fingerprint >"$T/list-rsa.out" 2>"$T/list-rsa.err" ||
        fail "tor --list-fingerprint failed: $(tail -3 "$T/list-rsa.err")"
[[ $(tail -1 "$T/list-rsa.out") == "test1 $RSA_SPACED" ]] ||
        fail "tor --list-fingerprint says '$(tail -1 "$T/list-rsa.out")', patela 'test1 $RSA_SPACED'"
[[ $(cat "$T/data/fingerprint") == "test1 $RSA" ]] || fail "DataDirectory/fingerprint: $(cat "$T/data/fingerprint")"
pass "tor --list-fingerprint: $RSA_SPACED"

tor_in "$T/relay.torrc" --list-fingerprint ed25519 >"$T/list-ed.out" 2>"$T/list-ed.err" ||
        fail "tor --list-fingerprint ed25519 failed: $(tail -3 "$T/list-ed.err")"
[[ $(tail -1 "$T/list-ed.out") == "test1 $ED" ]] ||
        fail "tor --list-fingerprint ed25519 says '$(tail -1 "$T/list-ed.out")', patela 'test1 $ED'"
key_sums "$T/data" | cmp -s - "$T/keys.sum" || fail "tor replaced key files"
pass "tor --list-fingerprint ed25519: $ED"

# ---- family key -----------------------------------------------------------------------------------------
"$TOOL" family "$T/data" fam1 >"$T/family.out" || fail "tor-keys-tool family failed"
FAMILY_ID=$(awk '$1 == "FamilyId" { print $2 }' "$T/family.out")
[[ $FAMILY_ID =~ ^[A-Za-z0-9+/]{43}$ ]] || fail "bad FamilyId: $(cat "$T/family.out")"
[[ $(stat -c %a "$T/data/keys/fam1.secret_family_key") == 600 ]] || fail "family key mode"

# tor's own --keygen-family, for the layout and to have a valid FamilyId that is not ours.
(cd "$T" && tor --defaults-torrc "$T/defaults" -f "$T/ref.torrc" --keygen-family other >"$T/keygen.out" 2>&1) ||
        fail "tor --keygen-family failed"
OTHER_ID=$(awk '$1 == "FamilyId" { print $2 }' "$T/keygen.out")
[[ $OTHER_ID == "$(cat "$T/other.public_family_id")" ]] || fail "tor --keygen-family: $(cat "$T/keygen.out")"
cmp -s <(head -c 32 "$T/other.secret_family_key") <(head -c 32 "$T/data/keys/fam1.secret_family_key") ||
        fail "family key header differs from tor's"
[[ $(stat -c %s "$T/other.secret_family_key") == $(stat -c %s "$T/data/keys/fam1.secret_family_key") ]] ||
        fail "family key size differs from tor's"

# tor --verify-config only parses FamilyId (a base64 ed25519 key); the key itself is looked for when tor
# runs (routerkeys.c load_family_id_keys(), from init_keys() for CMD_RUN_TOR only).
write_torrc family "$T/data" "FamilyId $FAMILY_ID"
tor_in "$T/family.torrc" --verify-config >"$T/verify.out" 2>&1 ||
        fail "FamilyId $FAMILY_ID: $(tail -3 "$T/verify.out")"
write_torrc bad-id "$T/data" "FamilyId not-a-family-id"
! tor_in "$T/bad-id.torrc" --verify-config >"$T/verify-bad.out" 2>&1 || fail "tor accepts a malformed FamilyId"
grep -q "Invalid FamilyId" "$T/verify-bad.out" || fail "malformed FamilyId: $(tail -3 "$T/verify-bad.out")"
write_torrc wrong-id "$T/data" "FamilyId $OTHER_ID"
tor_in "$T/wrong-id.torrc" --verify-config >/dev/null 2>&1 || fail "tor --verify-config checks more than we thought"
pass "tor --verify-config: FamilyId $FAMILY_ID (a malformed one is refused)"

# Run tor on the keys: it must load them as they are, write fingerprint-ed25519 and load the family key.
rm -f "$T/data/fingerprint" "$T/data/fingerprint-ed25519"
tor --defaults-torrc "$T/defaults" -f "$T/family.torrc" >"$T/tor-run.out" 2>&1 & # not tor_in: $! is tor's
TOR_PID=$!
PIDS+=("$TOR_PID")
for ((i = 0; i < 300; i++)); do
        [[ -s $T/data/fingerprint-ed25519 ]] && grep -q "Found 1 family ID keys" "$T/family.log" && break
        kill -0 "$TOR_PID" 2>/dev/null || fail "tor exited: $(tail -5 "$T/family.log")"
        sleep 0.1
done
[[ -s $T/data/fingerprint-ed25519 ]] || fail "tor wrote no fingerprint-ed25519: $(tail -5 "$T/family.log")"
grep -q "Found 1 family ID keys" "$T/family.log" ||
        fail "tor did not load the family key: $(tail -5 "$T/family.log")"
sleep 1
kill -0 "$TOR_PID" 2>/dev/null || fail "tor exited: $(tail -5 "$T/family.log")"
kill "$TOR_PID" # SIGTERM: a relay exits at once (SIGINT would wait ShutdownWaitLength)
wait "$TOR_PID" 2>/dev/null || true
[[ $(cat "$T/data/fingerprint-ed25519") == "test1 $ED" ]] ||
        fail "fingerprint-ed25519: '$(cat "$T/data/fingerprint-ed25519")', patela 'test1 $ED'"
[[ $(cat "$T/data/fingerprint") == "test1 $RSA" ]] || fail "fingerprint: $(cat "$T/data/fingerprint")"
key_sums "$T/data" | cmp -s - "$T/keys.sum" || fail "tor replaced key files"
if grep -E "No key was found|was not a family ID key|unexpected FamilyID" "$T/family.log"; then
        fail "tor complains about the family key"
fi
pass "tor runs on the keys: fingerprint-ed25519 $ED, family key $FAMILY_ID loaded"

# A FamilyId whose key is not in the KeyDirectory: tor refuses to start.
timeout 60 tor --defaults-torrc "$T/defaults" -f "$T/wrong-id.torrc" >"$T/tor-wrong.out" 2>&1 &&
        fail "tor ran without the key for its FamilyId"
grep -q "No key was found for listed FamilyID" "$T/wrong-id.log" ||
        fail "wrong FamilyId: $(tail -5 "$T/wrong-id.log")"
grep -q "with unexpected FamilyID $FAMILY_ID" "$T/wrong-id.log" || fail "tor did not look at our family key"
pass "tor refuses to start with a FamilyId whose key it lacks"
