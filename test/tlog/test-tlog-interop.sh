#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The transparency log's tree and notes against an implementation that is not ours: Go's
# golang.org/x/mod/sumdb/note and .../tlog (Debian's golang-golang-x-mod-dev, built here offline in GOPATH
# mode). Both sides compute every root and every inclusion and consistency proof of the logs of 1 … MAX
# synthetic entries: the two outputs must be identical, and each side verifies the other's proofs and
# refuses them mutated. Notes: each side opens the other's signed notes under the other's keys (keys made
# by either side), a checkpoint made by our C is verified by Go against its own tree, and a note with one
# byte changed is refused by both.
source "$PATELA_SOURCE_DIR/test/lib.sh"

TOOL=$PATELA_BUILD_DIR/test/tlog-tool
MAX=${PATELA_TLOG_INTEROP_MAX:-70}

export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$T/gocache GOTOOLCHAIN=local GOFLAGS= GOPROXY=off
(cd "$PATELA_SOURCE_DIR/test/tlog" && go build -o "$T/interop" interop.go) >"$T/go-build.log" 2>&1 ||
        fail "go build of interop.go: $(cat "$T/go-build.log")"
GO=$T/interop

# --- the tree ------------------------------------------------------------------------------------------
"$TOOL" proofs "$MAX" >"$T/c.txt" || fail "tlog-tool proofs"
"$GO" proofs "$MAX" >"$T/go.txt" || fail "interop proofs"
lines=$(wc -l <"$T/c.txt")
cmp -s "$T/c.txt" "$T/go.txt" || fail "roots or proofs differ: $(diff "$T/c.txt" "$T/go.txt" | head -5)"
pass "logs of 1…$MAX entries: the same $lines roots, inclusion and consistency proofs from our C and from Go's tlog"
out=$("$GO" check <"$T/c.txt") || fail "Go refused our proofs: $out"
pass "Go's tlog.CheckRecord/CheckTree: $out (ours)"
out=$("$TOOL" check <"$T/go.txt") || fail "our verifier refused Go's proofs: $out"
pass "our verifiers: $out (Go's)"

# --- notes and checkpoints -------------------------------------------------------------------------------
"$TOOL" keygen patela.test/log >"$T/c.keys" || fail "tlog-tool keygen"
"$GO" keygen go.test/witness >"$T/go.keys" || fail "interop keygen"
c_skey=$(sed -n 1p "$T/c.keys") c_vkey=$(sed -n 2p "$T/c.keys")
go_skey=$(sed -n 1p "$T/go.keys") go_vkey=$(sed -n 2p "$T/go.keys")
printf 'patela.test/fleet\n7\nsomething else\n' >"$T/text"

"$TOOL" sign "$c_skey" "$T/text" >"$T/c.note" || fail "tlog-tool sign"
"$GO" sign "$c_skey" "$T/text" >"$T/go-c.note" || fail "Go refused our signer key"
# Ed25519 is deterministic: the same key over the same text gives the same note on both sides.
cmp -s "$T/c.note" "$T/go-c.note" || fail "notes differ: $(cat "$T/c.note" "$T/go-c.note")"
[[ $("$GO" open "$c_vkey" "$T/c.note") == "$(cat "$T/text")" ]] || fail "Go did not open our note"
"$GO" sign "$go_skey" "$T/text" >"$T/go.note" || fail "interop sign"
[[ $("$TOOL" open "$go_vkey" "$T/go.note") == "$(cat "$T/text")" ]] || fail "we did not open Go's note"
"$TOOL" sign "$go_skey" "$T/text" >"$T/c-go.note" || fail "we refused Go's signer key"
cmp -s "$T/go.note" "$T/c-go.note" || fail "notes under Go's key differ"
"$TOOL" open "$c_vkey" "$T/go.note" >/dev/null 2>&1 && fail "Go's note opened under our key"
"$GO" open "$go_vkey" "$T/c.note" >/dev/null 2>&1 && fail "our note opened under Go's key"
pass "signed notes: keys of either side, byte-identical notes, each side opens the other's, not under another key"

# A cosigned note: Go adds its signature to ours; both still open it.
{ cat "$T/c.note"; sed -n '$p' "$T/go.note"; } >"$T/two.note"
"$TOOL" open "$c_vkey" "$T/two.note" >/dev/null || fail "we refused a note with a witness's cosignature"
"$GO" open "$go_vkey" "$T/two.note" >/dev/null || fail "Go refused the cosigned note"
pass "a note cosigned by the other side's key opens under either key"

# One byte changed, anywhere in the text: refused by both.
size=$(stat -c %s "$T/text")
for ((i = 0; i < size; i++)); do
        cp "$T/c.note" "$T/bad.note"
        printf 'X' | dd of="$T/bad.note" bs=1 seek="$i" conv=notrunc status=none
        cmp -s "$T/bad.note" "$T/c.note" && continue
        "$TOOL" open "$c_vkey" "$T/bad.note" >/dev/null 2>&1 && fail "we opened a note changed at byte $i"
        "$GO" open "$c_vkey" "$T/bad.note" >/dev/null 2>&1 && fail "Go opened a note changed at byte $i"
done
pass "a note changed at any byte of its text is refused by both sides"

for n in 1 5 64 65 $MAX; do
        "$TOOL" checkpoint "$c_skey" patela.test/fleet "$n" >"$T/cp.note" || fail "tlog-tool checkpoint $n"
        out=$("$GO" checkpoint "$c_vkey" "$T/cp.note" "$n") || fail "Go refused our checkpoint of $n: $out"
done
pass "our signed checkpoints verified by Go against its own tree: $out"
