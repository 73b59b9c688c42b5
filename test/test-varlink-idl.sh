#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# IDL round trip: the interface as compiled in is valid varlink IDL for varlinkctl (the independent
# parser), every method, type, error and field carries a comment, and re-formatting the parsed IDL gives
# the same text.
source "$PATELA_SOURCE_DIR/test/lib.sh"

for iface in io.patela.Attest io.patela.Config io.patela.Keys; do
        "$PATELA_BUILD_DIR/src/varlink/varlink-idl-dump" "$iface" >"$T/$iface.varlink"
        varlinkctl validate-idl "$T/$iface.varlink" >"$T/$iface.validated" 2>&1 ||
                fail "varlinkctl rejects $iface: $(cat "$T/$iface.validated")"
        # validate-idl prints the interface it parsed: it must be what we wrote.
        diff -u <(grep -v '^$' "$T/$iface.varlink") <(grep -v '^$' "$T/$iface.validated" | sed 's/\x1b\[[0-9;]*m//g') \
                >"$T/$iface.diff" || fail "$iface changes in a parse/format round trip: $(head -20 "$T/$iface.diff")"

        # Each declaration (method, type, error, field) is preceded by a comment line.
        awk '
                /^[[:space:]]*#/ { commented = 1; next }
                /^(method|type|error) / || /^[[:space:]]+[a-zA-Z]+[?]?: / {
                        if (!commented) { print "uncommented: " $0; bad = 1 }
                        commented = 0; next
                }
                { commented = 0 }
                END { exit bad }
        ' "$T/$iface.varlink" >"$T/$iface.uncommented" || fail "$iface: $(cat "$T/$iface.uncommented")"
        pass "$iface: valid IDL, stable round trip, every declaration commented"
done
