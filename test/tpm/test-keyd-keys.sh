#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-keyd: keys generated once, written in tor's formats to tmpfs (tor agrees on both fingerprints),
# and the same keys after every directory is wiped, keyd restarts and the TPM power-cycles; the fleet's family
# keys sealed with them, written to every relay, rotated, and loaded by tor.
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/lib-keyd.sh"

swtpm_start
head -c 4096 /dev/urandom >"$T/uki-A"
boot "$T/uki-A"
policy_for "$T/uki-A"
keyd_start

kv GetStatus >"$T/status.json"
[[ $(jq -r .sealed "$T/status.json") == false ]] || fail "sealed before first use"
[[ $(jq -c .policyPcrs "$T/status.json") == "[$PCRLOCK_MASK]" ]] || fail "policy PCRs: $(jq -c .policyPcrs "$T/status.json")"

kv EnsureRelays "$(relays_json exitone exittwo exitthree)" >"$T/first.json"
[[ $(jq '[.relays[] | select(.created)] | length' "$T/first.json") == 3 ]] || fail "not created: $(cat "$T/first.json")"
[[ $(kv GetStatus | jq -r .sealed) == true ]] || fail "KEK not sealed"
pass "three relays generated and sealed"

for name in exitone exittwo exitthree; do
        dir=$(jq -r --arg n "$name" '.relays[] | select(.name == $n) | .keyDirectory' "$T/first.json")
        [[ $dir == "$KEYD_KEYS/$name" ]] || fail "key directory $dir"
        [[ $(stat -c '%a %U' "$dir") == "700 nobody" ]] || fail "$dir: $(stat -c '%a %U' "$dir")"
        for f in ed25519_master_id_secret_key ed25519_master_id_public_key secret_id_key; do
                [[ $(stat -c '%a %U' "$dir/$f") == "600 nobody" ]] || fail "$dir/$f: $(stat -c '%a %U' "$dir/$f")"
        done
        want=$(jq -r --arg n "$name" '.relays[] | select(.name == $n) | .rsaFingerprint' "$T/first.json")
        got=$(tor_fingerprint "$name" "$dir")
        [[ -n $want && $got == "$want" ]] || fail "$name: tor says $got, keyd says $want ($(cat "$T/tor-$name.out" "$T/tor-$name.err"))"
done
pass "tor --list-fingerprint prints keyd's RSA fingerprint for each relay; files 0600, directories 0700, owned by the instance user"

# tor starts with the keys and derives the same ed25519 identity.
name=exitone
dir=$KEYD_KEYS/$name
tor_torrc "$name" "$dir"
as_nobody tor -f "$T/tor-$name.torrc" --quiet &
tor_pid=$!
PIDS+=("$tor_pid")
for ((i = 0; i < 100; i++)); do
        [[ -s $T/tor-$name/fingerprint-ed25519 ]] && break
        sleep 0.1
done
kill "$tor_pid"
want=$(jq -r '.relays[] | select(.name == "exitone") | .ed25519Identity' "$T/first.json")
got=$(awk '{print $2}' "$T/tor-$name/fingerprint-ed25519" 2>/dev/null)
[[ -n $want && $got == "$want" ]] || fail "ed25519: tor says '$got', keyd says '$want': $(tail -3 "$T/tor-$name/notice.log")"
pass "tor runs with the keys; its fingerprint-ed25519 equals keyd's ed25519 identity"

# Nothing on disk: wipe every directory keyd wrote, restart keyd, power-cycle the TPM, boot the same image.
rm -rf "$KEYD_KEYS" "$T"/tor-*
reboot_into "$T/uki-A"
keyd_start
kv EnsureRelays "$(relays_json exittwo exitone exitthree)" >"$T/second.json"
[[ $(jq '[.relays[] | select(.created)] | length' "$T/second.json") == 0 ]] || fail "keys re-created after reboot"
for name in exitone exittwo exitthree; do
        a=$(jq -c --arg n "$name" '.relays[] | select(.name == $n) | [.rsaFingerprint, .ed25519Identity]' "$T/first.json")
        b=$(jq -c --arg n "$name" '.relays[] | select(.name == $n) | [.rsaFingerprint, .ed25519Identity]' "$T/second.json")
        [[ $a == "$b" ]] || fail "$name changed identity across reboot: $a → $b"
        [[ $(tor_fingerprint "$name" "$KEYD_KEYS/$name") == "$(jq -r '.[0]' <<<"$b")" ]] || fail "$name: tor disagrees after reboot"
done
pass "after wiping all files, a keyd restart and a TPM power cycle: the same fingerprints for every relay"

# The fleet's Happy Family keys: sealed with the relays in the same record, written to every relay as
# ID.secret_family_key (ID: the FamilyId in URL-safe base64), the files of other family keys removed; tor loads
# them for the FamilyIds keyd reports.
# family_call NAME KEY_B64…: EnsureRelays for exitone and exitthree with these family keys ("-" for none: null).
family_call() {
        local out=$1
        shift
        if [[ ${1:-} == - ]]; then
                kv EnsureRelays "$(relays_json exitone exitthree)" >"$T/$out.json"
        else
                kv EnsureRelays "$(relays_json exitone exitthree | jq -c '.familyKeys = $ARGS.positional' --args "$@")" \
                        >"$T/$out.json"
        fi
}
family_files() { # DIR: the family key files, sorted
        (cd "$1" && ls -- *.secret_family_key 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')
}
url() { tr '+/' '-_' <<<"$1"; }
# tor_family NAME ID…: tor runs as the relay's user on its key directory with these FamilyId lines; TOR_FAMILY is
# how many family keys tor loaded. Fails if tor complains or exits. (Not in $(…): the subshell would run the
# test's EXIT trap.)
tor_family() {
        local name=$1 id i pid
        shift
        tor_torrc "$name" "$KEYD_KEYS/$name"
        for id in "$@"; do
                printf 'FamilyId %s\n' "$id" >>"$T/tor-$name.torrc"
        done
        printf 'Log info file %s\n' "$T/tor-$name/info.log" >>"$T/tor-$name.torrc"
        as_nobody tor --verify-config -f "$T/tor-$name.torrc" >"$T/family-verify.log" 2>&1 ||
                fail "tor --verify-config: $(tail -3 "$T/family-verify.log")"
        # Not as_nobody, a function: in the background it would be a subshell whose pid is not tor's.
        setpriv --reuid=nobody --regid=nogroup --clear-groups tor -f "$T/tor-$name.torrc" --quiet &
        pid=$!
        PIDS+=("$pid")
        for ((i = 0; i < 100; i++)); do
                grep -q "Found [0-9]* family ID keys" "$T/tor-$name/info.log" 2>/dev/null && break
                kill -0 "$pid" 2>/dev/null || fail "tor exited: $(tail -3 "$T/tor-$name/notice.log")"
                sleep 0.1
        done
        sleep 0.5
        kill -0 "$pid" 2>/dev/null || fail "tor exited: $(tail -3 "$T/tor-$name/notice.log")"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        grep -E "No key was found|unexpected FamilyID|was not a family ID key" "$T/tor-$name/info.log" &&
                fail "tor complains about the family keys"
        TOR_FAMILY=$(grep -o "Found [0-9]* family ID keys" "$T/tor-$name/info.log" | awk '{ print $2 }')
        rm -rf "$T/tor-$name"
}
stores() { grep -c "Stored keys of" "$T/keyd.log" || true; }

key_a=$(head -c 32 /dev/urandom | base64 -w0)
key_b=$(head -c 32 /dev/urandom | base64 -w0)
family_call a "$key_a"
id_a=$(jq -r '.familyIds[0]' "$T/a.json")
[[ $(jq '.familyIds | length' "$T/a.json") == 1 && ${#id_a} == 43 ]] || fail "familyIds: $(cat "$T/a.json")"
[[ $(jq -r '[.relays[].familyChanged] | unique | join(",")' "$T/a.json") == true ]] || fail "familyChanged: $(cat "$T/a.json")"
for name in exitone exitthree; do
        [[ $(family_files "$KEYD_KEYS/$name") == "$(url "$id_a").secret_family_key" ]] ||
                fail "$name: family files $(family_files "$KEYD_KEYS/$name")"
        [[ $(stat -c '%a %U %s' "$KEYD_KEYS/$name/$(url "$id_a").secret_family_key") == "600 nobody 96" ]] ||
                fail "$name: family key file mode, owner or size"
done
[[ ! -e $KEYD_KEYS/exittwo/$(url "$id_a").secret_family_key ]] || fail "a relay not asked for got the family key"
tor_family exitone "$id_a"
[[ $TOR_FAMILY == 1 ]] || fail "tor did not load the family key"
[[ $(kv ListRelays | jq -c .familyIds) == "[\"$id_a\"]" ]] || fail "ListRelays: $(kv ListRelays | jq -c .familyIds)"
[[ $(kv ListRelays | jq '.relays | length') == 3 ]] || fail "the family call changed the relay set"
pass "family key sealed with the relays, written 0600 to each relay asked for; tor runs with FamilyId $id_a and loads its key"

before=$(stores)
family_call again "$key_a"
[[ $(jq -r '[.relays[].familyChanged] | unique | join(",")' "$T/again.json") == false ]] ||
        fail "familyChanged for the same key: $(cat "$T/again.json")"
[[ $(stores) == "$before" ]] || fail "the same family key was stored again"
pass "the same family key again: nothing stored, no file changed (familyChanged false)"

# A rotation: both keys, then the new one alone; the old key's files go.
family_call ab "$key_a" "$key_b"
id_b=$(jq -r '.familyIds[1]' "$T/ab.json")
[[ $(jq -r '.familyIds | join(" ")' "$T/ab.json") == "$id_a $id_b" ]] || fail "familyIds: $(cat "$T/ab.json")"
[[ $(jq -r '[.relays[].familyChanged] | unique | join(",")' "$T/ab.json") == true ]] || fail "familyChanged: $(cat "$T/ab.json")"
[[ $(family_files "$KEYD_KEYS/exitthree") == "$(printf '%s.secret_family_key\n' "$(url "$id_a")" "$(url "$id_b")" | sort | tr '\n' ' ' | sed 's/ $//')" ]] ||
        fail "two family keys: $(family_files "$KEYD_KEYS/exitthree")"
tor_family exitthree "$id_a" "$id_b"
[[ $TOR_FAMILY == 2 ]] || fail "tor did not load both family keys"
family_call b "$key_b"
[[ $(jq -r '.familyIds | join(" ")' "$T/b.json") == "$id_b" ]] || fail "familyIds: $(cat "$T/b.json")"
[[ $(jq -r '[.relays[].familyChanged] | unique | join(",")' "$T/b.json") == true ]] || fail "familyChanged: $(cat "$T/b.json")"
for name in exitone exitthree; do
        [[ $(family_files "$KEYD_KEYS/$name") == "$(url "$id_b").secret_family_key" ]] ||
                fail "$name after the rotation: $(family_files "$KEYD_KEYS/$name")"
done
tor_family exitone "$id_b"
[[ $TOR_FAMILY == 1 ]] || fail "tor did not load the new family key"
pass "rotation: both keys ($id_a $id_b, tor loads 2), then the new one alone, the old key's files removed from every relay"

# Bounded input: at most two distinct keys of 32 bytes.
short=$(head -c 31 /dev/urandom | base64 -w0)
for bad in "[\"$key_a\",\"$key_b\",\"$(head -c 32 /dev/urandom | base64 -w0)\"]" "[\"$key_a\",\"$key_a\"]" "[\"$short\"]" \
        '["not base64!"]' '[7]' "\"$key_a\""; do
        kv_error familyKeys EnsureRelays "$(relays_json exitone | jq -c --argjson f "$bad" '.familyKeys = $f')" >/dev/null
done
[[ $(kv ListRelays | jq -r '.familyIds | join(" ")') == "$id_b" ]] || fail "a refused call changed the family keys"
pass "three keys, a duplicate, 31 bytes, not base64, not strings: InvalidParameter familyKeys, nothing changed"

# Sealed: after a reboot with every file gone, a call without familyKeys writes the stored key.
rm -rf "$KEYD_KEYS" "$T"/tor-*
reboot_into "$T/uki-A"
keyd_start
family_call sealed -
[[ $(jq -r '.familyIds | join(" ")' "$T/sealed.json") == "$id_b" ]] || fail "after reboot: $(cat "$T/sealed.json")"
[[ $(family_files "$KEYD_KEYS/exitone") == "$(url "$id_b").secret_family_key" ]] || fail "stored family key not written"
tor_family exitone "$id_b"
[[ $TOR_FAMILY == 1 ]] || fail "tor did not load the unsealed family key"
pass "after a TPM power cycle and a keyd restart, the family key comes from the sealed store (no familyKeys given)"

# No family any more: an empty list drops the stored keys and the files.
family_call none
[[ $(jq -c .familyIds "$T/none.json") == "[]" ]] || fail "familyIds: $(cat "$T/none.json")"
[[ -z $(family_files "$KEYD_KEYS/exitone") && -z $(family_files "$KEYD_KEYS/exitthree") ]] || fail "family files left"
[[ $(kv ListRelays | jq -c .familyIds) == "[]" ]] || fail "a family key is still stored"
family_call b2 "$key_b"
pass "an empty familyKeys removes the stored family keys and every family file"

# List and remove.
[[ $(kv ListRelays | jq -r '[.relays[].name] | sort | join(",")') == exitone,exitthree,exittwo ]] || fail "ListRelays"
kv RemoveRelay '{"name":"exitthree"}' >/dev/null
[[ ! -e $KEYD_KEYS/exitthree ]] || fail "the key files of a removed relay remain: $(ls -A "$KEYD_KEYS/exitthree")"
kv RemoveRelay '{"name":"exittwo"}' >/dev/null
[[ ! -e $KEYD_KEYS/exittwo/secret_id_key ]] || fail "key files of a removed relay remain"
[[ $(kv ListRelays | jq -r '[.relays[].name] | sort | join(",")') == exitone ]] || fail "RemoveRelay"
kv_error io.patela.Keys.NoSuchRelay RemoveRelay '{"name":"exittwo"}' >/dev/null
pass "ListRelays and RemoveRelay"
grep "TPM commands" "$T/keyd.log" | tail -4 >&2 || true
