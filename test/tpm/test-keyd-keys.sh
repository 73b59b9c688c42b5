#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-keyd: keys generated once, written in tor's formats to tmpfs (tor agrees on both fingerprints),
# and the same keys after every directory is wiped, keyd restarts and the TPM power-cycles.
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

# The Happy Family key: sealed with the relays, written to each relay, and tor accepts the FamilyId.
seed=$(head -c 32 /dev/urandom | base64 -w0)
kv EnsureRelays "$(relays_json exitone exitthree | jq -c --arg s "$seed" '.family = {name: "myfamily", seed: $s}')" >"$T/family.json"
family_id=$(jq -r .familyId "$T/family.json")
[[ ${#family_id} == 43 ]] || fail "familyId: $(cat "$T/family.json")"
for name in exitone exitthree; do
        [[ $(stat -c '%a %U %s' "$KEYD_KEYS/$name/myfamily.secret_family_key") == "600 nobody 96" ]] ||
                fail "$name: family key file"
done
tor_torrc exitone "$KEYD_KEYS/exitone"
printf 'FamilyId %s\n' "$family_id" >>"$T/tor-exitone.torrc"
as_nobody tor --verify-config -f "$T/tor-exitone.torrc" >"$T/family-verify.log" 2>&1 || fail "tor rejects the FamilyId: $(tail -3 "$T/family-verify.log")"
[[ $(kv ListRelays | jq '.relays | length') == 3 ]] || fail "the family call changed the relay set"
pass "family key sealed with the relays, written 0600 to each relay's directory; tor accepts FamilyId $family_id"

# List and remove.
[[ $(kv ListRelays | jq -r '[.relays[].name] | sort | join(",")') == exitone,exitthree,exittwo ]] || fail "ListRelays"
kv RemoveRelay '{"name":"exittwo"}' >/dev/null
[[ ! -e $KEYD_KEYS/exittwo/secret_id_key ]] || fail "key files of a removed relay remain"
[[ $(kv ListRelays | jq -r '[.relays[].name] | sort | join(",")') == exitone,exitthree ]] || fail "RemoveRelay"
kv_error io.patela.Keys.NoSuchRelay RemoveRelay '{"name":"exittwo"}' >/dev/null
pass "ListRelays and RemoveRelay"
grep "TPM commands" "$T/keyd.log" | tail -4 >&2 || true
