"""IMAP with Python's imaplib against a running `petrel serve`: plain login on loopback,
STARTTLS, IMAPS, AUTHENTICATE PLAIN; LIST/CREATE/RENAME/DELETE/STATUS; a message delivered over
SMTP read back over IMAP byte for byte; APPEND, FETCH, STORE, COPY, MOVE, EXPUNGE; and one
account never seeing another's mailboxes. Shared helpers: petrel_interop.py.
"""

import base64
import imaplib
import smtplib
import time
import unittest

from petrel_interop import HOST, PASSWORDS, TIMEOUT, NodeTests, environment, make_message, marker, tls_context

DEMO = "demo@example.test"


def setUpModule():
    environment()


class IMAPInterop(NodeTests, unittest.TestCase):
    def imap(self, user=DEMO, listener="imap", starttls=False):
        if listener == "imaps":
            client = imaplib.IMAP4_SSL(HOST, self.port("imaps"), ssl_context=tls_context(), timeout=TIMEOUT)
        else:
            client = imaplib.IMAP4(HOST, self.port("imap"), timeout=TIMEOUT)
            if starttls:
                client.starttls(ssl_context=tls_context())
        self.addCleanup(self.close, client)
        if user:
            typ, _ = client.login(user, PASSWORDS[user])
            self.assertEqual(typ, "OK")
        return client

    @staticmethod
    def close(client):
        try:
            client.logout()
        except Exception:
            pass

    def deliver(self, subject):
        """Sends a message to demo over SMTP (MX listener) and returns its bytes."""
        message = make_message(subject)
        with smtplib.SMTP(HOST, self.port("smtp"), local_hostname="client.test", timeout=TIMEOUT) as s:
            s.sendmail("sender@remote.test", [DEMO], message)
        return message

    def find(self, client, subject):
        """The sequence number of the message with this subject in the selected mailbox."""
        typ, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(typ, "OK")
        for item in data:
            if isinstance(item, tuple) and subject.encode() in item[1]:
                return int(item[0].split()[0])
        self.fail("no message with subject %r" % subject)

    def test_capabilities_and_logins(self):
        plain = self.imap(user=None)
        for cap in ("IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "UIDPLUS", "MOVE", "SPECIAL-USE", "LITERAL+", "ID"):
            self.assertIn(cap, plain.capabilities)
        with self.assertRaisesRegex(imaplib.IMAP4.error, "AUTHENTICATIONFAILED"):
            plain.login(DEMO, "wrong password")
        self.assertEqual(plain.login(DEMO, PASSWORDS[DEMO])[0], "OK")
        tls = self.imap(starttls=True)
        self.assertNotIn("STARTTLS", tls.capabilities)
        self.assertEqual(tls.select("INBOX")[0], "OK")
        implicit = self.imap(listener="imaps")
        self.assertEqual(implicit.noop()[0], "OK")
        sasl = self.imap(user=None)
        typ, _ = sasl.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (DEMO, PASSWORDS[DEMO])).encode())
        self.assertEqual(typ, "OK")
        # A UTF-8 login and password through SASL PLAIN (imaplib's LOGIN is ASCII only).
        utf8 = self.imap(user=None, starttls=True)
        typ, _ = utf8.authenticate("PLAIN", lambda _: ("\0jöran@example.test\0%s" % PASSWORDS["jöran@example.test"]).encode())
        self.assertEqual(typ, "OK")

    def test_smtp_delivery_read_back_over_imap(self):
        subject = "over imap " + marker()
        sent = self.deliver(subject)
        client = self.imap()
        typ, data = client.select("INBOX")
        self.assertEqual(typ, "OK")
        n = self.find(client, subject)
        typ, data = client.fetch(str(n), "(FLAGS BODY.PEEK[] RFC822.SIZE ENVELOPE)")
        self.assertEqual(typ, "OK")
        # imaplib splits the response at the literal: what follows it is the next item.
        meta, body = data[0][0] + b" " + (data[1] if isinstance(data[1], bytes) else b""), data[0][1]
        # The stored copy: this copy's trace lines, the Received line, then the message as sent.
        self.assertTrue(body.startswith(b"Return-Path: <sender@remote.test>\r\nDelivered-To: demo@example.test\r\nReceived: from client.test"), body[:200])
        self.assertTrue(body.endswith(sent), "the message body changed on the way")
        self.assertIn(b"RFC822.SIZE %d" % len(body), meta)
        self.assertNotIn(b"\\Seen", meta)
        self.assertIn(subject.encode(), meta)  # ENVELOPE subject
        typ, data = client.fetch(str(n), "(BODY[TEXT])")
        self.assertEqual(data[0][1], b"Hello from the Petrel interop suite.\r\n")
        typ, data = client.fetch(str(n), "(FLAGS)")
        self.assertIn(b"\\Seen", data[0])

    def test_idle_woken_by_smtp_delivery(self):
        """RFC 2177 by raw commands: a message accepted on the SMTP listener reaches an IDLE
        session through PostgreSQL's NOTIFY (the node's one LISTEN connection)."""
        client = self.imap()
        typ, data = client.select("INBOX")
        count = int(data[0])
        client.send(b"i1 IDLE\r\n")
        self.assertEqual(client.readline().strip(), b"+ idling")
        started = time.monotonic()
        self.deliver("idle wake-up " + marker())
        line = client.readline().strip()
        elapsed = time.monotonic() - started
        self.assertEqual(line, b"* %d EXISTS" % (count + 1))
        self.assertLess(elapsed, 5.0, "IDLE took %.2f s to report the delivery" % elapsed)
        client.send(b"DONE\r\n")
        self.assertEqual(client.readline().strip(), b"i1 OK IDLE terminated")

    def test_mailboxes_append_store_copy_move_expunge(self):
        base = "interop-" + marker()[-8:]
        client = self.imap()
        typ, listing = client.list()
        self.assertEqual(typ, "OK")
        names = [line.decode() for line in listing]
        self.assertTrue(any(n.endswith('"INBOX"') for n in names), names)
        self.assertTrue(any("\\Sent" in n and n.endswith('"Sent"') for n in names), names)
        for name in (base, base + "/Sub", base + "/Entwürfe"):
            typ, data = client.create(imaplib_name(name))
            self.assertEqual(typ, "OK", data)
        typ, listing = client.list(imaplib_name(base + "/"), "%")
        self.assertEqual(sorted(line.decode().split(" ")[-1].strip('"') for line in listing),
                         [imaplib_name(base + "/Entwürfe"), imaplib_name(base + "/Sub")])
        message = b"From: a@b.test\r\nSubject: appended " + base.encode() + b"\r\n\r\nappended body\r\n"
        typ, data = client.append(base, "(\\Flagged $Important)", imaplib.Time2Internaldate(time.time()), message)
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"\[APPENDUID \d+ 1\]")
        typ, data = client.select(base)
        self.assertEqual(data, [b"1"])
        typ, data = client.fetch("1", "(FLAGS BODY.PEEK[])")
        self.assertIn(b"\\Flagged", data[0][0])
        self.assertIn(b"$Important", data[0][0])
        self.assertEqual(data[0][1], message)
        typ, data = client.uid("COPY", "1", base + "/Sub")
        self.assertEqual(typ, "OK")
        typ, data = client.store("1", "+FLAGS", "(\\Deleted)")
        self.assertIn(b"\\Deleted", data[0])
        typ, data = client.expunge()
        self.assertEqual(data, [b"1"])
        typ, data = client.select(base + "/Sub")
        self.assertEqual(data, [b"1"])
        typ, data = client.uid("MOVE", "1:*", base)
        self.assertEqual(typ, "OK")
        typ, data = client.status(base, "(MESSAGES UIDNEXT)")
        self.assertRegex(data[0].decode(), r"\(MESSAGES 1 UIDNEXT 3\)")
        typ, data = client.status(base + "/Sub", "(MESSAGES)")
        self.assertRegex(data[0].decode(), r"\(MESSAGES 0\)")
        client.close()
        self.assertEqual(client.rename(base + "/Sub", base + "/Renamed")[0], "OK")
        for name in (base + "/Renamed", base + "/Entwürfe", base):
            self.assertEqual(client.delete(imaplib_name(name))[0], "OK", name)

    def test_accounts_are_separate(self):
        base = "private-" + marker()[-8:]
        demo = self.imap()
        self.assertEqual(demo.create(base)[0], "OK")
        self.addCleanup(demo.delete, base)
        other = self.imap(user="other@example.test")
        typ, listing = other.list()
        self.assertFalse(any(base.encode() in line for line in listing))
        typ, data = other.select(base)
        self.assertEqual(typ, "NO")
        self.assertIn(b"NONEXISTENT", data[0])


def imaplib_name(name):
    """A mailbox name as imaplib needs it: modified UTF-7 (imaplib does not encode), quoted."""
    out, pending = [], []

    def flush():
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
