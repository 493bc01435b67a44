"""Two `petrel serve` nodes on one outbound queue: under load every recipient reaches the
receiving side exactly once (counted at smtp-sink), and the recipients of a node killed with
SIGKILL mid-delivery are delivered by the other node once their lease has run out.
Peers and the outbound database: test_outbound.py, outbound_peers.py.
"""

import collections
import time
import unittest

from outbound_peers import DnsServer, SmtpSink, free_port
from petrel_interop import HOST, TIMEOUT, Node, environment, make_message, marker, tls_context
from test_outbound import PASSWORD, USER, OutboundDatabase

import smtplib


def setUpModule():
    environment()


class TwoNodesOneQueue(unittest.TestCase):
    def setUp(self):
        self.db = OutboundDatabase()
        self.port = free_port(["127.0.0.2", "127.0.0.6"])
        self.dns = DnsServer([("MX", "ok.test", 10, "mx.ok.test"), ("A", "mx.ok.test", "127.0.0.2"),
                              ("MX", "slow.test", 10, "mx.slow.test"), ("A", "mx.slow.test", "127.0.0.6")])
        self.dns.start()
        self.addCleanup(self.dns.stop)
        self.sink = SmtpSink("127.0.0.2", self.port)
        self.sink.start()
        self.addCleanup(self.sink.stop)
        # Answers RCPT only after 4 s: long enough to kill a node in the middle of a delivery.
        self.slow = SmtpSink("127.0.0.6", self.port, delays={"rcpt": 4})
        self.slow.start()
        self.addCleanup(self.slow.stop)
        self.settings = {"enabled": "true", "nameservers": '"127.0.0.1:%d"' % self.dns.port, "port": self.port,
                         "poll_interval": 1, "retry_schedule": '"1h"', "connect_timeout": 5, "lease": 5,
                         "batch_size": 3}

    def node(self, name):
        node = Node(name, delivery=self.settings, database_url=self.db.url)
        node.start()
        self.addCleanup(node.kill)
        return node

    def submit(self, node, recipients, subjects):
        with smtplib.SMTP(HOST, node.ports["submission"], local_hostname="client.test", timeout=TIMEOUT) as s:
            s.starttls(context=tls_context())
            s.login(USER, PASSWORD)
            for recipient, subject in zip(recipients, subjects):
                s.sendmail(USER, [recipient], make_message(subject, sender=USER, to=recipient))

    def wait_for(self, what, condition, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.25)
        self.fail("%s did not happen within %d s" % (what, timeout))

    def queue_empty(self):
        return self.db.sql("SELECT count(*) FROM outbound_recipients;") == [["0"]]

    def test_each_recipient_exactly_once(self):
        a, b = self.node("QueueNodeA"), self.node("QueueNodeB")
        subjects = [marker() for _ in range(60)]
        self.submit(a, ["r%d@ok.test" % i for i in range(60)], subjects[:60])
        self.wait_for("the queue to empty", self.queue_empty, 90)
        got = collections.Counter()
        for message in self.sink.messages():
            for subject in subjects:
                if subject.encode() in message.data:
                    got[subject] += 1
        self.assertEqual(sorted(got.values()), [1] * 60, "deliveries per message: %s" % got)
        senders = ["A" if "sent" in a.log() else "", "B" if "sent" in b.log() else ""]
        print("nodes that delivered: %s" % "".join(senders))

    def test_a_killed_nodes_recipients_go_through_the_other(self):
        a = self.node("QueueKilledA")
        mark = marker()
        self.submit(a, ["victim@slow.test"], [mark])
        # A is inside the delivery (waiting for the RCPT reply) when it dies.
        self.wait_for("node A to reach the slow MX", lambda: any(c.upper().startswith("RCPT") for c in self.slow.commands()), 20)
        owner = self.db.sql("SELECT lease_owner FROM outbound_recipients;")
        self.assertTrue(owner and owner[0][0].startswith("mx.test/"), owner)
        a.kill()
        self.assertEqual(self.slow.messages(), [])
        b = self.node("QueueTakeoverB")
        self.wait_for("node B to deliver after the lease ran out", lambda: self.slow.messages(), 40)
        self.assertEqual(len(self.slow.messages()), 1)
        self.assertIn(mark.encode(), self.slow.messages()[0].data)
        self.wait_for("the queue to empty", self.queue_empty, 20)
        self.assertIn("sent", b.log())


if __name__ == "__main__":
    unittest.main()
