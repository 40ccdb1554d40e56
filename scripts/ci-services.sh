#!/usr/bin/env bash
# Start the services the test suite needs: a PostgreSQL server on loopback with a test
# database.  Idempotent: a second run finds the server up and the database there.
#
#   export SUANLI_TEST_PG_URL=$(bash scripts/ci-services.sh)   # prints the URL on stdout
#   source scripts/ci-services.sh                              # or: exports it directly
#
# Installs Debian's `postgresql` only when no server binaries are found.  The cluster is a
# private one (not the distribution's), in $SUANLI_PG_DIR (default /tmp/suanli-pg), listening
# on 127.0.0.1:$SUANLI_PG_PORT (default 55432) only, with trust authentication: a throw-away
# test server, never a production one.  Durability is off (fsync) to keep tests fast.
# Stop it with:  runuser -u postgres -- <bindir>/pg_ctl -D /tmp/suanli-pg/data stop
# (or without runuser when not root).

_suanli_pg_main() {
    set -euo pipefail
    local dir=${SUANLI_PG_DIR:-/tmp/suanli-pg}
    local port=${SUANLI_PG_PORT:-55432}
    local dbname=${SUANLI_PG_DB:-suanli_test}
    local data="$dir/data" sock="$dir/sock" log="$dir/server.log"

    _log() { echo "ci-services: $*" >&2; }

    _bindir() {
        local d
        d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
        if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return; fi
        if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
            dirname "$(command -v pg_ctl)"; return
        fi
    }

    local bin
    bin=$(_bindir)
    if [ -z "$bin" ]; then
        _log "installing postgresql (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        bin=$(_bindir)
    fi
    [ -n "$bin" ] || { _log "no PostgreSQL server binaries found"; return 1; }

    # as root the server must run as an unprivileged user: Debian's package creates `postgres`
    local -a as_user=()
    if [ "$(id -u)" = 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --home-dir "$dir" --shell /usr/sbin/nologin postgres
        fi
        as_user=(runuser -u postgres --)
    fi

    mkdir -p "$dir" "$sock"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
    chmod 700 "$dir"

    if [ ! -s "$data/PG_VERSION" ]; then
        _log "initdb $data"
        "${as_user[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || "${as_user[@]}" "$bin/initdb" -D "$data" -U postgres \
            --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1
    fi

    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        _log "server already up on 127.0.0.1:$port"
    else
        _log "starting server on 127.0.0.1:$port"
        "${as_user[@]}" "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >&2 || { _log "server failed to start; see $log"; tail -n 20 "$log" >&2; return 1; }
    fi

    local psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$dbname'")" != 1 ]; then
        _log "creating database $dbname"
        "${psql[@]}" -c "CREATE DATABASE $dbname" >&2
    fi
    SUANLI_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/$dbname"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # sourced: run in a subshell (no `set -e` leaking into the caller), export the URL
    SUANLI_TEST_PG_URL=$( (_suanli_pg_main && echo "$SUANLI_TEST_PG_URL") ) || return 1
    export SUANLI_TEST_PG_URL
    echo "SUANLI_TEST_PG_URL=$SUANLI_TEST_PG_URL" >&2
else
    _suanli_pg_main
    echo "$SUANLI_TEST_PG_URL"
fi
