#!/usr/bin/env bash
# A large mailbox (docs/benchmarks.md): N messages (default 100,000) in one INBOX, then the
# times of SELECT, UID FETCH 1:* (FLAGS), SEARCH BODY for a word in one message, and what a
# delivery costs into that mailbox against an empty one. The mailbox is filled in SQL (rows
# cloned from 100 messages delivered over SMTP), as a migration from another server would.
#   scripts/with-test-postgres.sh scripts/bench-imap-mailbox.sh [N]
set -euo pipefail
: "${PETREL_TEST_DATABASE_URL:?run under scripts/with-test-postgres.sh}"
bin=${PETREL_BIN:-$PWD/.build/release/petrel}
count=${1:-100000}
work=$(mktemp -d /tmp/petrel-bench-mailbox.XXXXXX)
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
log: {level: warning}
YAML
export PETREL_CONFIG=$work/petrel.yaml
"$bin" migrate >/dev/null
"$bin" domain add bench.test >/dev/null
for u in big empty; do echo "pw" | "$bin" user add "$u@bench.test" --password-stdin >/dev/null; done
"$bin" serve >"$work/serve.log" 2>&1 &
node=$!
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/22525) 2>/dev/null && break; sleep 0.1; done
/usr/sbin/smtp-source -s 5 -m 100 -l 4096 -f sender@remote.test -t big@bench.test 127.0.0.1:22525
psql -X -q -v ON_ERROR_STOP=1 -d "$PETREL_DATABASE_URL" -v n="$count" <<'SQL'
-- Clone the 100 delivered rows up to n messages (UIDs and modseqs in order, a third \Seen).
WITH box AS (SELECT m.account_id, m.id FROM mailboxes m JOIN accounts a ON a.id = m.account_id
             WHERE a.address = 'big@bench.test' AND m.name = 'INBOX'),
     src AS (SELECT row_number() OVER (ORDER BY uid) - 1 AS k, body_id, size, header_prefix
             FROM messages WHERE (account_id, mailbox_id) = (SELECT account_id, id FROM box))
INSERT INTO messages (account_id, mailbox_id, uid, body_id, modseq, flags, keywords, internal_date, size, header_prefix)
SELECT box.account_id, box.id, 100 + g, src.body_id, 100 + g, CASE WHEN g % 3 = 0 THEN 1 ELSE 0 END, '{}',
       now() - g * interval '1 minute', src.size, src.header_prefix
FROM box, generate_series(1, :n - 100) AS g JOIN src ON src.k = g % 100;
UPDATE mailboxes m SET uidnext = :n + 1, highestmodseq = :n + 1
FROM accounts a WHERE a.id = m.account_id AND a.address = 'big@bench.test' AND m.name = 'INBOX';
ANALYZE;
SQL
printf 'Subject: needle\r\n\r\nThe word zanzibarquux appears only here.\r\n' > "$work/needle.eml"
python3 - "$work/needle.eml" <<'PY'
import imaplib, smtplib, subprocess, sys, time

def timed(label, f):
    start = time.monotonic()
    result = f()
    print("%-34s %8.1f ms" % (label, (time.monotonic() - start) * 1000))
    return result

s = smtplib.SMTP("127.0.0.1", 22525)
s.sendmail("a@remote.test", ["big@bench.test"], open(sys.argv[1], "rb").read())
s.quit()
c = imaplib.IMAP4("127.0.0.1", 22143)
c.login("big@bench.test", "pw")
typ, data = timed("SELECT INBOX", lambda: c.select("INBOX"))
print("  messages:", data[0].decode())
typ, data = timed("UID FETCH 1:* (FLAGS)", lambda: c.uid("FETCH", "1:*", "(FLAGS)"))
print("  responses:", len(data))
typ, data = timed("SEARCH BODY zanzibarquux", lambda: c.search(None, "BODY", "zanzibarquux"))
print("  found:", data[0].decode())
timed("SEARCH UNSEEN", lambda: c.search(None, "UNSEEN"))
timed("FETCH * (ENVELOPE BODY[])", lambda: c.fetch("*", "(ENVELOPE BODY[])"))
c.logout()

def deliver(rcpt):
    start = time.monotonic()
    subprocess.run(["/usr/sbin/smtp-source", "-s", "5", "-m", "500", "-l", "4096", "-f", "a@remote.test", "-t", rcpt,
                    "127.0.0.1:22525"], check=True)
    return time.monotonic() - start

empty = deliver("empty@bench.test")
big = deliver("big@bench.test")
print("500 deliveries: empty mailbox %.2f s, large mailbox %.2f s (ratio %.2f)" % (empty, big, big / empty))
PY
