#!/usr/bin/env bash
# Memory of idle IMAP sessions (docs/benchmarks.md): a release `petrel serve`, N sessions that
# log in, SELECT INBOX and IDLE (default 10,000), then the node's resident memory per session,
# and the time for one delivery to reach every IDLE session of its account.
#   scripts/with-test-postgres.sh scripts/bench-imap-idle.sh [N]
set -euo pipefail
: "${PETREL_TEST_DATABASE_URL:?run under scripts/with-test-postgres.sh}"
bin=${PETREL_BIN:-$PWD/.build/release/petrel}
sessions=${1:-10000}
ulimit -n $((sessions * 2 + 1000)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d /tmp/petrel-bench-idle.XXXXXX)
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
  imap: {address: 127.0.0.1, port: 22143, tls: none}
  imaps: {enabled: false}
  pop3: {enabled: false}
  pop3s: {enabled: false}
imap: {max_connections: 100000, max_connections_per_client: 100000}
passwords:
  argon2: {memory_kib: 64, iterations: 1}
log: {level: warning}
YAML
export PETREL_CONFIG=$work/petrel.yaml
"$bin" migrate >/dev/null
"$bin" domain add bench.test >/dev/null
for i in $(seq 0 9); do echo "pw" | "$bin" user add "u$i@bench.test" --password-stdin >/dev/null; done
"$bin" serve >"$work/serve.log" 2>&1 &
node=$!
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/22143) 2>/dev/null && break; sleep 0.1; done
NODE=$node SESSIONS=$sessions python3 - <<'PY'
import asyncio, os, smtplib, time

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

async def idle_session(i, ready):
    r, w = await asyncio.open_connection("127.0.0.1", 22143, limit=1 << 16)
    await r.readline()
    w.write(b"a LOGIN u%d@bench.test pw\r\nb SELECT INBOX\r\nc IDLE\r\n" % (i % 10))
    while not (await r.readline()).startswith(b"+ idling"):
        pass
    ready.append(1)
    return r, w

async def main():
    node, n = int(os.environ["NODE"]), int(os.environ["SESSIONS"])
    first = []
    one = [await idle_session(0, first)]
    base = rss_kib(node)
    ready, conns = [], []
    start = time.monotonic()
    for chunk in range(0, n - 1, 200):
        conns += await asyncio.gather(*(idle_session(i, ready) for i in range(chunk + 1, min(n, chunk + 201))))
    opened = time.monotonic() - start
    await asyncio.sleep(2)
    full = rss_kib(node)
    per = (full - base) / max(1, len(conns))
    print("%d IDLE sessions opened in %.1f s; node RSS %d MiB with 1 session, %d MiB with %d: %.1f KiB per session"
          % (len(conns) + 1, opened, base // 1024, full // 1024, len(conns) + 1, per))
    # One delivery to u0: every IDLE session of u0 (every tenth) must hear EXISTS.
    watchers = [c for i, c in enumerate(one + conns) if i % 10 == 0]
    start = time.monotonic()
    s = smtplib.SMTP("127.0.0.1", 22525)
    s.sendmail("a@remote.test", ["u0@bench.test"], b"Subject: wake\r\n\r\nwake up\r\n")
    s.quit()
    async def woke(r):
        while True:
            line = await r.readline()
            if line.endswith(b"EXISTS\r\n"):
                return time.monotonic() - start
    times = sorted(await asyncio.gather(*(woke(r) for r, _ in watchers)))
    print("one delivery woke %d IDLE sessions of its account: first after %.3f s, all after %.3f s"
          % (len(times), times[0], times[-1]))

asyncio.run(main())
PY
