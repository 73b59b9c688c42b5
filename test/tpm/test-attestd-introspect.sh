#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# varlinkctl, the independent client, sees the interface with its comments.
source "$PATELA_SOURCE_DIR/test/lib.sh"

swtpm_start
attestd_start

out=$(varlinkctl introspect "$ATTESTD_SOCK" io.patela.Attest)
printf '%s\n' "$out" >"$T/introspect.txt"
for sym in "interface io.patela.Attest" "method GetIdentity" "method ActivateCredential" "method Quote" \
           "method GetEventLogs" "error TpmUnavailable" "error TpmFailure" "error CredentialRejected" \
           "error PcrBankUnavailable" "error EventLogUnreadable" "type PcrValue"; do
        grep -qF "$sym" <<<"$out" || fail "introspection lacks '$sym'"
done
# Every field and symbol carries a comment: count comment lines against declarations.
comments=$(grep -cE '^\s*#' <<<"$out")
fields=$(grep -cE '^\s+[a-zA-Z]+: ' <<<"$out" || true)
symbols=$(grep -cE '^(method|error|type) ' <<<"$out")
[[ $comments -ge $((fields + symbols)) ]] || fail "only $comments comments for $fields fields and $symbols symbols"
pass "introspect shows $symbols symbols and $fields fields with $comments comments"

info=$(varlinkctl info "$ATTESTD_SOCK")
grep -q "io.patela.Attest" <<<"$info" || fail "info does not list io.patela.Attest"
pass "info lists the interface"

# Root only: another uid is refused before any method runs.
if command -v setpriv >/dev/null; then
        chmod 0755 "$T"
        if setpriv --reuid=65534 --regid=65534 --clear-groups varlinkctl call "$ATTESTD_SOCK" \
                io.patela.Attest.GetIdentity '{}' >"$T/nobody.out" 2>&1; then
                fail "GetIdentity succeeded for uid 65534"
        fi
        pass "non-root client refused"
fi
attestd_alive || fail "attestd died"
