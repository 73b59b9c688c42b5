# SPDX-License-Identifier: LGPL-2.1-or-later
# A private PostgreSQL cluster per test (Debian's postgresql-17): initdb into the test's own directory, no TCP
# (listen_addresses = ''), one Unix socket in that same directory, fsync on as in production, stopped with
# `pg_ctl stop -m immediate` at the test's end (the directory goes with the test's). Source after test/lib.sh.
#
#   pg_start [NAME]   a cluster in $T/NAME (default pg; an absolute NAME is the directory itself, whose parent
#                     must be reachable by the postgres user) with a database "patela"; sets PG_URI
#                     (postgresql:///patela?host=DIR), PG_DIR, PG_BIN; prints PG_URI on stdout. Lines in
#                     PG_CONF_EXTRA are appended to the cluster's postgresql.conf (the benchmark's sizes).
#   pg_psql SQL...    runs SQL on $PG_URI with psql, unaligned, tuples only
#
# postgres refuses to run as root: when the test runs as root, the cluster belongs to the `postgres` system
# user (the package's) and its commands run under setpriv; the test's directory is made traversable (0711) for
# it. The cluster's superuser is the test's own user name, trusted on the socket only, so that clients (the
# test, patela-server) connect without a password as whatever user they run as.

PG_BIN=
PG_DIR=
PG_URI=
PG_AS=()

pg_find_bin() {
        local d
        for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
                if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
                        PG_BIN=$d
                        return 0
                fi
        done
        return 1
}

# pg_available: 0 when the server binaries are installed (tests skip with exit 77 otherwise).
pg_available() {
        pg_find_bin && command -v psql >/dev/null
}

pg_stop() {
        [[ -n $PG_DIR && -f $PG_DIR/data/postmaster.pid ]] || return 0
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >>"$PG_DIR/pg_ctl.log" 2>&1 || true
}

pg_start() {
        local name=${1:-pg} user
        pg_find_bin || fail "no PostgreSQL server (postgresql-17) installed"
        PG_DIR=$T/$name
        [[ $name == /* ]] && PG_DIR=$name
        user=$(id -un)
        mkdir -p "$PG_DIR"
        if [[ $(id -u) -eq 0 ]]; then
                chmod 0711 "$(dirname "$PG_DIR")"
                chown postgres:postgres "$PG_DIR"
                PG_AS=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)
        fi
        chmod 0700 "$PG_DIR"
        # C collation: text sorts by bytes, as SQLite's BINARY; UTF-8 as the server's strings.
        "${PG_AS[@]}" "$PG_BIN/initdb" --pgdata="$PG_DIR/data" --username="$user" --auth=trust \
                --encoding=UTF8 --locale=C --no-instructions >"$PG_DIR/initdb.log" 2>&1 ||
                { cat "$PG_DIR/initdb.log" >&2; fail "initdb failed"; }
        cat >>"$PG_DIR/data/postgresql.conf" <<-CONF
		listen_addresses = ''
		unix_socket_directories = '$PG_DIR'
		unix_socket_permissions = 0777
		fsync = on
		max_connections = 20
		shared_buffers = 16MB
		log_min_messages = warning
		${PG_CONF_EXTRA:-}
		CONF
        CLEANUP_HOOKS+=(pg_stop)
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 start \
                >"$PG_DIR/pg_ctl.log" 2>&1 ||
                { cat "$PG_DIR/pg_ctl.log" "$PG_DIR/postgres.log" >&2; fail "the PostgreSQL cluster did not start"; }
        "$PG_BIN/createdb" -h "$PG_DIR" -U "$user" patela || fail "createdb patela failed"
        PG_URI="postgresql:///patela?host=$PG_DIR"
        echo "$PG_URI"
}

pg_psql() {
        psql -X -q -v ON_ERROR_STOP=1 -A -t -d "$PG_URI" "$@"
}
