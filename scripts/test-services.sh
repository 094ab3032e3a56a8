#!/usr/bin/env bash
# The production path's services for `make test`: a PostgreSQL and a Redis of the project's
# own, on loopback ports of their own, started when they are not already answering, and
# installed from Debian's packages when missing (as root on Debian or Ubuntu).
#
# Prints the environment the suite runs with (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL) as
# shell assignments; `make test` evaluates them. Nothing is started when DATABASE_URL is
# already set (a CI with its own services) or when ACADEMY_TEST_DB=sqlite (the embedded
# defaults, for a laptop without either).
#
# The data are scratch: a PostgreSQL cluster without fsync under $state (outside the checkout,
# which the postgres user may not be able to enter), a Redis that writes nothing to disk. They
# stay up between runs (a second `make test` finds them answering); `scripts/test-services.sh
# stop` stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PORT="${ACADEMY_TEST_PG_PORT:-5439}"
REDIS_PORT="${ACADEMY_TEST_REDIS_PORT:-6393}"
state="${TMPDIR:-/tmp}/academy-test-services-$(id -u)"
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

# As root, PostgreSQL runs as the "postgres" user (it refuses root); otherwise as oneself.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-start}" = stop ]; then
    if bin="$(pg_bin)" && [ -f "$state/pg/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$state/pg" -m fast stop >/dev/null || true
    fi
    [ -f "$state/redis.pid" ] && kill "$(cat "$state/redis.pid")" 2>/dev/null || true
    exit 0
fi

if [ -n "${DATABASE_URL:-}" ] || [ "${ACADEMY_TEST_DB:-}" = sqlite ]; then
    exit 0
fi

missing=()
pg_bin >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "Installing ${missing[*]} for the tests (the production path's services)"
        apt-get update -qq
        # policy-rc.d: the packages' own clusters and services are not wanted (nor started).
        policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >&2
        [ -z "$policy" ] || rm -f "$policy"
    else
        echo "The tests run on PostgreSQL and Redis; missing: ${missing[*]}." >&2
        echo "Install them (on Debian or Ubuntu: sudo apt-get install ${missing[*]}), or run" >&2
        echo "ACADEMY_TEST_DB=sqlite make test for the embedded defaults." >&2
        exit 1
    fi
fi

mkdir -p "$state"
chmod 755 "$state"
[ "$(id -u)" = 0 ] && chown postgres "$state"
bin="$(pg_bin)"
if ! as_owner "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    if [ ! -f "$state/pg/PG_VERSION" ]; then
        say "Creating a scratch PostgreSQL cluster in $state/pg"
        as_owner "$bin/initdb" -D "$state/pg" -U academy --auth=trust -E UTF8 \
            --locale=C.UTF-8 >/dev/null
    fi
    say "Starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_owner "$bin/pg_ctl" -D "$state/pg" -l "$state/pg.log" -w -t 60 start -o \
        "-p $PG_PORT -k $state -c listen_addresses=127.0.0.1 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U academy academy 2>/dev/null || true
fi
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    say "Starting Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$state/redis.pid" --logfile "$state/redis.log"
    for _ in $(seq 1 50); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
fi

# The suite's processes each take their own Redis database (tests/conftest.py), from 1 up.
echo "export DATABASE_URL=postgres://academy@127.0.0.1:$PG_PORT/academy"
echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
echo "export CELERY_BROKER_URL=redis://127.0.0.1:$REDIS_PORT/0"
