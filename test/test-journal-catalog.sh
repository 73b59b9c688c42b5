#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The journal catalogs (catalog/patela-server.catalog and patela-node.catalog, one per package) against the events
# the code logs (src/shared/log-event.c): every MESSAGE_ID has exactly one entry and every entry an event;
# journalctl compiles them (--update-catalog into a scratch root) and shows each entry's text.
source "$PATELA_SOURCE_DIR/test/lib.sh"
catalogs=("$PATELA_SOURCE_DIR"/catalog/patela-server.catalog "$PATELA_SOURCE_DIR"/catalog/patela-node.catalog)

grep -o '{ "[0-9a-f]\{32\}", "[a-z-]*" }' "$PATELA_SOURCE_DIR/src/shared/log-event.c" | cut -d'"' -f2 | sort >"$T/code"
sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "${catalogs[@]}" | sort >"$T/catalog"
[[ $(wc -l <"$T/code") -ge 10 ]] || fail "no MESSAGE_IDs found in log-event.c"
[[ -z $(uniq -d "$T/code") && -z $(uniq -d "$T/catalog") ]] || fail "a MESSAGE_ID twice"
diff "$T/code" "$T/catalog" >"$T/diff" || fail "catalog and code disagree: $(cat "$T/diff")"
pass "$(wc -l <"$T/code") MESSAGE_IDs, each with one catalog entry"

mkdir -p "$T/root/usr/lib/systemd/catalog"
cp "${catalogs[@]}" "$T/root/usr/lib/systemd/catalog/"
journalctl --root="$T/root" --update-catalog 2>"$T/update.log" || fail "journalctl --update-catalog: $(cat "$T/update.log")"
! grep -qi "error\|failed\|invalid" "$T/update.log" || fail "journalctl --update-catalog: $(cat "$T/update.log")"
journalctl --root="$T/root" --list-catalog >"$T/list"
for id in $(cat "$T/code"); do
        grep -q "^$id " "$T/list" || fail "$id not in journalctl --list-catalog: $(cat "$T/list")"
done
journalctl --root="$T/root" --dump-catalog 6d3db5476185492bbe9f9acc36544810 >"$T/dump"
grep -q "patela-server node enable @PATELA_NODE@" "$T/dump" || fail "the entry's text: $(cat "$T/dump")"
pass "journalctl compiles the catalog and lists every entry"
