#!/usr/bin/env bash
# PostgreSQL's side of an SMTP accept alone: pgbench runs `CALL petrel_accept_batch(...)` (the
# group-commit CALL, migrations 0010/0011) with one message, four messages to one account and
# four messages to four accounts, one client, against the database bench-smtp.sh leaves behind
# (a 4 KiB smtp-source message is taken as the sample). Extra SQL files given as arguments are
# applied one after the other, each followed by another round: a way to measure a change to
# the delivery functions before writing it as a migration (docs/benchmarks.md).
#   scripts/with-test-postgres.sh scripts/bench-accept-call.sh [change.sql ...]
# STATS=call1 (with pg_stat_statements loaded, see docs/benchmarks.md) then prints that
# script's statements, nested ones included, by total time.
set -euo pipefail
: "${PETREL_TEST_DATABASE_URL:?run under scripts/with-test-postgres.sh}"
BENCH_MESSAGES=200 scripts/bench-smtp.sh | grep stored
base="${PETREL_TEST_DATABASE_URL%%\?*}"
db="${base%/*}/petrel_bench"
pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)
work=$(mktemp -d /tmp/petrel-bench-call.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The CALL as pgbench script text: n messages, to account u0 (spread=0) or u0..u(n-1) (spread=1).
call() {
  psql -X -At -d "$db" -v n="$1" -v spread="$2" <<'SQL'
WITH b AS (SELECT * FROM message_bodies ORDER BY id DESC LIMIT 1),
     a AS (SELECT string_agg(a.id::text, ',' ORDER BY g) AS aid, string_agg(m.id::text, ',' ORDER BY g) AS mid
           FROM generate_series(0, :n - 1) g
           JOIN accounts a ON a.address = 'u' || (CASE WHEN :spread = 1 THEN g ELSE 0 END) || '@bench.test'
           JOIN mailboxes m ON m.account_id = a.id AND m.name = 'INBOX'),
     s AS (SELECT string_agg(format('sha256((random()::text || %s)::bytea)', g), ',') AS sha,
                  string_agg(format('''Q'' || md5(random()::text || %s)', g), ',') AS qid,
                  string_agg(g::text, ',') AS nums
           FROM generate_series(1, :n) g)
SELECT format($f$CALL petrel_accept_batch(ARRAY[%s], array_fill(%s::bigint, ARRAY[%3$s]),
  array_fill(%4$L::bytea, ARRAY[%3$s]), array_fill(%5$L::bytea, ARRAY[%3$s]), array_fill(%6$L::bytea, ARRAY[%3$s]),
  array_fill(%7$L::bytea, ARRAY[%3$s]), array_fill(%8$L::text, ARRAY[%3$s]), array_fill(''::text, ARRAY[%3$s]),
  array_fill(%9$L::text, ARRAY[%3$s]), array_fill(%10$L::text, ARRAY[%3$s]), array_fill('la de da'::text, ARRAY[%3$s]),
  array_fill(true, ARRAY[%3$s]), ARRAY[%11$s], array_fill('sender@remote.test'::text, ARRAY[%3$s]),
  array_fill('127.0.0.1'::text, ARRAY[%3$s]), array_fill(0::bigint, ARRAY[%3$s]), array_fill(false, ARRAY[%3$s]),
  array_fill(false, ARRAY[%3$s]), ARRAY[%12$s], ARRAY[%13$s]::bigint[], ARRAY[%14$s]::bigint[],
  array_fill(convert_to(E'Return-Path: <sender@remote.test>\r\n', 'UTF8'), ARRAY[%3$s]), '{}'::integer[], '{}'::text[],
  NULL, NULL, NULL, NULL, NULL, NULL, NULL);$f$,
  s.sha, b.size, :n, b.raw, b.envelope, b.body_structure, b.body, b.structure::text, b.header_text, b.body_text,
  s.qid, s.nums, a.aid, a.mid)
FROM b, a, s;
SQL
}
call 1 0 > "$work/call1.sql"
call 4 0 > "$work/call4.sql"
call 4 1 > "$work/call4-spread.sql"

round() {
  for f in call1 call4 call4-spread; do
    printf '  %-12s %s\n' "$f" "$("$pgbench" -n -M prepared -c 1 -T 6 -f "$work/$f.sql" "$db" 2>&1 | grep -E '^tps|ERROR' | head -1)"
  done
}
echo "as migrated:"; round
for change in "$@"; do
  psql -X -q -d "$db" -v ON_ERROR_STOP=1 -f "$change"
  echo "after $change:"; round
done
if [ -n "${STATS:-}" ]; then
  psql -X -q -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
  "$pgbench" -n -M prepared -c 1 -t 2000 -f "$work/$STATS.sql" "$db" 2>&1 | grep -E '^tps'
  psql -X -d "$db" -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
      round((total_exec_time / calls)::numeric, 4) AS mean_ms, toplevel AS top,
      left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS statement
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25"
fi
