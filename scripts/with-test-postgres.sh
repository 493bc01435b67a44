#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL: a new cluster in a temporary directory, listening
# on 127.0.0.1 at a free port, removed afterwards whatever the outcome. The command sees
#   PETREL_TEST_DATABASE_URL=postgres://petrel@127.0.0.1:PORT/postgres
# As root, PostgreSQL runs as the unprivileged system user 'petrel' (created if missing).
# PETREL_TEST_FSYNC=on for benchmarks; PETREL_TEST_PG_OPTIONS adds server options (profiling:
# "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all").
set -euo pipefail
bindir=""
if command -v initdb >/dev/null; then bindir=$(dirname "$(readlink -f "$(command -v initdb)")"); fi
if [ -z "$bindir" ]; then bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1); fi
[ -x "$bindir/initdb" ] || { echo "with-test-postgres: no initdb found (apt-get install postgresql)" >&2; exit 1; }

dir=$(mktemp -d /tmp/petrel-test-pg.XXXXXX)
chmod 755 "$dir"
# PostgreSQL's programs chdir back to the working directory they start in: start them from one
# the unprivileged user can enter (a checkout under /root is not). The command runs from here too.
here=$(pwd)
cd "$dir"
as=()
if [ "$(id -u)" -eq 0 ]; then
  id petrel >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin petrel
  chown petrel:petrel "$dir"
  as=(runuser -u petrel --)
fi
cleanup() {
  "${as[@]}" "$bindir/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"${as[@]}" "$bindir/initdb" -D "$dir/data" -U petrel --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-instructions >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
started=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  port=$(( 20000 + RANDOM % 40000 ))
  # fsync off: a throwaway cluster does not need to survive a power cut, and the suite creates
  # many databases. Durability of Petrel's own commits is a matter of its SQL, not of this.
  if "${as[@]}" "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
       -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=${PETREL_TEST_FSYNC:-off} -c max_connections=300 ${PETREL_TEST_PG_OPTIONS:-}" >/dev/null 2>&1; then
    started=1; break
  fi
done
[ -n "$started" ] || { echo "with-test-postgres: PostgreSQL did not start" >&2; cat "$dir/postgres.log" >&2; exit 1; }
export PETREL_TEST_DATABASE_URL="postgres://petrel@127.0.0.1:$port/postgres"
echo "with-test-postgres: PostgreSQL on 127.0.0.1:$port ($dir)"
cd "$here"
set +e
"$@"
status=$?
set -e
exit $status
