#!/usr/bin/env bash
# SMTP accept-and-store benchmark (docs/benchmarks.md): a release `petrel serve` against a
# throwaway PostgreSQL with fsync and synchronous_commit ON, loaded by Postfix's smtp-source
# (10 concurrent sessions, 4 KiB messages), first to one local recipient, then spread over 100.
# Also measures what that PostgreSQL can durably commit (pgbench, one 4 KiB row per transaction,
# 10 clients) as the physical limit.
#   PETREL_TEST_FSYNC=on scripts/with-test-postgres.sh scripts/bench-smtp.sh
# BENCH_STATEMENTS=1 (with pg_stat_statements loaded, docs/benchmarks.md) prints the statements
# of the one-recipient run by total time.
set -euo pipefail
: "${PETREL_TEST_DATABASE_URL:?run under scripts/with-test-postgres.sh (with PETREL_TEST_FSYNC=on)}"
bin=${PETREL_BIN:-$PWD/.build/release/petrel}
messages=${BENCH_MESSAGES:-2000}
work=$(mktemp -d /tmp/petrel-bench-smtp.XXXXXX)
trap 'kill $node 2>/dev/null || true; rm -rf "$work"' EXIT
base="${PETREL_TEST_DATABASE_URL%%\?*}"
psql -X -q -d "$PETREL_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS petrel_bench WITH (FORCE)" -c "CREATE DATABASE petrel_bench"
export PETREL_DATABASE_URL="${base%/*}/petrel_bench"
echo "fsync: $(psql -X -At -d "$PETREL_DATABASE_URL" -c 'show fsync'), synchronous_commit: $(psql -X -At -d "$PETREL_DATABASE_URL" -c 'show synchronous_commit')"
cat > "$work/petrel.yaml" <<YAML
hostname: bench.test
listeners:
  smtp: {address: 127.0.0.1, port: 22525, tls: none}
  submission: {enabled: false}
  submissions: {enabled: false}
  imap: {enabled: false}
  imaps: {enabled: false}
  pop3: {enabled: false}
  pop3s: {enabled: false}
log: {level: warning}
YAML
export PETREL_CONFIG=$work/petrel.yaml
"$bin" migrate >/dev/null
"$bin" domain add bench.test >/dev/null
for i in $(seq 0 99); do echo "pw" | "$bin" user add "u$i@bench.test" --password-stdin >/dev/null; done
"$bin" serve >"$work/serve.log" 2>&1 &
node=$!
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/22525) 2>/dev/null && break; sleep 0.1; done

run() { # label, smtp-source recipient options
  local label=$1; shift
  local before after start end
  before=$(psql -X -At -d "$PETREL_DATABASE_URL" -c "select count(*) from messages")
  start=$(date +%s.%N)
  /usr/sbin/smtp-source -s 10 -m "$messages" -l 4096 -f sender@remote.test "$@" 127.0.0.1:22525
  end=$(date +%s.%N)
  after=$(psql -X -At -d "$PETREL_DATABASE_URL" -c "select count(*) from messages")
  printf '%-28s %6d stored in %6.2f s = %7.1f messages/s\n' "$label" $((after - before)) \
    "$(echo "$end - $start" | bc)" "$(echo "($after - $before) / ($end - $start)" | bc -l)"
}
if [ -n "${BENCH_STATEMENTS:-}" ]; then
  psql -X -q -d "$PETREL_DATABASE_URL" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
    -c "SELECT pg_stat_statements_reset()" >/dev/null
fi
run "one recipient" -t u0@bench.test
if [ -n "${BENCH_STATEMENTS:-}" ]; then
  psql -X -d "$PETREL_DATABASE_URL" -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
      round((total_exec_time / calls)::numeric, 3) AS mean_ms, toplevel,
      left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS statement
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20"
fi

# Spread over 100 recipients: 10 concurrent senders, each walking through 10 recipients with
# messages/100 messages apiece (smtp-source sends one recipient per run).
spread() {
  local pids=()
  for s in $(seq 0 9); do
    ( for r in $(seq 0 9); do
        /usr/sbin/smtp-source -s 1 -m $((messages / 100)) -l 4096 -f sender@remote.test -t "u$((s * 10 + r))@bench.test" 127.0.0.1:22525
      done ) &
    pids+=($!)
  done
  wait "${pids[@]}"   # not a bare wait: the node is a background job too
}
before=$(psql -X -At -d "$PETREL_DATABASE_URL" -c "select count(*) from messages")
start=$(date +%s.%N); spread; end=$(date +%s.%N)
after=$(psql -X -At -d "$PETREL_DATABASE_URL" -c "select count(*) from messages")
printf '%-28s %6d stored in %6.2f s = %7.1f messages/s\n' "100 recipients" $((after - before)) \
  "$(echo "$end - $start" | bc)" "$(echo "($after - $before) / ($end - $start)" | bc -l)"

cat > "$work/pgbench.sql" <<'SQL'
INSERT INTO bench_rows (payload) VALUES (repeat('x', 4096));
SQL
psql -X -q -d "$PETREL_DATABASE_URL" -c "CREATE TABLE bench_rows (id bigserial primary key, payload text)"
pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)
"$pgbench" -n -c 10 -j 2 -t 400 -f "$work/pgbench.sql" "$PETREL_DATABASE_URL" 2>/dev/null | grep -E 'tps|latency average'
