#!/usr/bin/env bash
# POP3 RETR throughput (docs/benchmarks.md): 1,000 messages of 4 KiB delivered over SMTP, then
# one POP3 session (plaintext, loopback) retrieves them all; and a session that RETRs and
# DELEs every message, QUIT removing them in one transaction.
#   scripts/with-test-postgres.sh scripts/bench-pop3-retr.sh [N]
set -euo pipefail
: "${PETREL_TEST_DATABASE_URL:?run under scripts/with-test-postgres.sh}"
bin=${PETREL_BIN:-$PWD/.build/release/petrel}
count=${1:-1000}
work=$(mktemp -d /tmp/petrel-bench-pop3.XXXXXX)
trap 'kill $node 2>/dev/null || true; rm -rf "$work"' EXIT
base="${PETREL_TEST_DATABASE_URL%%\?*}"
psql -X -q -d "$PETREL_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS petrel_bench WITH (FORCE)" -c "CREATE DATABASE petrel_bench"
export PETREL_DATABASE_URL="${base%/*}/petrel_bench"
cat > "$work/petrel.yaml" <<YAML
hostname: bench.test
listeners:
  smtp: {address: 127.0.0.1, port: 22525, tls: none}
  submission: {enabled: false}
  submissions: {enabled: false}
  imap: {enabled: false}
  imaps: {enabled: false}
  pop3: {address: 127.0.0.1, port: 22110, tls: none}
  pop3s: {enabled: false}
log: {level: warning}
YAML
export PETREL_CONFIG=$work/petrel.yaml
"$bin" migrate >/dev/null
"$bin" domain add bench.test >/dev/null
echo "pw" | "$bin" user add "pop@bench.test" --password-stdin >/dev/null
"$bin" serve >"$work/serve.log" 2>&1 &
node=$!
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/22110) 2>/dev/null && break; sleep 0.1; done
/usr/sbin/smtp-source -s 5 -m "$count" -l 4096 -f sender@remote.test -t pop@bench.test 127.0.0.1:22525
python3 - <<'PY'
import poplib, time
p = poplib.POP3("127.0.0.1", 22110)
p.user("pop@bench.test"); p.pass_("pw")
n, size = p.stat()
start = time.monotonic()
for i in range(1, n + 1):
    p.retr(i)
elapsed = time.monotonic() - start
print("RETR of %d messages (%.1f MiB): %.2f s = %.0f messages/s, %.1f MiB/s" % (n, size / 2**20, elapsed, n / elapsed, size / 2**20 / elapsed))
p.quit()
p = poplib.POP3("127.0.0.1", 22110)
p.user("pop@bench.test"); p.pass_("pw")
start = time.monotonic()
for i in range(1, n + 1):
    p.retr(i); p.dele(i)
p.quit()
print("RETR + DELE of every message, then QUIT: %.2f s" % (time.monotonic() - start))
p = poplib.POP3("127.0.0.1", 22110)
p.user("pop@bench.test"); p.pass_("pw")
print("left after QUIT:", p.stat()[0])
p.quit()
PY
