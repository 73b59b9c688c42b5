#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Failover (issue 15, item 2; docs/postgresql.md "Running it highly available"): a PostgreSQL primary with a
# synchronous streaming replica; two patela-servers and the admin CLI on the libpq multi-host URI with
# target_session_attrs=read-write. Nodes (swtpm + patela-attestd) authenticate and an admin toggles a node while
# the primary is lost: SIGKILL to all its processes, with a commit in flight (its WAL sender stopped first, so that
# it waits for the replica, the other writers behind it), then the replica promoted as an operator or an HA tool would. The servers carry on
# without a restart; every acknowledged enable, disable and verdict is on the new primary; a disabled node has
# no session; challenges issued before the failover behave after it as before. The time from the crash to the
# first authentication after the promotion is measured and printed.
#
# Acknowledged means: a 200 answer to an attestation (its verdict and session), an exit status 0 of the CLI. A
# request that meets the failover may fail (500, the node asks again) and then may or may not have committed.

# Not lib-server's own cluster: this test makes two.
unset PATELA_TEST_DB_BACKEND
source "$PATELA_SOURCE_DIR/test/integration/lib-server.sh"
source "$PATELA_SOURCE_DIR/test/lib-postgres.sh"
pg_available || { echo "1..0 # SKIP no PostgreSQL server installed"; exit 77; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# --- the clusters: a primary, a synchronous streaming replica ----------------------------------------------------
pg_start pga >/dev/null
pg_start_standby pgb pga
# Synchronous: a COMMIT returns once the replica has the WAL on disk (synchronous_commit = on, the default), so
# what a server acknowledged survives the primary's loss. Set now that the replica streams (before, a commit would
# wait for it).
pg_psql -c "ALTER SYSTEM SET synchronous_standby_names = 'pgb'" -c "SELECT pg_reload_conf()" >/dev/null
for ((i = 0; i < 100; i++)); do
        [[ $(pg_psql -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'pgb'") == sync ]] && break
        sleep 0.1
done
[[ $(pg_psql -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'pgb'") == sync ]] ||
        fail "the replica is not a synchronous standby"
DB="postgresql:///patela?host=$T/pga,$T/pgb&target_session_attrs=read-write"
pass "a primary and a synchronous streaming replica; the servers' database: $DB"

ca_setup
ps_cli pool add names relayOne relayTwo relayThree relayFour relayFive relaySix >/dev/null
# A short challenge lifetime: a node whose answers failed (500) holds open challenges until it ends, and a fifth is
# refused (429) in the meantime (docs/server.md, "Challenges and sessions").
server_start --challenge-lifetime=20s --enroll-rate=100000
S1=$URL
server_start --challenge-lifetime=20s --enroll-rate=100000
S2=$URL
SERVERS=("$S1" "$S2")

# --- nodes: each a swtpm, a patela-attestd and a directory of its own ----------------------------------------------
# lib-server's helpers keep their files in $T: a node's run in a subshell with T set to its directory (where a
# link finds the CA) and ATTESTD_SOCK to its attestd.
node_start() {
        local name=$1
        swtpm_start "tpm_$name"
        mkdir -p "$T/$name"
        ln -s ../ca "$T/$name/ca"
        systemd-socket-activate --listen="$T/$name/attest.sock" --fdname=varlink -E PATELA_TPM2_TCTI="$TCTI" \
                -E PATELA_LOG_LEVEL=info "$PATELA_BUILD_DIR/src/attestd/patela-attestd" --idle-timeout=0 \
                >>"$T/attestd-$name.log" 2>&1 &
        PIDS+=("$!")
        wait_for_socket "$T/$name/attest.sock"
}

on() {
        local name=$1
        shift
        (
                T=$T/$name
                ATTESTD_SOCK=$T/attest.sock
                "$@"
        )
}

# node_enrol NAME: a new identity proved at server 1, enabled by the CLI; prints the fingerprint.
node_enrol_() {
        URL=$S1
        node_identity
        node_prove
        [[ $HTTP_STATUS == 202 ]] || fail "the proof: HTTP $HTTP_STATUS $(cat "$T/http.body")"
        jq -r .fingerprint "$T/prove.json"
}
node_enrol() {
        local fp
        fp=$(on "$1" node_enrol_)
        ps_cli node enable "$fp" >/dev/null 2>&1 || fail "node enable $fp failed"
        echo "$fp"
}

# try_http URL METHOD PATH [BODY] [HEADER]: as lib-server's http, but a transport failure is HTTP_STATUS 000.
try_http() {
        local url=$1 method=$2 path=$3 body=${4:-} header=${5:-}
        local args=(-sS --max-time 60 --cacert "$T/ca/ca.crt" --tlsv1.3 -X "$method" -o "$T/http.body" -w '%{http_code}')
        [[ -n $body ]] && args+=(--data-binary "@$body" -H 'Content-Type: application/json')
        [[ -n $header ]] && args+=(-H "$header")
        HTTP_STATUS=$(curl "${args[@]}" "$url$path" 2>>"$T/curl.log") || HTTP_STATUS=000
}

# journal NODE WHAT OUTCOME [DETAIL…]: one line of what a loop saw, with the time it saw it.
journal() {
        echo "$(now) $*" >>"$JOURNAL"
}

# attempt_auth NODE CHALLENGE_URL ANSWER_URL: one authentication, challenge at one server, answer at the other.
# Journals an attestation's outcome: ack (with its token, the verdict and the quote's SHA-256), refused (4xx with
# its code: nothing committed) or unknown (5xx or no answer: committed or not). A failed challenge request journals
# "challenge failed" (it writes nothing). Returns 0 when an attestation was sent.
attempt_auth() {
        local node=$1 quote
        try_http "$2" POST /v1/enroll "$T/enroll.json"
        if [[ $HTTP_STATUS != 200 ]]; then
                journal "$node" challenge failed "$HTTP_STATUS"
                # 429: four challenges of this node open at that server (an answer that failed frees its place only
                # at the server that answered it, here the other one; at this one it stays until ChallengeLifetime=
                # ends it): ask again later, as configd would.
                [[ $HTTP_STATUS != 429 ]] || sleep 0.5
                return 1
        fi
        cp "$T/http.body" "$T/challenge.json"
        node_answer
        quote=$(jq -r .quoted "$T/attest.json" | base64 -d | sha256sum | cut -d' ' -f1)
        try_http "$3" POST /v1/attest "$T/attest.json"
        case $HTTP_STATUS in
        200) journal "$node" attest ack "$(jq -r .token "$T/http.body")" "$(jq -r .verdict "$T/http.body")" "$quote" ;;
        4??) journal "$node" attest refused "$HTTP_STATUS" "$(jq -r .error "$T/http.body" 2>/dev/null)" ;;
        *) journal "$node" attest unknown "$HTTP_STATUS" ;;
        esac
        return 0
}

# auth_loop NODE: authenticates until $STOP exists, alternating the servers.
auth_loop() {
        local node=$1 i=0
        while [[ ! -e $STOP ]]; do
                attempt_auth "$node" "${SERVERS[i % 2]}" "${SERVERS[(i + 1) % 2]}" || sleep 0.05
                i=$((i + 1))
        done
}

# admin_loop NODE FP: enable (CLI), authenticate, disable (CLI), again, until $STOP exists.
admin_cli() {
        local node=$1 verb=$2 fp=$3
        if "$SERVER_BIN" --database="$DB" node "$verb" "$fp" >>"$T/cli.log" 2>&1; then
                journal "$node" "$verb" ack
        else
                journal "$node" "$verb" unknown
                return 1
        fi
}
admin_loop() {
        local node=$1 fp=$2 i=0
        while [[ ! -e $STOP ]]; do
                until admin_cli "$node" enable "$fp" || [[ -e $STOP ]]; do sleep 0.05; done
                # 403 at the challenge: the enable (of unknown outcome) did not commit; on to the disable.
                until attempt_auth "$node" "${SERVERS[i % 2]}" "${SERVERS[(i + 1) % 2]}" || [[ -e $STOP ]] ||
                        [[ $HTTP_STATUS == 403 ]]; do
                        sleep 0.05
                done
                until admin_cli "$node" disable "$fp" || [[ -e $STOP ]]; do sleep 0.05; done
                i=$((i + 1))
        done
}

for n in loop1 loop2 admin static disabled; do
        node_start "$n"
done
FP_LOOP1=$(node_enrol loop1)
FP_LOOP2=$(node_enrol loop2)
FP_ADMIN=$(node_enrol admin)
FP_STATIC=$(node_enrol static)
FP_DISABLED=$(node_enrol disabled)
pass "five nodes enrolled through the multi-host URI"

# --- before the failover: what must hold after it -------------------------------------------------------------------
# static: a session and the answer it came from (to be replayed after the failover); just before the crash, an
# open challenge answered but not sent yet (it is sent after the crash, until it is taken).
static_prepare() {
        URL=$S1 node_session
        cp "$T/attest.json" "$T/attest-taken.json"
        echo "$TOKEN" >"$T/token"
}
static_challenge() {
        URL=$S2 node_challenge
        node_answer
}
disabled_prepare() {
        URL=$S2 node_session
        echo "$TOKEN" >"$T/token"
        URL=$S1 node_challenge
        node_answer
}
on static static_prepare
on disabled disabled_prepare
ps_cli node disable "$FP_DISABLED" >/dev/null
pass "before the failover: a session of one node; another node with a session and an open challenge, then disabled"

STOP=$T/stop
for n in loop1 loop2 admin; do
        : >"$T/journal-$n"
done
(
        JOURNAL=$T/journal-loop1
        SERVERS=("$S1" "$S2")
        on loop1 auth_loop loop1
) &
LOOPS=($!)
(
        JOURNAL=$T/journal-loop2
        SERVERS=("$S2" "$S1")
        on loop2 auth_loop loop2
) &
LOOPS+=($!)
(
        JOURNAL=$T/journal-admin
        SERVERS=("$S1" "$S2")
        on admin admin_loop admin "$FP_ADMIN"
) &
LOOPS+=($!)
PIDS+=("${LOOPS[@]}")

acks() { awk '$4 == "ack"' "$T/journal-$1" | wc -l; }
acks_after() { awk -v t="$2" '$1 > t && $4 == "ack"' "$T/journal-$1" | wc -l; }
for ((i = 0; i < 600; i++)); do
        (($(acks loop1) >= 3 && $(acks loop2) >= 3 && $(acks admin) >= 4)) && break
        sleep 0.1
done
(($(acks loop1) >= 3 && $(acks loop2) >= 3 && $(acks admin) >= 4)) || fail "the loops did not get going: $(cat "$T"/journal-*)"

# --- the primary lost with commits in flight ----------------------------------------------------------------------
on static static_challenge
# Its WAL sender stopped: the next commits (the loops') wait for the replica, unacknowledged. Then SIGKILL to the
# whole cluster.
walsender=$(pg_psql -c "SELECT pid FROM pg_stat_replication WHERE application_name = 'pgb'")
kill -STOP "$walsender"
# One writer at a time (the writers' lock, docs/postgresql.md): one commit waits for the replica, the other writers
# for the lock behind it.
waiting=0
for ((i = 0; i < 100; i++)); do
        waiting=$(pg_psql -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
        ((waiting >= 1)) && break
        sleep 0.05
done
((waiting >= 1)) || fail "no commit waits for the replica"
sleep 0.3
behind=$(pg_psql -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
t_crash=$(now)
pg_crash pga
pass "the primary killed (SIGKILL, $(elapsed "$t_crash" "$(now)") s) with $waiting commit waiting for the replica," \
        "$behind writers behind it"

# The static node's answer, sent to server 1 every 50 ms from the crash on: refused with a server error until the
# servers are on the new primary, then taken (200), once.
probe() {
        local s
        for ((i = 0; i < 1200; i++)); do
                try_http "$S1" POST /v1/attest "$T/static/attest.json"
                s=$HTTP_STATUS
                if [[ $s == 200 ]]; then
                        echo "$(now) $i $(jq -r .token "$T/http.body")" >"$T/probe.result"
                        return 0
                fi
                [[ $s == 500 || $s == 503 ]] || { echo "$(now) $i $s $(cat "$T/http.body")" >"$T/probe.result"; return 0; }
                sleep 0.05
        done
        echo "$(now) $i timeout" >"$T/probe.result"
}
probe &
PROBE=$!

# The operator (or an HA tool) notices and promotes the replica: here after one second, in which the servers meet
# the lost primary.
sleep 1
t_promote=$(now)
pg_promote pgb
t_promoted=$(now)
[[ $(psql -X -At -d "$DB" -c "SELECT pg_is_in_recovery()") == f ]] || fail "the multi-host URI finds no primary"
wait "$PROBE"
read -r t_auth probe_tries probe_status probe_rest <"$T/probe.result"
[[ $probe_status != timeout ]] || fail "no authentication within 60 s of the crash"
[[ ${#probe_status} -gt 3 ]] ||
        fail "the answer of a challenge issued before the failover: HTTP $probe_status $probe_rest, expected 500 then 200"
STATIC_TOKEN=$probe_status
echo "# crash → promotion started $(elapsed "$t_crash" "$t_promote") s;" \
        "promotion (pg_ctl promote -w) $(elapsed "$t_promote" "$t_promoted") s"
echo "# crash → first authentication accepted $(elapsed "$t_crash" "$t_auth") s" \
        "(promotion done → it: $(elapsed "$t_promoted" "$t_auth") s; $probe_tries answers refused before it)"
pass "a challenge issued before the failover, answered after it: refused while there is no primary, then accepted"

# The loops carry on: each gets acknowledgements after the promotion, within a bound.
for ((i = 0; i < 600; i++)); do
        (($(acks_after loop1 "$t_promoted") >= 2 && $(acks_after loop2 "$t_promoted") >= 2 &&
                $(acks_after admin "$t_promoted") >= 3)) && break
        sleep 0.1
done
for n in loop1 loop2 admin; do
        first=$(awk -v t="$t_crash" '$1 > t && $3 == "attest" && $4 == "ack" { print $1; exit }' "$T/journal-$n")
        [[ -n $first ]] || fail "$n: no authentication after the failover: $(tail -5 "$T/journal-$n")"
        (($(acks_after "$n" "$t_promoted") >= 2)) || fail "$n: too few acknowledgements after the failover"
        failed=$(awk -v t="$t_crash" -v f="$first" '$1 > t && $1 < f && $4 != "ack"' "$T/journal-$n" | wc -l)
        echo "# $n: crash → first authentication $(elapsed "$t_crash" "$first") s; $failed requests failed in between"
done
touch "$STOP"
for p in "${LOOPS[@]}"; do
        wait "$p" || fail "a loop failed"
done
pass "both servers carry on on the new primary, without a restart (the times above)"

# No refusal that the database's loss could have caused: a node refused for good (403 NodeDisabled, 401…) stops its
# relays. The loops' nodes are enabled throughout; the admin's node only after an enable of unknown outcome.
for n in loop1 loop2; do
        bad=$(awk '($3 == "attest" && $4 == "refused") || ($3 == "challenge" && $5 !~ /^(429|500|503|000)$/)' \
                "$T/journal-$n")
        [[ -z $bad ]] || fail "$n: refused while enabled: $bad"
done
bad=$(awk '$3 == "enable" { e = $4 }
          ($3 == "attest" && $4 == "refused" && !(e == "unknown" && $6 == "NodeDisabled")) ||
          ($3 == "challenge" && $5 !~ /^(429|500|503|000)$/ && !(e == "unknown" && $5 == "403"))' "$T/journal-admin")
[[ -z $bad ]] || fail "admin: refused after an acknowledged enable: $bad"
pass "no request refused for good across the failover (only 500s and 429s while there was no primary)"

# --- nothing acknowledged lost --------------------------------------------------------------------------------------
db_query "SELECT replace(convert_from(entry, 'UTF8'), E'\n', ' ') FROM tlog_entries" >"$T/tlog.txt"
verdicts=0
for n in loop1 loop2 admin; do
        while read -r _ _ what outcome token verdict quote; do
                [[ $what == attest && $outcome == ack ]] || continue
                grep -F "quote-sha256 $quote" "$T/tlog.txt" | grep -qF "verdict $verdict" ||
                        fail "$n: the acknowledged verdict $verdict of quote $quote is not in the log"
                verdicts=$((verdicts + 1))
        done <"$T/journal-$n"
done
for n in loop1 loop2 admin; do
        fp_var=FP_${n^^}
        accepted=$(db_query "SELECT count(*) FROM attestations WHERE fingerprint = '${!fp_var}' AND verdict = 'accepted'")
        ((accepted >= $(grep -c " attest ack" "$T/journal-$n"))) ||
                fail "$n: $accepted accepted attestations logged, fewer than acknowledged"
done
pass "each of the $verdicts acknowledged verdicts is in the transparency log (by its quote) and the attestation log"

# A node's newest acknowledged session works, unless an attestation of unknown outcome came after it.
for n in loop1 loop2; do
        last=$(awk '$3 == "attest" && ($4 == "ack" || $4 == "unknown") { l = $4 " " $5 } END { print l }' "$T/journal-$n")
        [[ $last == ack* ]] || continue
        for u in "$S1" "$S2"; do
                URL=$u http GET /v1/node/check "" "Authorization: Bearer ${last#ack }" >/dev/null
                [[ $HTTP_STATUS == 200 ]] || fail "$n: its last acknowledged session at $u: HTTP $HTTP_STATUS"
        done
done
pass "the newest acknowledged session of each authenticating node works at both servers"

# The admin's node: its state is its last acknowledged change's, unless a change of unknown outcome came after;
# every acknowledged enable and disable is a log entry.
state=$(db_query "SELECT state FROM nodes WHERE fingerprint = '$FP_ADMIN'")
last=$(awk '($3 == "enable" || $3 == "disable") { l = $3 " " $4 } END { print l }' "$T/journal-admin")
case $last in
"enable ack") [[ $state == enabled ]] || fail "admin: acknowledged enable lost (state $state)" ;;
"disable ack") [[ $state == disabled ]] || fail "admin: acknowledged disable lost (state $state)" ;;
esac
for verb in enable disable; do
        acked=$(grep -c " $verb ack" "$T/journal-admin")
        logged=$(grep -F "node $FP_ADMIN" "$T/tlog.txt" | grep -c "kind node-${verb}d" || true)
        ((logged >= acked)) || fail "admin: $acked acknowledged ${verb}s, $logged in the transparency log"
done
[[ $(db_query "SELECT count(*) FROM sessions s JOIN nodes n ON n.id = s.node_id WHERE n.state <> 'enabled'") == 0 ]] ||
        fail "a node that is not enabled has a session"
pass "the admin's $(grep -c " enable ack" "$T/journal-admin") enables and $(grep -c " disable ack" "$T/journal-admin")" \
        "disables: all logged, the node $state as last acknowledged; no node that is not enabled has a session"

# --- challenges and sessions from before the failover -------------------------------------------------------------
for u in "$S1" "$S2"; do
        URL=$u http POST /v1/attest "$T/static/attest.json" >/dev/null; expect_error 403 ChallengeUnknown
        URL=$u http POST /v1/attest "$T/static/attest-taken.json" >/dev/null; expect_error 403 ChallengeUnknown
        URL=$u http GET /v1/node/check "" "Authorization: Bearer $(cat "$T/static/token")" >/dev/null
        expect_error 401 TokenRejected
        URL=$u http GET /v1/node/check "" "Authorization: Bearer $STATIC_TOKEN" >/dev/null
        [[ $HTTP_STATUS == 200 ]] || fail "the session of the answer taken after the failover at $u: HTTP $HTTP_STATUS"
done
pass "after the failover: the pre-failover challenge taken once, the one answered before it not again;" \
        "the new session replaced the old"

[[ $(db_query "SELECT state FROM nodes WHERE fingerprint = '$FP_DISABLED'") == disabled ]] || fail "the disable was lost"
[[ $(db_query "SELECT count(*) FROM sessions s JOIN nodes n ON n.id = s.node_id WHERE n.fingerprint = '$FP_DISABLED'") == 0 ]] ||
        fail "the disabled node has a session"
for u in "$S1" "$S2"; do
        URL=$u http GET /v1/node/check "" "Authorization: Bearer $(cat "$T/disabled/token")" >/dev/null
        expect_error 401 TokenRejected
        URL=$u http POST /v1/attest "$T/disabled/attest.json" >/dev/null; expect_error 403 ChallengeUnknown
        URL=$u http POST /v1/enroll "$T/disabled/enroll.json" >/dev/null; expect_error 403 NodeDisabled
done
pass "the node disabled before the failover: disabled, no session, its token and its open challenge refused at both servers"

# --- why synchronous: the same failover with asynchronous replication loses what was acknowledged ------------------
# A new replica of the new primary, at the lost primary's address (as a rebuilt machine would take it: the servers'
# URI does not change), asynchronous (pgb has no synchronous_standby_names). Its WAL sender stopped, a disable and an
# authentication are acknowledged at once, then the primary is lost and the replica promoted: both are gone, and
# what the checks above look at shows it. This is what synchronous_standby_names prevents.
pg_start_standby pgc pgb "$T/pga"
for ((i = 0; i < 100; i++)); do
        [[ $(db_query "SELECT state FROM pg_stat_replication WHERE application_name = 'pgc'") == streaming ]] && break
        sleep 0.1
done
[[ $(db_query "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'pgc'") == async ]] ||
        fail "the second replica does not stream asynchronously"
walsender=$(db_query "SELECT pid FROM pg_stat_replication WHERE application_name = 'pgc'")
kill -STOP "$walsender"
ps_cli node disable "$FP_LOOP1" >/dev/null 2>&1 || fail "the disable was not acknowledged"
async_ack() {
        URL=$S1 node_session
        cp "$T/attest.json" "$T/attest-async.json"
        echo "$TOKEN" >"$T/token-async"
}
on static async_ack
t_crash=$(now)
pg_crash pgb
t_promote=$(now)
pg_promote pgc
t_promoted=$(now)
[[ $(psql -X -At -d "$DB" -c "SELECT pg_is_in_recovery()") == f ]] || fail "the multi-host URI finds no primary"
# Both servers were idle from the crash to the promotion: the first request each gets finds its connection gone,
# and its first read (a SELECT outside a transaction) runs again at once on a new connection.
[[ $(db_query "SELECT state FROM nodes WHERE fingerprint = '$FP_LOOP1'") == enabled ]] ||
        fail "asynchronous replication kept the disable: this part shows nothing"
URL=$S1 http GET /v1/node/check "" "Authorization: Bearer $(cat "$T/static/token-async")" >/dev/null
expect_error 401 TokenRejected
quote=$(jq -r .quoted "$T/static/attest-async.json" | base64 -d | sha256sum | cut -d' ' -f1)
[[ -z $(db_query "SELECT idx FROM tlog_entries WHERE position(convert_to('$quote', 'UTF8') IN entry) > 0") ]] ||
        fail "asynchronous replication kept the verdict"
URL=$S2 http POST /v1/attest "$T/static/attest-async.json" >/dev/null
[[ $HTTP_STATUS == 200 ]] || fail "the answer taken before the asynchronous failover: HTTP $HTTP_STATUS $(cat "$T/http.body")"
echo "# second failover (to the first primary's address): SIGKILL $(elapsed "$t_crash" "$t_promote") s," \
        "promotion $(elapsed "$t_promote" "$t_promoted") s" \
        "→ both servers answered $(elapsed "$t_promoted" "$(now)") s"
pass "a server idle across a failover answers its first request from the new primary"
pass "with asynchronous replication an acknowledged disable, verdict and session are lost and a taken challenge is" \
        "taken again: the checks above would fail"
