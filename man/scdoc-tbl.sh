#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# scdoc, with the preprocessor line man(1) reads to run tbl(1) first when the page has a table: scdoc 1.11
# writes tables (.TS/.TE) but not the line, so man rendered them as raw macros (lintian: groff-message).
# stdin: the .scd source; stdout: the page.
set -e
out=$(scdoc)
case $out in
*"
.TS"*) printf '%s\n' "'\\\" t" ;;
esac
printf '%s\n' "$out"
