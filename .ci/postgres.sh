#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the distributed-tuning tests
# (tests/autotune/test_postgres.py reads XLTUNE_TEST_POSTGRES_URL).
#
#   eval "$(bash .ci/postgres.sh start)"   installs Debian's postgresql if needed (as root),
#                                           starts a private cluster on a free port, prints the
#                                           export lines (the password never reaches the log)
#   bash .ci/postgres.sh stop DIR           stops it and removes its files
#
# Anything that goes wrong is reported on stderr and prints no export: the tests then skip,
# saying why.
set -uo pipefail

say() { echo "postgres.sh: $*" >&2; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_pg() {  # initdb and postgres refuse to run as root: use the package's postgres user
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bin
  bin=$(pg_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing Debian's postgresql package"
      export DEBIAN_FRONTEND=noninteractive
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; } >/dev/null 2>&1 \
        || { say "apt-get install postgresql failed"; return 1; }
      bin=$(pg_bin)
    fi
  fi
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    say "PostgreSQL is not installed (and could not be installed)"
    return 1
  fi
  local dir port pw
  dir=$(mktemp -d /tmp/xltune-pg.XXXXXX) || return 1
  chmod 755 "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  pw=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  printf '%s\n' "$pw" >"$dir/pwfile"
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; fi
  as_pg "$bin/initdb" -D "$dir/data" -U xltune --pwfile="$dir/pwfile" -A scram-sha-256 -E UTF8 \
    >"$dir/initdb.log" 2>&1 || { say "initdb failed: $(tail -n 3 "$dir/initdb.log")"; return 1; }
  rm -f "$dir/pwfile"
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off" start \
    >/dev/null 2>&1 || { say "the server did not start: $(tail -n 3 "$dir/server.log" 2>/dev/null)"; return 1; }
  PGPASSWORD="$pw" "$bin/createdb" -h 127.0.0.1 -p "$port" -U xltune xltune_test >/dev/null 2>&1 \
    || { say "createdb failed"; as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1; return 1; }
  say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)"
  echo "export XLTUNE_TEST_POSTGRES_URL='postgresql://xltune:$pw@127.0.0.1:$port/xltune_test'"
  echo "export XLTUNE_TEST_POSTGRES_DIR='$dir'"
}

stop() {
  local dir=${1:-} bin
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  bin=$(pg_bin)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) say "usage: postgres.sh start | stop DIR"; exit 2 ;;
esac
