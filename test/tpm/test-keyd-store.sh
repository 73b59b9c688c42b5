#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The store in TPM NV: ciphertext only for the owner, capacity reported and enforced without losing keys,
# crash safety under kill -9 during writes, and bad relay names refused.
source "$PATELA_SOURCE_DIR/test/lib.sh"
source "$PATELA_SOURCE_DIR/test/lib-keyd.sh"

swtpm_start
head -c 4096 /dev/urandom >"$T/uki-A"
boot "$T/uki-A"
policy_for "$T/uki-A"
keyd_start

# --- bad input ---------------------------------------------------------------------------------------------
IP=org.varlink.service.InvalidParameter
for bad in '{"relays":[{"name":"a/b"}]}' '{"relays":[{"name":".."}]}' \
           '{"relays":[{"name":"abcdefghijklmnopqrst"}]}' '{"relays":[]}' '{"relays":[{"name":"dup"},{"name":"dup"}]}' \
           '{"relays":[{"name":""}]}' '{"relays":[{"name":"ok","user":"no-such-user-here"}]}' '{"relays":[{"nom":"x"}]}'; do
        out=$(kv_error $IP EnsureRelays "$bad")
        grep -q '"parameter":"relays"' <<<"$out" || fail "$bad: error does not name relays: $out"
done
kv_error $IP EnsureRelays '{"relays":[{"name":"ok"}],"familyKeys":["AAAA"]}' >/dev/null
kv_error $IP RemoveRelay '{"name":"../etc"}' >/dev/null
[[ ! -e $KEYD_KEYS ]] || [[ -z $(ls -A "$KEYD_KEYS") ]] || fail "bad input wrote key directories: $(ls "$KEYD_KEYS")"
[[ $(kv GetStatus | jq -r .sealed) == false ]] || fail "bad input sealed a key"
pass "names with '/', '..', over 19 characters, empty, duplicate, unknown users: InvalidParameter naming relays (a NUL never gets past the JSON parser); a family key of 3 bytes: refused before anything is sealed"

# --- ciphertext only -------------------------------------------------------------------------------------
kv EnsureRelays "$(relays_json secretrelay)" >"$T/one.json"
openssl rsa -in "$KEYD_KEYS/secretrelay/secret_id_key" -noout -text 2>/dev/null |
        awk '/^prime1:/ {p = 1; next} /^prime2:/ {p = 0} p' | tr -d ' :\n' | sed 's/^00//' >"$T/prime1.hex"
[[ $(wc -c <"$T/prime1.hex") -ge 120 ]] || fail "could not read prime1 from secret_id_key"
seed_tail=$(tail -c 64 "$KEYD_KEYS/secretrelay/ed25519_master_id_secret_key" | od -An -tx1 -v | tr -d ' \n' | cut -c1-32)
: >"$T/nv.hex"
for idx in $(tpm2_getcap handles-nv-index | awk '{print $2}'); do
        tpm2_nvread -C o "$idx" 2>/dev/null | od -An -tx1 -v | tr -d ' \n' >>"$T/nv.hex" || true
done
[[ -s $T/nv.hex ]] || fail "nothing readable in NV"
! grep -qi "$(cut -c1-32 "$T/prime1.hex")" "$T/nv.hex" || fail "an RSA prime is readable in NV"
! grep -qi "$seed_tail" "$T/nv.hex" || fail "ed25519 key material is readable in NV"
! grep -q "$(printf 'secretrelay' | od -An -tx1 | tr -d ' \n')" "$T/nv.hex" || fail "the relay name is readable in NV"
pass "tpm2_nvread with owner auth on every NV index yields no key material, not even the relay name"

# --- capacity --------------------------------------------------------------------------------------------
kv GetStatus >"$T/status.json"
cap=$(jq -r .capacity "$T/status.json")
per=$(jq -r .relaysPerIndex "$T/status.json")
echo "# NV index max $(jq -r .nvIndexMax "$T/status.json") bytes: $per relays per index, capacity $cap" >&2
[[ $cap -gt 0 && $per -gt 0 ]] || fail "capacity not computed"
names=()
for ((i = 1; i < cap; i++)); do names+=("cap$i"); done
# Filled in batches (one atomic write per call).
for ((i = 0; i < ${#names[@]}; i += 40)); do
        kv EnsureRelays "$(relays_json "${names[@]:i:40}")" >/dev/null || fail "filling to capacity failed at $i"
done
[[ $(kv ListRelays | jq '.relays | length') == "$cap" ]] || fail "not $cap relays stored"
out=$(kv_error io.patela.Keys.CapacityExceeded EnsureRelays "$(relays_json onetoomany)")
grep -q "\"capacity\":$cap" <<<"$out" || fail "CapacityExceeded without the capacity: $out"
[[ $(kv ListRelays | jq '.relays | length') == "$cap" ]] || fail "keys lost after CapacityExceeded"
kv EnsureRelays "$(relays_json secretrelay)" | jq -r '.relays[0].rsaFingerprint' >"$T/after.txt"
[[ $(cat "$T/after.txt") == "$(jq -r '.relays[0].rsaFingerprint' "$T/one.json")" ]] || fail "an existing relay changed"
pass "filled to the computed capacity ($cap relays, $per per index); one more → CapacityExceeded; existing keys intact"
kv GetStatus | jq -c '{nvUsed, capacity}' >&2

# --- crash safety ----------------------------------------------------------------------------------------
for name in "${names[@]}"; do
        kv RemoveRelay "{\"name\":\"$name\"}" >/dev/null
done
kv EnsureRelays "$(relays_json early1 early2 early3)" >"$T/early.json"
for ((round = 0; round < 20; round++)); do
        varlinkctl call --json=short "$KEYD_SOCK" io.patela.Keys.EnsureRelays "$(relays_json "crash$round")" >/dev/null 2>&1 &
        client=$!
        sleep "0.$((RANDOM % 25))"
        kill -9 "$KEYD_PID" 2>/dev/null || true
        wait "$client" 2>/dev/null || true
        wait "$KEYD_PID" 2>/dev/null || true
        # What the kernel's resource manager does for a process that died: flush its TPM objects.
        tpm2_flushcontext -t >/dev/null 2>&1 || true
        tpm2_flushcontext -l >/dev/null 2>&1 || true
        keyd_start
        kv EnsureRelays "$(relays_json early1 early2 early3)" >"$T/check.json" ||
                fail "round $round: earlier relays unreadable after kill -9"
        [[ $(jq -c '[.relays[].rsaFingerprint]' "$T/check.json") == "$(jq -c '[.relays[].rsaFingerprint]' "$T/early.json")" ]] ||
                fail "round $round: earlier relays changed"
done
pass "kill -9 of keyd at random points while adding a relay, 20 times: every earlier relay still unseals unchanged"
