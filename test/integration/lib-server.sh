# SPDX-License-Identifier: LGPL-2.1-or-later
# patela-server for integration tests: a private CA, a database and a server on 127.0.0.1 in $T, and a node
# made of swtpm + patela-attestd, driven with varlinkctl, curl and jq.
source "$PATELA_SOURCE_DIR/test/lib.sh"

SERVER_BIN=$PATELA_BUILD_DIR/src/server/patela-server
DB=$T/server.db
# PATELA_TEST_DB_BACKEND=postgresql: the server's database in a PostgreSQL cluster of the test's own
# (test/lib-postgres.sh); DB is then its URI, which --database= and Database= take as they take a file.
if [[ ${PATELA_TEST_DB_BACKEND:-sqlite} == postgresql ]]; then
        source "$PATELA_SOURCE_DIR/test/lib-postgres.sh"
        pg_available || { echo "1..0 # SKIP no PostgreSQL server installed"; exit 77; }
        pg_start >/dev/null
        DB=$PG_URI
fi

# db_query SQL: one query on the test's database (either backend), rows as lines, columns separated by |.
db_query() {
        db_query_at "$DB" "$1"
}

# db_query_at DATABASE SQL: the same on another database of the test's backend (a db_copy).
db_query_at() {
        if [[ $1 == postgresql://* ]]; then
                psql -X -q -v ON_ERROR_STOP=1 -A -t -d "$1" -c "$2"
        else
                sqlite3 "$1" "$2"
        fi
}

db_is_postgresql() {
        [[ $DB == postgresql://* ]]
}

# db_hex COLUMN [text]: SQL for a blob column's bytes (a text column's UTF-8 bytes) as lower-case hex, in the
# backend's dialect.
db_hex() {
        if db_is_postgresql && [[ ${2:-} == text ]]; then
                echo "encode(convert_to($1, 'UTF8'), 'hex')"
        elif db_is_postgresql; then
                echo "encode($1, 'hex')"
        else
                echo "lower(hex($1))"
        fi
}

# db_refuses SQL: the database refuses the statement as a constraint (a CHECK, a foreign key, a unique index, a
# trigger's refusal): sqlite3 exits with SQLITE_CONSTRAINT (19), psql reports an SQLSTATE of class 23. Any other
# failure (a spelling this backend does not know, a missing table) fails the test: it would pass for the wrong
# reason.
db_refuses() {
        local rc=0
        if db_is_postgresql; then
                psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -A -t -d "$DB" -c "$1" >"$T/db-refuses.out" 2>&1 || rc=$?
                [[ $rc != 0 ]] || fail "the database accepted: $1"
                grep -Eq "^ERROR: +23[0-9A-Z]{3}:" "$T/db-refuses.out" ||
                        fail "refused, but not as a constraint: $1: $(cat "$T/db-refuses.out")"
        else
                sqlite3 "$DB" "$1" >"$T/db-refuses.out" 2>&1 || rc=$?
                [[ $rc != 0 ]] || fail "the database accepted: $1"
                [[ $rc == 19 ]] || fail "refused, but not as a constraint (exit $rc): $1: $(cat "$T/db-refuses.out")"
        fi
}

# db_copy NAME: a copy of the test's database to tamper with, its --database= value on stdout. The server must
# be stopped first (PostgreSQL copies a database only while nobody is connected to it).
db_copy() {
        if db_is_postgresql; then
                "$PG_BIN/createdb" -h "$PG_DIR" -T patela "$1" || fail "createdb -T patela $1 failed"
                echo "postgresql:///$1?host=$PG_DIR"
        else
                rm -f "$T/$1.db"
                sqlite3 "$DB" ".backup '$T/$1.db'" || fail "sqlite3 .backup failed"
                echo "$T/$1.db"
        fi
}

# db_tamper DATABASE TABLE SQL: SQL run on DATABASE (a db_copy) as its owner can, past TABLE's triggers: on
# SQLite they are dropped first; on PostgreSQL the session runs as a replica (session_replication_role, which
# the cluster's superuser, the test's user, may set), which fires no ordinary trigger.
db_tamper() {
        local triggers
        if [[ $1 == postgresql://* ]]; then
                psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "SET session_replication_role = replica" -c "$3" >/dev/null ||
                        fail "tampering with $2 failed"
        else
                triggers=$(sqlite3 "$1" "SELECT group_concat('DROP TRIGGER ' || name, '; ') FROM sqlite_schema
                                         WHERE type = 'trigger' AND tbl_name = '$2'")
                sqlite3 "$1" "$triggers; $3" || fail "tampering with $2 failed"
        fi
}

# ps ARGS…: the admin CLI on the test database.
ps_cli() {
        "$SERVER_BIN" --database="$DB" "$@"
}

ca_setup() {
        [[ -f $T/ca/ca.crt ]] && return 0
        mkdir -p "$T/ca"
        ps_cli ca init --dir "$T/ca" >/dev/null 2>&1
        ps_cli ca issue server --dir "$T/ca" --san IP:127.0.0.1 --san DNS:localhost >/dev/null 2>&1
}

# server_start [OPTIONS…]: starts patela-server on a free loopback port; sets URL.
# server_start [OPTION...]: on a random port, or on SERVER_PORT if set (a restart that its clients must find again).
server_start() {
        local port i
        ca_setup
        for ((i = 0; i < 20; i++)); do
                port=${SERVER_PORT:-$(random_port)}
                : >"$T/server.log"
                "$SERVER_BIN" --database="$DB" --listen="127.0.0.1:$port" --certificate="$T/ca/server.crt" \
                        --private-key="$T/ca/server.key" "$@" run >>"$T/server.log" 2>&1 &
                SERVER_PID=$!
                PIDS+=("$SERVER_PID")
                while kill -0 "$SERVER_PID" 2>/dev/null && ! grep -q "Listening on" "$T/server.log"; do
                        sleep 0.05
                done
                if kill -0 "$SERVER_PID" 2>/dev/null; then
                        URL=https://127.0.0.1:$port
                        return 0
                fi
        done
        fail "patela-server did not start: $(tail -5 "$T/server.log")"
}

server_stop() {
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" || fail "patela-server exited with an error: $(tail -5 "$T/server.log")"
}

# fleet_setup [TORRC_LINE…]: the fleet of the configd and node tests: relays exitA, exitB and exitC with
# addresses from TEST-NET-1 and 2001:db8::/32 (/64 on the uplink), an exit policy for 443, and these lines
# in the default torrc. FLEET_NAMES, FLEET_IPV4 and FLEET_IPV6 (space-separated) replace the pools.
fleet_setup() {
        ca_setup
        # shellcheck disable=SC2086 # lists of words
        ps_cli pool add names ${FLEET_NAMES:-exitA exitB exitC} >/dev/null
        # shellcheck disable=SC2086
        ps_cli pool add ipv4 ${FLEET_IPV4:-192.0.2.10 192.0.2.11 192.0.2.12} >/dev/null
        # shellcheck disable=SC2086
        ps_cli pool add ipv6 ${FLEET_IPV6:-2001:db8::10 2001:db8::11 2001:db8::12} >/dev/null
        printf '%s\n' "ContactInfo operator@example.org" "ExitRelay 1" "ExitPolicy accept *:443" \
                "ExitPolicy reject *:*" "$@" >"$T/default.torrc"
        ps_cli torrc import "$T/default.torrc" default >/dev/null
        ps_cli node set IPv6PrefixLength 64 default >/dev/null
}

# http METHOD PATH [BODY_FILE] [HEADER]: prints the body, sets HTTP_STATUS.
http() {
        local method=$1 path=$2 body=${3:-} header=${4:-}
        local args=(-sS --cacert "$T/ca/ca.crt" --tlsv1.3 -X "$method" -o "$T/http.body" -D "$T/http.headers" -w '%{http_code}')
        [[ -n $body ]] && args+=(--data-binary "@$body" -H 'Content-Type: application/json')
        [[ -n $header ]] && args+=(-H "$header")
        HTTP_STATUS=$(curl "${args[@]}" "$URL$path") || fail "curl $method $path failed"
        cat "$T/http.body"
}

# expect_status CODE ERROR: the last response had this status and error code.
expect_error() {
        local status=$1 code=$2
        [[ $HTTP_STATUS == "$status" ]] || fail "expected HTTP $status $code, got $HTTP_STATUS: $(cat "$T/http.body")"
        [[ $(jq -r .error "$T/http.body") == "$code" ]] || fail "expected error $code, got: $(cat "$T/http.body")"
}

# The node's enrolment request from attestd's identity.
node_identity() {
        vl GetIdentity >"$T/id.json"
        jq -c '{ekPublic, akPublic} + (if .ekCertificate then {ekCertificate} else {} end)' "$T/id.json" >"$T/enroll.json"
}

# node_prove [BODY]: a new identity's enrolment: POST /v1/enroll with BODY (default $T/enroll.json) must be a
# proof challenge; attestd activates it and POST /v1/enroll/proof sends the secret. HTTP_STATUS and $T/http.body
# are the proof's answer (202 pending when it is accepted).
node_prove() {
        local body=${1:-$T/enroll.json} secret
        http POST /v1/enroll "$body" >"$T/prove.json"
        [[ $HTTP_STATUS == 200 && $(jq -r .state "$T/prove.json") == prove ]] ||
                fail "enrolment of a new identity: HTTP $HTTP_STATUS $(cat "$T/prove.json"), expected a proof challenge"
        secret=$(vl ActivateCredential "$(jq -c '{credentialBlob, encryptedSecret}' "$T/prove.json")" | jq -r .secret)
        jq -n --arg c "$(jq -r .challenge "$T/prove.json")" --arg s "$secret" '{challenge: $c, secret: $s}' >"$T/proof.json"
        http POST /v1/enroll/proof "$T/proof.json" >/dev/null
}

# node_challenge: POST /v1/enroll for an enabled node; the challenge lands in $T/challenge.json.
# node_challenge [HEADER]: the same with one more request header (e.g. "Prefer: quote-only").
node_challenge() {
        http POST /v1/enroll "$T/enroll.json" "${1:-}" >"$T/challenge.json"
        [[ $HTTP_STATUS == 200 ]] || fail "enroll of an enabled node: HTTP $HTTP_STATUS $(cat "$T/challenge.json")"
}

# node_answer [NONCE_OVERRIDE_B64]: activates the credential (a quote-only challenge has none: the answer has no
# secret then) and quotes; writes $T/attest.json.
node_answer() {
        local secret='' q params
        if [[ $(jq -r 'has("credentialBlob")' "$T/challenge.json") == true ]]; then
                secret=$(vl ActivateCredential "$(jq -c '{credentialBlob, encryptedSecret}' "$T/challenge.json")" | jq -r .secret)
        fi
        params=$(jq -c '{nonce, pcrs, bank}' "$T/challenge.json")
        [[ -n ${1:-} ]] && params=$(jq -c --arg n "$1" '.nonce = $n' <<<"$params")
        q=$(vl Quote "$params")
        jq -n --arg c "$(jq -r .challenge "$T/challenge.json")" --arg s "$secret" --argjson q "$q" \
                '{challenge: $c} + (if $s != "" then {secret: $s} else {} end) +
                 {quoted: $q.quoted, signature: $q.signature, pcrValues: $q.pcrValues}' \
                >"$T/attest.json"
}

# node_session: enroll + attest; sets TOKEN.
node_session() {
        node_challenge
        node_answer
        http POST /v1/attest "$T/attest.json" >"$T/token.json"
        [[ $HTTP_STATUS == 200 ]] || fail "attest: HTTP $HTTP_STATUS $(cat "$T/token.json")"
        TOKEN=$(jq -r .token "$T/token.json")
}

db_count() {
        db_query "SELECT COUNT(*) FROM $1"
}
