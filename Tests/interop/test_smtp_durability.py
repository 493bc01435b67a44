"""Durability under SIGKILL (PRODUCT.md): while senders run, the node is killed with SIGKILL at
random moments and started again; every message that got a 250 is stored exactly once, and
none that did not is visible.

Several smtplib senders deliver small messages, each with a marker of its own, to two local
recipients on the MX listener (a message stored for one and not the other would be half a
transaction). Each message ends in one of these outcomes, as the client saw it:
  ok         250 to the end of data: stored exactly once for each recipient, and its Received
             field carries the queue id of the reply
  refused    the connection failed, or a reply other than 250/354 came, before the whole message
             and its final CRLF.CRLF had been handed to the kernel: never stored
  rejected   a reply other than 250 to the end of data: never stored
  ambiguous  the whole message was sent but no reply came (the node died): stored once for
             both recipients or for neither, never twice, never half
Afterwards the store must be consistent: body reference counts, account usage and mailbox
counters match the rows. The random kill schedule comes from a seed printed with any failure;
PETREL_DURABILITY_SEED=N repeats it; PETREL_DURABILITY_VERBOSE=1 prints the outcome counts.
Shared helpers: petrel_interop.py.
"""

import os
import random
import re
import signal
import smtplib
import threading
import time
import unittest
import uuid

from petrel_interop import HOST, Node, environment, make_message, psql

SENDERS = 6
KILLS = 5
RECIPIENTS = ("demo@example.test", "other@example.test")
CLIENT_TIMEOUT = 15  # seconds, for any one client operation (a killed node resets at once)
MIN_OK = 50


def setUpModule():
    environment()


class Shared:
    """What the senders and the killer share: the current port (None while the node is down),
    the number of transactions under way, and the stop flag."""

    def __init__(self):
        self.lock = threading.Lock()
        self.port = None
        self.generation = 0
        self.in_flight = 0
        self.ok = 0
        self.stop = threading.Event()

    def current(self):
        with self.lock:
            return self.port, self.generation

    def set_node(self, port, generation):
        with self.lock:
            self.port, self.generation = port, generation

    def begin(self):
        with self.lock:
            self.in_flight += 1

    def end(self, ok):
        with self.lock:
            self.in_flight -= 1
            self.ok += 1 if ok else 0

    def snapshot(self):
        with self.lock:
            return self.in_flight, self.ok


class Sender(threading.Thread):
    """Sends messages in a loop until told to stop, reconnecting after any failure; outcomes is
    a list of dicts: mark, state, qid, detail, generation (of the node it was sent to)."""

    def __init__(self, number, shared, run):
        super().__init__(name="durability-sender-%d" % number, daemon=True)
        self.number = number
        self.shared = shared
        self.run_id = run
        self.outcomes = []
        self.connect_failures = 0
        self.error = None

    def run(self):
        try:
            self.loop()
        except BaseException as e:  # a bug in this test, not a node failure: reported by the test
            self.error = e

    def loop(self):
        while not self.shared.stop.is_set():
            port, generation = self.shared.current()
            if port is None:
                time.sleep(0.02)
                continue
            try:
                s = smtplib.SMTP(HOST, port, local_hostname="sender%d.test" % self.number, timeout=CLIENT_TIMEOUT)
            except (OSError, smtplib.SMTPException):
                self.connect_failures += 1
                time.sleep(0.05)
                continue
            try:
                code, resp = s.ehlo()
                if code != 250:
                    raise smtplib.SMTPResponseException(code, resp)
                while not self.shared.stop.is_set():
                    self.send_one(s, generation)
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)
            finally:
                s.close()

    def send_one(self, s, generation):
        """One transaction; raises (after recording the outcome) when the connection failed."""
        mark = "%s-%d-%d" % (self.run_id, self.number, len(self.outcomes))
        outcome = dict(mark=mark, state="refused", qid=None, detail="", generation=generation)
        self.outcomes.append(outcome)
        msg = make_message("durability " + mark, to=RECIPIENTS[0],
                           body="Message %s, one of many, sent while the node is killed now and then.\r\n" % mark)
        self.shared.begin()
        ok = False
        try:
            code, resp = s.mail("sender@remote.test")
            if code != 250:
                outcome["detail"] = "MAIL: %d %r" % (code, resp)
                s.rset()
                return
            for rcpt in RECIPIENTS:
                code, resp = s.rcpt(rcpt)
                if code != 250:
                    outcome["detail"] = "RCPT %s: %d %r" % (rcpt, code, resp)
                    s.rset()
                    return
            s.putcmd("data")
            code, resp = s.getreply()
            if code != 354:
                outcome["detail"] = "DATA: %d %r" % (code, resp)
                s.rset()
                return
            # No line of msg starts with "." and it ends with CRLF: no dot-stuffing to do.
            # smtplib's send() is sendall(): when it raises, the end of data was not sent whole.
            s.send(msg + b".\r\n")
            outcome["state"] = "ambiguous"
            code, resp = s.getreply()
            if code == 250:
                m = re.search(rb"queued as ([A-Za-z0-9]+)", resp)
                outcome["state"], outcome["qid"] = "ok", m.group(1).decode() if m else None
                outcome["detail"] = resp.decode(errors="replace")
                ok = True
            else:
                outcome["state"], outcome["detail"] = "rejected", "%d %r" % (code, resp)
        except (OSError, smtplib.SMTPException) as e:
            outcome["detail"] = repr(e)
            raise
        finally:
            self.shared.end(ok)


class SMTPDurability(unittest.TestCase):
    def setUp(self):
        env_seed = os.environ.get("PETREL_DURABILITY_SEED", "")
        self.seed = int(env_seed) if env_seed else random.SystemRandom().randrange(2 ** 32)
        self.rng = random.Random(self.seed)
        self.run_id = "durability-" + uuid.uuid4().hex[:12]
        self.nodes = []

    def context(self):
        return "seed %d (PETREL_DURABILITY_SEED=%d repeats the kill schedule), run %s" % (
            self.seed, self.seed, self.run_id)

    def start_node(self, shared):
        node = Node("durability-%d" % len(self.nodes))
        self.addCleanup(node.kill)
        node.start()
        self.nodes.append(node)
        shared.set_node(node.ports["smtp"], len(self.nodes) - 1)
        return node

    def wait_for(self, what, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail("%s within %d s; %s" % (what, timeout, self.context()))
            time.sleep(0.005)

    def log_lines(self, needle):
        """The lines of every node's log that mention needle, prefixed with the node's name."""
        return ["%s: %s" % (node.name, line) for node in self.nodes for line in node.log().splitlines() if needle in line]

    def test_sigkill_while_sending(self):
        shared = Shared()
        self.start_node(shared)
        senders = [Sender(n, shared, self.run_id) for n in range(SENDERS)]
        for sender in senders:
            sender.start()

        def stop_senders():
            shared.stop.set()
            for sender in senders:
                sender.join(timeout=3 * CLIENT_TIMEOUT)

        self.addCleanup(stop_senders)  # also when something below fails

        self.wait_for("no message accepted", lambda: shared.snapshot()[1] >= 10, 30)
        in_flight_at_kill = []
        for _ in range(KILLS):
            time.sleep(self.rng.uniform(0.3, 1.2))
            self.wait_for("no transaction under way", lambda: shared.snapshot()[0] > 0, 30)
            node = self.nodes[-1]
            in_flight_at_kill.append(shared.snapshot()[0])
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(timeout=30)
            shared.set_node(None, len(self.nodes) - 1)
            time.sleep(self.rng.uniform(0, 0.2))  # down for a moment: clients are refused
            self.start_node(shared)
        ok_before = shared.snapshot()[1]
        settle = time.monotonic() + 1.5
        self.wait_for("no message accepted after the last restart",
                      lambda: shared.snapshot()[1] >= max(ok_before + 20, MIN_OK + 10) and time.monotonic() > settle, 60)
        stop_senders()
        for sender in senders:
            self.assertFalse(sender.is_alive(), "sender %d did not stop; %s" % (sender.number, self.context()))
            if sender.error is not None:
                raise AssertionError("sender %d failed: %r; %s" % (sender.number, sender.error, self.context()))
        last = self.nodes[-1]
        status = last.stop(timeout=30)
        self.assertEqual(status, 0, "petrel serve exited with %s after SIGTERM; %s\n%s"
                         % (status, self.context(), last.log()[-3000:]))

        outcomes = [o for sender in senders for o in sender.outcomes]
        self.assertEqual(len(self.nodes), KILLS + 1)
        self.assertEqual(len(in_flight_at_kill), KILLS)
        self.assertGreaterEqual(sum(in_flight_at_kill), 1, "no kill hit a transaction under way")
        self.check_outcomes(outcomes, in_flight_at_kill, sum(s.connect_failures for s in senders))
        self.check_store_consistent()

    # --- checks ----------------------------------------------------------------------------------

    def stored(self):
        """mark -> list of (address, mailbox, body_id, queue id in Received, Delivered-To right)
        for every stored copy of this run's messages."""
        rows = psql(r"""
            SELECT substring(convert_from(b.raw, 'UTF8') FROM 'Subject: durability (' || :'run' || '-[0-9]+-[0-9]+)'),
                   a.address, mb.name, m.body_id,
                   coalesce(substring(convert_from(b.raw, 'UTF8') FROM '\(Petrel\) with [A-Z]+ id ([0-9A-Za-z]+)'), ''),
                   position(convert_to('Delivered-To: ' || a.address || E'\r\n', 'UTF8') IN m.header_prefix) > 0
              FROM messages m
              JOIN message_bodies b ON b.id = m.body_id
              JOIN accounts a ON a.id = m.account_id
              JOIN mailboxes mb ON mb.account_id = m.account_id AND mb.id = m.mailbox_id
             WHERE position(convert_to(:'run', 'UTF8') IN b.raw) > 0;
        """, run=self.run_id)
        found = {}
        for mark, address, mailbox, body_id, qid, delivered_to in rows:
            found.setdefault(mark, []).append((address, mailbox, int(body_id), qid, delivered_to == "t"))
        return found

    def check_outcomes(self, outcomes, in_flight_at_kill, connect_failures):
        counts = {}
        for o in outcomes:
            counts[o["state"]] = counts.get(o["state"], 0) + 1
        stored = self.stored()
        ambiguous_stored = sum(1 for o in outcomes if o["state"] == "ambiguous" and o["mark"] in stored)
        summary = "%s; outcomes %s (ambiguous ones stored: %d); transactions under way at each kill %s; " \
                  "failed connects %d" % (self.context(), counts, ambiguous_stored, in_flight_at_kill, connect_failures)
        if os.environ.get("PETREL_DURABILITY_VERBOSE") == "1":
            print("\ndurability: " + summary, flush=True)
        self.assertGreaterEqual(counts.get("ok", 0), MIN_OK, summary)
        known = {o["mark"] for o in outcomes}
        self.assertEqual(sorted(set(stored) - known), [], "stored messages nobody sent; " + summary)
        queued = [o["qid"] for o in outcomes if o["state"] == "ok"]
        self.assertEqual(len(queued), len(set(queued)), "a queue id given twice; " + summary)
        self.assertNotIn(None, queued, "a 250 without a queue id; " + summary)

        problems = []
        for o in outcomes:
            found = stored.get(o["mark"], [])
            addresses = sorted(c[0] for c in found)
            if o["state"] == "ok":
                want = sorted(RECIPIENTS)
            elif o["state"] == "ambiguous":
                want = sorted(RECIPIENTS) if found else []
            else:
                want = []
            trouble = []
            if addresses != want:
                trouble.append("stored for %s" % addresses)
            if found:
                if {c[1] for c in found} != {"INBOX"}:
                    trouble.append("in mailboxes %s" % sorted({c[1] for c in found}))
                if len({c[2] for c in found}) != 1:
                    trouble.append("in %d body rows" % len({c[2] for c in found}))
                if not all(c[4] for c in found):
                    trouble.append("a copy without its own Delivered-To")
                if o["state"] == "ok" and {c[3] for c in found} != {o["qid"]}:
                    trouble.append("Received ids %s" % sorted({c[3] for c in found}))
            if trouble:
                problems.append((o, trouble))
        if problems:
            lines = []
            for o, trouble in problems[:20]:
                lines.append("%s %s (sent to node %d, %s): %s" % (
                    o["state"], o["mark"], o["generation"], o["detail"].strip(), "; ".join(trouble)))
                if o["qid"]:
                    lines += ["    " + line for line in self.log_lines(o["qid"])[:10]]
            self.fail("%d of %d messages wrong; %s\n%s" % (len(problems), len(outcomes), summary, "\n".join(lines)))

    def check_store_consistent(self):
        """Reference counts, account usage and mailbox counters match the rows, store-wide."""
        bodies = psql("""
            SELECT b.id, b.refcount, r.messages, r.queued FROM message_bodies b
              CROSS JOIN LATERAL (SELECT (SELECT count(*) FROM messages m WHERE m.body_id = b.id) AS messages,
                                         (SELECT count(*) FROM outbound_messages o WHERE o.body_id = b.id) AS queued) r
             WHERE b.refcount <> r.messages + r.queued OR r.messages + r.queued = 0
             ORDER BY b.id LIMIT 20;
        """)
        self.assertEqual(bodies, [], "message_bodies (id, refcount, mailbox rows, queue rows) whose refcount is "
                                     "wrong or that nothing references; " + self.context())
        accounts = psql("""
            SELECT a.address, a.used_messages, a.used_bytes, count(m.uid), coalesce(sum(m.size), 0)
              FROM accounts a LEFT JOIN messages m ON m.account_id = a.id
             GROUP BY a.id, a.address, a.used_messages, a.used_bytes
            HAVING a.used_messages <> count(m.uid) OR a.used_bytes <> coalesce(sum(m.size), 0)
             ORDER BY a.address;
        """)
        self.assertEqual(accounts, [], "accounts (address, used_messages, used_bytes, real count, real bytes) "
                                       "whose usage is wrong; " + self.context())
        mailboxes = psql("""
            SELECT a.address, mb.name, mb.message_count, mb.unseen_count, mb.total_size, mb.uidnext,
                   count(m.uid), count(m.uid) FILTER (WHERE m.flags & 1 = 0), coalesce(sum(m.size), 0),
                   coalesce(max(m.uid), 0)
              FROM mailboxes mb
              JOIN accounts a ON a.id = mb.account_id
              LEFT JOIN messages m ON m.account_id = mb.account_id AND m.mailbox_id = mb.id
             GROUP BY a.address, mb.account_id, mb.id, mb.name, mb.message_count, mb.unseen_count, mb.total_size,
                      mb.uidnext
            HAVING mb.message_count <> count(m.uid) OR mb.unseen_count <> count(m.uid) FILTER (WHERE m.flags & 1 = 0)
                OR mb.total_size <> coalesce(sum(m.size), 0) OR mb.uidnext <= coalesce(max(m.uid), 0)
             ORDER BY a.address, mb.name;
        """)
        self.assertEqual(mailboxes, [], "mailboxes (address, name, message_count, unseen_count, total_size, uidnext, "
                                        "real count, real unseen, real size, max uid) whose counters are wrong; "
                                        + self.context())


if __name__ == "__main__":
    unittest.main(verbosity=2)
