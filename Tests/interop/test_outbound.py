"""Outbound delivery end to end: a user submits on the submission listener, Petrel's queue
worker looks the recipient's domain up in a real DNS server (dnsmasq on 127.0.0.1, MX records
pointing at 127.0.0.x) and hands the message to a real SMTP peer (Postfix's smtp-sink) there.
Covered: delivery to the MX, the next MX when the first is down, the implicit MX (no MX
record), a 4xx kept in the queue for the retry schedule, a 5xx and a null MX bounced to the
sender's INBOX as an RFC 3464 report (parsed with Python's email package), an unknown domain,
a relay host with AUTH, and the delay warning.

The outbound nodes run on a database of their own (petrel_outbound), so that their queue
workers never touch what the other interop tests queue. Peers: outbound_peers.py.
"""

import base64
import email
import email.policy
import smtplib
import subprocess
import time
import unittest

from outbound_peers import DnsServer, SmtpSink, free_port
from petrel_interop import (BIN, DB_URL, HOST, TIMEOUT, Node, environment, make_message, marker, petrel_env,
                            psql, tls_context)

DOMAIN = "local.test"
USER, PASSWORD = "alice@local.test", "alice-secret"
MX_HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
RECORDS = [
    ("MX", "ok.test", 10, "mx.ok.test"), ("A", "mx.ok.test", "127.0.0.2"),
    # The preferred MX listens nowhere: the second one must get the mail.
    ("MX", "failover.test", 10, "mx1.failover.test"), ("A", "mx1.failover.test", "127.0.0.3"),
    ("MX", "failover.test", 20, "mx2.failover.test"), ("A", "mx2.failover.test", "127.0.0.2"),
    # No MX record: the domain's own address is the implicit MX (RFC 5321 §5.1).
    ("A", "implicit.test", "127.0.0.2"),
    ("MX", "soft.test", 10, "mx.soft.test"), ("A", "mx.soft.test", "127.0.0.4"),
    ("MX", "hard.test", 10, "mx.hard.test"), ("A", "mx.hard.test", "127.0.0.5"),
    ("NULLMX", "nullmx.test"),
    # The preferred MX answers 4xx to RCPT: the backup MX takes the recipient in the same attempt.
    ("MX", "backup.test", 10, "mx.soft.test"), ("MX", "backup.test", 20, "mx.ok.test"),
]


def setUpModule():
    environment()


class OutboundDatabase:
    """A database of its own for the outbound nodes, with the domain local.test and alice."""

    def __init__(self):
        base = DB_URL.rsplit("/", 1)[0]
        self.url = base + "/petrel_outbound"
        psql("DROP DATABASE IF EXISTS petrel_outbound WITH (FORCE);")
        psql("CREATE DATABASE petrel_outbound;")
        config = environment().cli_config
        for args, stdin in ((["migrate"], None), (["domain", "add", DOMAIN], None),
                            (["user", "add", USER, "--password-stdin"], (PASSWORD + "\n").encode())):
            r = subprocess.run([BIN, *args], input=stdin, capture_output=True, timeout=60,
                               env=petrel_env(config, self.url))
            if r.returncode != 0:
                raise RuntimeError("petrel %s: %s" % (args, r.stderr.decode(errors="replace")))

    def sql(self, query, **params):
        return psql(query, database_url=self.url, **params)


class OutboundTests:
    """Mixin: the peers and one node with delivery on, for a TestCase class."""

    delivery = {}

    @classmethod
    def setUpClass(cls):
        environment()
        cls.db = OutboundDatabase()
        cls.port = free_port(MX_HOSTS)
        cls.dns = DnsServer(RECORDS)
        cls.dns.start()
        cls.sinks = {
            "127.0.0.2": SmtpSink("127.0.0.2", cls.port),
            "127.0.0.3": SmtpSink("127.0.0.3", cls.port, down=True),
            "127.0.0.4": SmtpSink("127.0.0.4", cls.port, soft_reject=["rcpt"]),
            "127.0.0.5": SmtpSink("127.0.0.5", cls.port, hard_reject=["rcpt"],
                                  hard_reply="550 5.1.1 Error: no such user here"),
        }
        for sink in cls.sinks.values():
            sink.start()
        settings = {"enabled": "true", "nameservers": '"127.0.0.1:%d"' % cls.dns.port, "port": cls.port,
                    "poll_interval": 1, "retry_schedule": '"1h"', "connect_timeout": 5}
        settings.update(cls.delivery)
        cls.node = Node(cls.__name__, delivery=settings, database_url=cls.db.url)
        cls.node.start()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        for sink in cls.sinks.values():
            sink.stop()
        cls.dns.stop()

    def submit(self, recipient, subject):
        """Sends as alice on the submission listener (STARTTLS, AUTH); returns the queue id."""
        with smtplib.SMTP(HOST, self.node.ports["submission"], local_hostname="client.test", timeout=TIMEOUT) as s:
            s.starttls(context=tls_context())
            s.login(USER, PASSWORD)
            code, resp = s.mail(USER)
            self.assertEqual(code, 250, resp)
            code, resp = s.rcpt(recipient)
            self.assertEqual(code, 250, resp)
            code, resp = s.data(make_message(subject, sender=USER, to=recipient))
            self.assertEqual(code, 250, resp)
            return resp.decode().rsplit(" ", 1)[-1]

    def wait_for(self, what, condition, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        self.fail("%s did not happen within %d s; node log:\n%s" % (what, timeout, self.node.log()[-4000:]))

    def received_by(self, sink, mark):
        return [m for m in sink.messages() if mark.encode() in m.data]

    def queue_rows(self, queue_id):
        return self.db.sql("SELECT recipient, attempts, last_error, next_attempt_at > now() + interval '50 minutes' "
                           "FROM outbound_recipients WHERE message_id = :'q';", q=queue_id)

    def bounce_for(self, mark):
        """The report in alice's INBOX about the message with subject mark, parsed."""
        rows = self.db.sql("""
            SELECT encode(m.header_prefix || b.raw, 'hex') FROM messages m JOIN message_bodies b ON b.id = m.body_id
            WHERE position(convert_to(:'mark', 'UTF8') IN b.raw) > 0
              AND position(convert_to('multipart/report', 'UTF8') IN b.raw) > 0;
        """, mark=mark)
        if not rows:
            return None
        raw = rows[0][0]
        return email.message_from_bytes(bytes.fromhex(raw), policy=email.policy.default)

    def assert_report(self, report, recipient, status, diagnostic=None):
        self.assertEqual(report["Return-Path"], "<>")
        self.assertEqual(report["Delivered-To"], USER)
        self.assertEqual(report.get_content_type(), "multipart/report")
        self.assertEqual(report.get_param("report-type"), "delivery-status")
        parts = list(report.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        # message/delivery-status: the per-message block, then one per recipient.
        blocks = parts[1].get_payload()
        self.assertEqual(blocks[0]["Reporting-MTA"], "dns; mx.test")
        self.assertEqual(blocks[1]["Final-Recipient"], "rfc822; " + recipient)
        self.assertEqual(blocks[1]["Action"], "failed")
        self.assertEqual(blocks[1]["Status"], status)
        if diagnostic:
            self.assertIn(diagnostic, blocks[1]["Diagnostic-Code"])
        return parts


class MXDelivery(OutboundTests, unittest.TestCase):
    def test_delivered_to_the_mx(self):
        mark = marker()
        queue_id = self.submit("bob@ok.test", mark)
        sink = self.sinks["127.0.0.2"]
        got = self.wait_for("delivery to mx.ok.test", lambda: self.received_by(sink, mark))
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0].mail_from, USER)
        self.assertEqual(got[0].rcpt_to, ["bob@ok.test"])
        self.assertEqual(got[0].helo, "mx.test")
        self.assertIn(b"Subject: " + mark.encode(), got[0].data)
        self.assertIn(b"Received: from client.test", got[0].data)
        self.wait_for("the queue row to go", lambda: not self.queue_rows(queue_id))
        self.assertEqual(self.db.sql("SELECT count(*) FROM outbound_messages WHERE id = :'q';", q=queue_id), [["0"]])

    def test_next_mx_when_the_first_is_down(self):
        mark = marker()
        self.submit("carol@failover.test", mark)
        got = self.wait_for("delivery to the second MX", lambda: self.received_by(self.sinks["127.0.0.2"], mark))
        self.assertEqual(got[0].rcpt_to, ["carol@failover.test"])

    def test_implicit_mx(self):
        mark = marker()
        self.submit("dave@implicit.test", mark)
        got = self.wait_for("delivery to the domain's address", lambda: self.received_by(self.sinks["127.0.0.2"], mark))
        self.assertEqual(got[0].rcpt_to, ["dave@implicit.test"])

    def test_a_4xx_recipient_goes_to_the_backup_mx_at_once(self):
        mark = marker()
        queue_id = self.submit("lee@backup.test", mark)
        got = self.wait_for("delivery to the backup MX", lambda: self.received_by(self.sinks["127.0.0.2"], mark))
        self.assertEqual(got[0].rcpt_to, ["lee@backup.test"])
        self.wait_for("the queue row to go", lambda: not self.queue_rows(queue_id))
        self.assertIsNone(self.bounce_for(mark))

    def test_4xx_stays_queued_for_the_retry_schedule(self):
        mark = marker()
        queue_id = self.submit("erin@soft.test", mark)
        rows = self.wait_for("the first attempt", lambda: [r for r in self.queue_rows(queue_id) if r[1] == "1"])
        recipient, attempts, error, later = rows[0]
        self.assertEqual(recipient, "erin@soft.test")
        self.assertIn("450 4.3.0", error)
        self.assertEqual(later, "t")   # next try in an hour, as the schedule says
        self.assertIsNone(self.bounce_for(mark))

    def test_5xx_bounces_to_the_sender(self):
        mark = marker()
        queue_id = self.submit("frank@hard.test", mark)
        report = self.wait_for("the bounce", lambda: self.bounce_for(mark))
        parts = self.assert_report(report, "frank@hard.test", "5.1.1", "smtp; 550 5.1.1 Error: no such user here")
        self.assertIn("Subject: " + mark, parts[2].as_string())
        self.wait_for("the queue row to go", lambda: not self.queue_rows(queue_id))

    def test_null_mx_bounces_at_once(self):
        mark = marker()
        self.submit("gina@nullmx.test", mark)
        report = self.wait_for("the bounce", lambda: self.bounce_for(mark))
        self.assert_report(report, "gina@nullmx.test", "5.1.10", "smtp; 556 5.1.10")

    def test_unknown_domain_bounces(self):
        mark = marker()
        self.submit("hal@nowhere.test", mark)
        report = self.wait_for("the bounce", lambda: self.bounce_for(mark))
        self.assert_report(report, "hal@nowhere.test", "5.1.2", "Host or domain name not found")


class RelayHostDelivery(OutboundTests, unittest.TestCase):
    """Everything through one relay host, with AUTH (sent to a loopback relay without TLS)."""

    delivery = {"relay_host": '"[127.0.0.2]"', "relay_username": "relay-user", "relay_password": "relay-pass"}

    def test_relay_host_with_auth(self):
        mark = marker()
        self.submit("ivy@anywhere.test", mark)
        sink = self.sinks["127.0.0.2"]
        got = self.wait_for("delivery through the relay host", lambda: self.received_by(sink, mark))
        self.assertEqual(got[0].rcpt_to, ["ivy@anywhere.test"])
        token = base64.b64encode(b"\0relay-user\0relay-pass").decode()
        self.assertIn("AUTH PLAIN " + token, sink.auth_commands())


class RequiredTLSRelay(OutboundTests, unittest.TestCase):
    """relay_tls: encrypt to a relay host that offers no STARTTLS (smtp-sink): nothing is sent,
    the mail waits with the reason. (A relay that does offer it: test_dkim.PostfixRelayRequiredTLS.)"""

    delivery = {"relay_host": '"[127.0.0.2]"', "relay_tls": "encrypt"}

    def test_no_starttls_no_delivery(self):
        mark = marker()
        queue_id = self.submit("kim@anywhere.test", mark)
        rows = self.wait_for("the first attempt", lambda: [r for r in self.queue_rows(queue_id) if r[1] == "1"])
        self.assertIn("TLS is required", rows[0][2])
        self.assertEqual(self.received_by(self.sinks["127.0.0.2"], mark), [])


class DelayWarning(OutboundTests, unittest.TestCase):
    """delivery.delay_warning: one RFC 3464 report with Action: delayed, however many retries."""

    delivery = {"delay_warning": '"1s"'}

    def test_one_delay_warning_while_retrying(self):
        mark = marker()
        queue_id = self.submit("jack@soft.test", mark)
        self.wait_for("the first attempt", lambda: [r for r in self.queue_rows(queue_id) if r[1] == "1"])
        time.sleep(1.2)   # older than delay_warning, whenever the first attempt was
        for attempt in ("2", "3"):
            subprocess.run([BIN, "queue", "flush", queue_id], check=True, capture_output=True, timeout=60,
                           env=petrel_env(environment().cli_config, self.db.url))
            self.wait_for("attempt " + attempt, lambda: [r for r in self.queue_rows(queue_id) if r[1] == attempt])
        report = self.bounce_for(mark)
        self.assertIsNotNone(report, self.node.log()[-3000:])
        self.assertEqual(report["Subject"], "Delayed Mail (still being retried)")
        self.assertEqual(report["Return-Path"], "<>")
        self.assertEqual(report["Delivered-To"], USER)
        parts = list(report.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        blocks = parts[1].get_payload()
        self.assertEqual(blocks[1]["Final-Recipient"], "rfc822; jack@soft.test")
        self.assertEqual(blocks[1]["Action"], "delayed")
        self.assertEqual(blocks[1]["Status"], "4.3.0")
        self.assertIn("450 4.3.0", blocks[1]["Diagnostic-Code"])
        self.assertTrue(blocks[1]["Will-Retry-Until"])
        # Only one, and the message is still queued.
        count = self.db.sql("""
            SELECT count(*) FROM messages m JOIN message_bodies b ON b.id = m.body_id
            WHERE position(convert_to(:'mark', 'UTF8') IN b.raw) > 0
              AND position(convert_to('Action: delayed', 'UTF8') IN b.raw) > 0;""", mark=mark)
        self.assertEqual(count, [["1"]])
        self.assertEqual(self.db.sql("SELECT delay_warned FROM outbound_messages WHERE id = :'q';", q=queue_id), [["t"]])


if __name__ == "__main__":
    unittest.main()
