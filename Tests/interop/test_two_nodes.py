"""Two `petrel serve` processes on one database: the POP3 maildrop lock across nodes (and its
release when a node is killed), an IMAP IDLE on one node woken by a delivery on the other, and
POP3 and IMAP seeing each other's deletions. Shared helpers: petrel_interop.py; the outside
POP3 and IMAP clients are in test_mail_clients.py.
"""

import imaplib
import poplib
import smtplib
import time
import unittest

from petrel_interop import DOMAIN, HOST, TIMEOUT, Node, environment, make_message, marker, petrel

PASSWORD = "pop3-secret"


def setUpModule():
    environment()


class TwoNodes(unittest.TestCase):
    nodes = []

    @classmethod
    def setUpClass(cls):
        environment()
        cls.nodes = [Node("NodeA"), Node("NodeB")]
        for node in cls.nodes:
            node.start()

    @classmethod
    def tearDownClass(cls):
        for node in cls.nodes:
            node.stop(timeout=30)

    def account(self):
        user = "pop-%s@%s" % (marker()[-10:], DOMAIN)
        petrel("user", "add", user, "--password-stdin", stdin=(PASSWORD + "\n").encode())
        return user

    def deliver(self, node, user, subject):
        with smtplib.SMTP(HOST, node.ports["smtp"], local_hostname="client.test", timeout=TIMEOUT) as s:
            s.sendmail("sender@remote.test", [user], make_message(subject, to=user))

    def pop3(self, node, user):
        p = poplib.POP3(HOST, node.ports["pop3"], timeout=TIMEOUT)
        p.user(user)
        p.pass_(PASSWORD)
        return p

    def test_maildrop_lock_across_nodes(self):
        a, b = self.nodes
        user = self.account()
        self.deliver(a, user, "locked")
        holder = self.pop3(a, user)
        other = poplib.POP3(HOST, b.ports["pop3"], timeout=TIMEOUT)
        other.user(user)
        with self.assertRaisesRegex(poplib.error_proto, r"\[IN-USE\]"):
            other.pass_(PASSWORD)
        holder.quit()
        # Released: the other node's session gets the maildrop now.
        other.user(user)
        self.assertEqual(other.pass_(PASSWORD)[:3], b"+OK")
        self.assertEqual(other.stat()[0], 1)
        other.quit()

    def test_a_killed_node_leaves_no_lock(self):
        user = self.account()
        doomed = Node("POP3doomed")
        doomed.start()
        try:
            holder = self.pop3(doomed, user)
            self.assertEqual(holder.stat()[0], 0)
        finally:
            doomed.kill()  # SIGKILL: no QUIT, no clean-up in the node
        deadline = time.monotonic() + 10
        while True:
            try:
                p = self.pop3(self.nodes[0], user)
                break
            except poplib.error_proto as e:
                if b"IN-USE" not in e.args[0] or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        p.quit()

    def test_idle_on_one_node_woken_by_a_delivery_on_the_other(self):
        a, b = self.nodes
        user = self.account()
        i = imaplib.IMAP4(HOST, a.ports["imap"], timeout=TIMEOUT)
        i.login(user, PASSWORD)
        self.assertEqual(i.select("INBOX")[1], [b"0"])
        i.send(b"w1 IDLE\r\n")
        self.assertEqual(i.readline().strip(), b"+ idling")
        started = time.monotonic()
        self.deliver(b, user, "across nodes")
        self.assertEqual(i.readline().strip(), b"* 1 EXISTS")
        self.assertLess(time.monotonic() - started, 5.0)
        i.send(b"DONE\r\n")
        self.assertEqual(i.readline().strip(), b"w1 OK IDLE terminated")
        i.logout()

    def test_pop3_and_imap_see_each_others_deletions(self):
        a, b = self.nodes
        user = self.account()
        for subject in ("first", "second", "third"):
            self.deliver(a, user, subject)
        p = self.pop3(a, user)
        self.assertEqual(p.stat()[0], 3)
        p.dele(1)
        p.quit()  # UPDATE state: the deletion happens now
        i = imaplib.IMAP4(HOST, b.ports["imap"], timeout=TIMEOUT)
        i.login(user, PASSWORD)
        typ, data = i.select("INBOX")
        self.assertEqual(data, [b"2"])
        typ, data = i.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects = [item[1] for item in data if isinstance(item, tuple)]
        self.assertEqual(subjects, [b"Subject: second\r\n\r\n", b"Subject: third\r\n\r\n"])
        i.store("1", "+FLAGS", "(\\Deleted)")
        i.expunge()
        i.logout()
        p = self.pop3(b, user)
        count, _ = p.stat()
        self.assertEqual(count, 1)
        self.assertIn(b"Subject: third", b"\r\n".join(p.retr(1)[1]))
        p.quit()


if __name__ == "__main__":
    unittest.main(verbosity=2)
