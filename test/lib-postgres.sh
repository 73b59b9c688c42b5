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
# Streaming replication (the failover test, docs/postgresql.md "Running it highly available"):
#   pg_start_standby NAME PRIMARY [SOCKET_DIR]
#                                    a streaming replica of the cluster $T/PRIMARY in $T/NAME: pg_basebackup -R
#                                    (standby.signal, primary_conninfo over the primary's socket) through a
#                                    physical replication slot on the primary, so that the primary keeps the WAL
#                                    the replica has not received; slot and application_name are NAME in lower
#                                    case, [^a-z0-9_] as _ (synchronous_standby_names names it so); its socket in
#                                    SOCKET_DIR (default $T/NAME). Sets PG_STANDBY_SOCKET. PG_DIR and PG_URI stay
#                                    the first cluster's.
#   pg_promote NAME                  pg_ctl promote -w of the replica in $T/NAME (what an operator or an HA tool
#                                    does; patela never promotes)
#   pg_crash NAME                    SIGKILL to every process of the cluster in $T/NAME: the machine lost (no
#                                    shutdown, no last WAL sent)
#   pg_stop_cluster DIR              pg_ctl stop -m immediate of the cluster in DIR (registered for each cluster
#                                    in CLEANUP_HOOKS)
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

pg_stop_cluster() {
        local dir=$1
        [[ -n $dir && -f $dir/data/postmaster.pid ]] || return 0
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >>"$dir/pg_ctl.log" 2>&1 || true
}

pg_stop() {
        pg_stop_cluster "$PG_DIR"
}

# pg_cluster_dir DIR: DIR made for a cluster, owned by whoever runs postgres (its parent traversable).
pg_cluster_dir() {
        local dir=$1
        mkdir -p "$dir"
        if [[ $(id -u) -eq 0 ]]; then
                chmod 0711 "$(dirname "$dir")"
                chown postgres:postgres "$dir"
                PG_AS=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)
        fi
        chmod 0700 "$dir"
}

# pg_cluster_start DIR: starts the cluster in DIR/data (logging to DIR/postgres.log), stopped at the test's end.
pg_cluster_start() {
        local dir=$1
        CLEANUP_HOOKS+=("pg_stop_cluster '$dir'")
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
                >"$dir/pg_ctl.log" 2>&1 ||
                { cat "$dir/pg_ctl.log" "$dir/postgres.log" >&2; fail "the PostgreSQL cluster in $dir did not start"; }
}

pg_start() {
        local name=${1:-pg} user
        pg_find_bin || fail "no PostgreSQL server (postgresql-17) installed"
        PG_DIR=$T/$name
        [[ $name == /* ]] && PG_DIR=$name
        user=$(id -un)
        pg_cluster_dir "$PG_DIR"
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
        pg_cluster_start "$PG_DIR"
        "$PG_BIN/createdb" -h "$PG_DIR" -U "$user" patela || fail "createdb patela failed"
        PG_URI="postgresql:///patela?host=$PG_DIR"
        echo "$PG_URI"
}

PG_STANDBY_SOCKET=
pg_start_standby() {
        local name=$1 primary=$T/$2 socket=${3:-$T/$1} dir=$T/$1 slot
        slot=${name,,}
        slot=${slot//[^a-z0-9_]/_}
        pg_cluster_dir "$dir"
        [[ $socket == "$dir" ]] || pg_cluster_dir "$socket"
        # -R writes standby.signal and primary_conninfo (the primary's socket, this test's user); -C -S makes the
        # slot first, and the copy streams its WAL through it.
        "${PG_AS[@]}" "$PG_BIN/pg_basebackup" --pgdata="$dir/data" --host="$primary" --username="$(id -un)" \
                --write-recovery-conf --create-slot --slot="$slot" --wal-method=stream --checkpoint=fast \
                --no-sync >"$dir/basebackup.log" 2>&1 ||
                { cat "$dir/basebackup.log" >&2; fail "pg_basebackup of $primary failed"; }
        cat >>"$dir/data/postgresql.conf" <<-CONF
		unix_socket_directories = '$socket'
		primary_slot_name = '$slot'
		hot_standby = on
		CONF
        # The name synchronous_standby_names matches; --write-recovery-conf put primary_conninfo in
        # postgresql.auto.conf, which is read last.
        sed -i "s/^primary_conninfo = '/primary_conninfo = 'application_name=$slot /" "$dir/data/postgresql.auto.conf"
        pg_cluster_start "$dir"
        PG_STANDBY_SOCKET=$socket
}

pg_promote() {
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$T/$1/data" -w -t 60 promote >>"$T/$1/pg_ctl.log" 2>&1 ||
                { tail -20 "$T/$1/postgres.log" >&2; fail "pg_ctl promote of $T/$1 failed"; }
}

# Every process of the cluster: the postmaster (first line of postmaster.pid) and its children. What a crash would
# leave behind on this machine, the System V segment that postmaster.pid names (line 7: key, id), is removed: a
# dead cluster's segment would outlive the test. The cluster is not started again.
pg_crash() {
        local dir=$T/$1 pm pids shm i
        pm=$(sed -n 1p "$dir/data/postmaster.pid")
        shm=$(sed -n 7p "$dir/data/postmaster.pid" | awk '{ print $2 }')
        [[ $pm =~ ^[0-9]+$ ]] || fail "no postmaster pid in $dir"
        pids=$(ps -o pid= --ppid "$pm" | tr '\n' ' ')
        # shellcheck disable=SC2086 # a list of pids; a backend may have ended since ps saw it
        kill -KILL "$pm" $pids 2>/dev/null || true
        # Gone, or a zombie nobody reaps (the postmaster's parent is whatever adopted it).
        for ((i = 0; i < 500; i++)); do
                [[ -e /proc/$pm && $(awk '{ print $3 }' "/proc/$pm/stat" 2>/dev/null) != Z ]] || break
                sleep 0.01
        done
        [[ $shm =~ ^[0-9]+$ ]] && ipcrm -m "$shm" 2>/dev/null || true
        # Nothing starts it again: without its pid file the cleanup's pg_ctl stop cannot signal a process that
        # reused the postmaster's pid.
        rm -f "$dir/data/postmaster.pid"
}

pg_psql() {
        psql -X -q -v ON_ERROR_STOP=1 -A -t -d "$PG_URI" "$@"
}
