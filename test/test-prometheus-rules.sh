#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The alert rules shipped in prometheus/: promtool checks them, and their unit tests (patela.rules.test.yml: series
# that fire each alert and series that do not) pass. And a rule that is wrong fails them: a test that cannot fail
# proves nothing.
source "$PATELA_SOURCE_DIR/test/lib.sh"
dir=$PATELA_SOURCE_DIR/prometheus

promtool check rules "$dir/patela.rules.yml" >/dev/null || fail "promtool check rules: $(promtool check rules "$dir/patela.rules.yml" 2>&1)"
(cd "$dir" && promtool test rules patela.rules.test.yml) >"$T/test.log" 2>&1 || fail "promtool test rules: $(cat "$T/test.log")"
pass "promtool check rules and test rules: every alert fires on its series and stays quiet on the others"

# 14 days → 7 days in a copy: the certificate that expires in 10 days no longer fires, and the test says so.
cp "$dir/patela.rules.test.yml" "$T/"
sed 's/< 14 \* 86400/< 7 * 86400/' "$dir/patela.rules.yml" >"$T/patela.rules.yml"
! (cd "$T" && promtool test rules patela.rules.test.yml) >"$T/mutant.log" 2>&1 || fail "a changed rule still passes its tests"
grep -q PatelaCertificateExpiresSoon "$T/mutant.log" || fail "the mutant failed elsewhere: $(cat "$T/mutant.log")"
pass "a weakened rule fails its tests"
