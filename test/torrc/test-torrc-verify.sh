#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A realistic exit relay's torrc, merged from the levels (global default → node → relay → forced) and
# rendered by the torrc library, is accepted by tor --verify-config; a value tor refuses is caught by it.
source "$PATELA_SOURCE_DIR/test/lib.sh"

render=$PATELA_BUILD_DIR/test/torrc/torrc-render
mkdir -m 0700 "$T/data"
: >"$T/empty-defaults"

cat >"$T/default.torrc" <<'LEVEL'
# Global default for all exit relays
ContactInfo email:ops[]example.org url:https://example.org ciissversion:2
MyFamily $0123456789ABCDEF0123456789ABCDEF01234567,$89ABCDEF0123456789ABCDEF0123456789ABCDEF
ExitRelay yes
IPv6Exit 1
ExitPolicy accept *:53        # DNS
ExitPolicy accept *:80
ExitPolicy accept *:443
RelayBandwidthRate 10 MBytes
SocksPort 0
Nickname DefaultName
Log notice stdout
LEVEL
cat >"$T/node.torrc" <<'LEVEL'
+ExitPolicy accept *:6660-6697
+ExitPolicy reject *:*
OutboundBindAddressExit 192.0.2.20
LEVEL
cat >"$T/relay.torrc" <<'LEVEL'
Nickname NotForced
AccountingMax "1 TBytes"
LEVEL
cat >"$T/forced.torrc" <<LEVEL
Nickname Patela01
ORPort 192.0.2.10:9001
Address 192.0.2.10
OutboundBindAddress 192.0.2.10
DisableNetwork true
DataDirectory $T/data
LEVEL

levels=(--default "$T/default.torrc" --node "$T/node.torrc" --relay "$T/relay.torrc"
        --forced "$T/forced.torrc")
"$render" "${levels[@]}" >"$T/torrc" 2>"$T/render.log" || fail "torrc-render failed: $(cat "$T/render.log")"

cat >"$T/expected" <<EXPECTED
AccountingMax 1 TBytes
Address 192.0.2.10
ContactInfo email:ops[]example.org url:https://example.org ciissversion:2
DataDirectory $T/data
DisableNetwork 1
ExitPolicy accept *:6660-6697
ExitPolicy accept *:53
ExitPolicy accept *:80
ExitPolicy accept *:443
ExitPolicy reject *:*
ExitRelay 1
IPv6Exit 1
Log notice stdout
MyFamily \$0123456789ABCDEF0123456789ABCDEF01234567,\$89ABCDEF0123456789ABCDEF0123456789ABCDEF
Nickname Patela01
ORPort 192.0.2.10:9001
OutboundBindAddress 192.0.2.10
OutboundBindAddressExit 192.0.2.20
RelayBandwidthRate 10 MBytes
SocksPort 0
EXPECTED
diff -u "$T/expected" "$T/torrc" >"$T/render.diff" || fail "unexpected rendering: $(cat "$T/render.diff")"
pass "levels merge and render as expected"

"$render" --provenance "${levels[@]}" >"$T/provenance" || fail "torrc-render --provenance failed"
for want in $'default:6\tExitPolicy accept *:53' $'node:1\tExitPolicy accept *:6660-6697' \
            $'relay:2\tAccountingMax 1 TBytes' $'forced:1\tNickname Patela01'; do
        grep -qxF "$want" "$T/provenance" || fail "provenance lacks '$want': $(cat "$T/provenance")"
done
pass "each line names the level it came from"

tor --verify-config --defaults-torrc "$T/empty-defaults" -f "$T/torrc" >"$T/verify.log" 2>&1 ||
        fail "tor refuses the rendered torrc: $(grep -E '\[(warn|err)\]' "$T/verify.log" ||
                                                 tail -n 20 "$T/verify.log")"
grep -q "Configuration was valid" "$T/verify.log" || fail "tor did not say the configuration was valid"
pass "tor --verify-config accepts the rendered torrc"

# The cascade of a first-match policy as tor reads it (issue 12, item 4): the fleet's default ends with
# "reject *:*", a node allows port 22 and refuses 443. tor's own parser (--dump-config) must list the node's
# lines before the fleet's, and the catch-all last: none of them is dead.
printf 'ExitPolicy accept *:53\nExitPolicy accept *:443\nExitPolicy reject *:*\n' >"$T/fleet.torrc"
printf '+ExitPolicy accept *:22\n+ExitPolicy reject *:443\n' >"$T/node-policy.torrc"
"$render" --default "$T/fleet.torrc" --node "$T/node-policy.torrc" --forced "$T/forced.torrc" >"$T/policy.torrc" ||
        fail "torrc-render of the policy cascade failed"
tor --defaults-torrc "$T/empty-defaults" -f "$T/policy.torrc" --dump-config short 2>/dev/null |
        grep '^ExitPolicy ' >"$T/policy.tor" || fail "tor --dump-config printed no ExitPolicy"
printf 'ExitPolicy accept *:22\nExitPolicy reject *:443\nExitPolicy accept *:53\nExitPolicy accept *:443\nExitPolicy reject *:*\n' \
        >"$T/policy.expected"
diff -u "$T/policy.expected" "$T/policy.tor" >"$T/policy.diff" || fail "tor reads the cascade as: $(cat "$T/policy.diff")"
pass "ExitPolicy cascade: a node's accept *:22 and reject *:443 come before the fleet's lines and its reject *:* last, as tor --dump-config reads them"

# The check above can fail: tor refuses a policy that the library carries as an opaque value.
printf '+ExitPolicy accept bogus-address:80\n' >"$T/bad.torrc"
"$render" "${levels[@]}" --relay "$T/bad.torrc" >"$T/bad-rendered" ||
        fail "torrc-render failed on bad.torrc"
grep -qxF 'ExitPolicy accept bogus-address:80' "$T/bad-rendered" || fail "bad policy line not rendered"
if tor --verify-config --defaults-torrc "$T/empty-defaults" -f "$T/bad-rendered" \
        >"$T/verify-bad.log" 2>&1; then
        fail "tor accepted an exit policy with a bogus address"
fi
pass "tor --verify-config refuses a bad exit policy"
