#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The server authentication benchmark on both database backends, side by side (issue 15): run-bench.sh on SQLite,
# then on PostgreSQL (a cluster of its own on the same disk, PATELA_TEST_DB_BACKEND=postgresql), in one run with
# the same settings (every PATELA_BENCH_* variable applies to both), then one table of the two: kept-alive and
# fresh-connection rates, CPU per authentication (on PostgreSQL the server's and its database's processes), and
# each run's ratio to its own floor measured in the same run. PATELA_BENCH_BACKENDS ("sqlite postgresql") chooses.
set -euo pipefail
here=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
out=$(mktemp -d "${TMPDIR:-/tmp}/patela-bench-backends.XXXXXX")
trap 'rm -rf "$out"' EXIT
backends=${PATELA_BENCH_BACKENDS:-sqlite postgresql}

for b in $backends; do
        echo "# ==== backend $b ===="
        rc=0
        PATELA_TEST_DB_BACKEND=$b bash "$here/run-bench.sh" | tee "$out/$b.out" || rc=$?
        if ((rc == 77)); then
                echo "# backend $b skipped (not installed)"
                continue
        fi
        ((rc == 0)) || { echo "not ok - run-bench.sh on $b exited with $rc"; exit 1; }
        grep '^{"benchmark":"server-auth"' "$out/$b.out" | tail -1 >"$out/$b.json"
        [[ -s $out/$b.json ]] || { echo "not ok - no result line from run-bench.sh on $b"; exit 1; }
done

# One row per measure, one column per backend.
files=()
for b in $backends; do
        [[ -s $out/$b.json ]] && files+=("$out/$b.json")
done
((${#files[@]} > 0)) || { echo "1..0 # SKIP no backend ran"; exit 77; }
echo "#"
echo "# ==== side by side ($(nproc) CPUs; each ratio against the floor measured in its own run) ===="
jq -rs '
        def r1: . * 10 | round / 10;
        def r3: . * 1000 | round / 1000;
        def pad(w): tostring | . + " " * ([w - length, 0] | max);
        def fresh(x): "\(x.auth_per_s) auth/s, \((x.server_cpu_us_per_auth + x.db_cpu_us_per_auth) | r1) µs";
        [
          ["measure"] + map(.backend),
          ["kept-alive auth/s"] + map(.run.auth_per_s | tostring),
          ["  p99 ms"] + map(.run.p99_ms | tostring),
          ["  server CPU µs/auth"] + map(.run.server_cpu_us_per_auth | r1 | tostring),
          ["  database processes µs/auth"] + map(.run.db_cpu_us_per_auth | r1 | tostring),
          ["  floor µs/auth (same run)"] + map(.floor.us_per_auth | tostring),
          ["  ratio to the floor"] + map(.ratio | r3 | tostring),
          ["  floor share of server+db CPU"] + map(.floor_share_of_server_cpu | r3 | tostring),
          ["  server RSS max kB"] + map(.rss_kb.hwm | tostring),
          ["  credential in each challenge"] + map(fresh(.credential_each_time)),
          ["new connections: client threads"] + map(.fresh_threads | tostring),
          ["connection per request"] + map(fresh(.fresh)),
          ["  resumed"] + map(fresh(.fresh_resumed)),
          ["connection per auth"] + map(fresh(.per_auth)),
          ["  resumed"] + map(fresh(.per_auth_resumed)),
          ["  resumed, ratio to the floor"] + map(.per_auth_resumed.auth_per_s / .floor.auth_per_s_cores | r3 | tostring)
        ][] | "# " + (.[0] | pad(32)) + (.[1:] | map(pad(30)) | join(""))' "${files[@]}"
echo "ok - the server benchmark on: $backends"
