"""SIGTERM drains a node (`petrel serve --help`): each test starts nodes of its own.
Shared helpers and the provisioned environment: petrel_interop.py.
"""

import re
import signal
import smtplib
import socket
import time
import unittest

from petrel_interop import HOST, Node, copies, environment, header_fields, make_message, marker


def setUpModule():
    environment()


class SMTPDrain(unittest.TestCase):
    """SIGTERM drains (`petrel serve --help`): no new connections, open mail transactions
    finish, every other session gets 421, and the process exits 0."""

    def start_node(self, name):
        node = Node(name)
        node.start()
        self.addCleanup(node.kill)
        return node

    def session(self, node, helo, timeout=5):
        s = smtplib.SMTP(HOST, node.ports["smtp"], local_hostname=helo, timeout=timeout)
        self.addCleanup(s.close)
        self.assertEqual(s.ehlo()[0], 250)
        return s

    def open_data(self, s, msg):
        """MAIL, RCPT, DATA and the first bytes of msg: a transaction under way."""
        self.assertEqual(s.mail("sender@remote.test")[0], 250)
        self.assertEqual(s.rcpt("demo@example.test")[0], 250)
        self.assertEqual(s.docmd("DATA")[0], 354)
        s.send(msg[:20])

    def finish_data(self, s, msg):
        s.send(msg[20:] + b".\r\n")  # no line of msg starts with "."
        code, resp = s.getreply()
        self.assertEqual(code, 250, resp)
        return re.search(rb"queued as ([A-Za-z0-9]+)", resp).group(1).decode()

    def assert_told_421_and_closed(self, s, what):
        try:
            code, resp = s.getreply()  # unsolicited: this client sends nothing
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self.fail("%s: no 421 (%r)" % (what, e))
        self.assertEqual((code, resp[:6]), (421, b"4.3.2 "), what)
        with self.assertRaises(smtplib.SMTPServerDisconnected, msg=what):
            s.getreply()

    def test_sigterm_drains(self):
        node = self.start_node("drain")
        idle = self.session(node, "idle.test")
        busy = self.session(node, "busy.test")
        mark = marker()
        msg = make_message("drain " + mark)
        self.open_data(busy, msg)

        node.proc.send_signal(signal.SIGTERM)
        # The idle session is told at once; the busy one finishes its message, then is told.
        self.assert_told_421_and_closed(idle, "idle session")
        qid = self.finish_data(busy, msg)
        self.assert_told_421_and_closed(busy, "session after its transaction")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((HOST, node.ports["smtp"]), timeout=5).close()
        self.assertEqual(node.wait(30), 0, node.log())
        found = copies(mark)
        self.assertEqual(len(found), 1)
        self.assert_stored_id(found[0], qid)

    def assert_stored_id(self, copy, qid):
        self.assertRegex(header_fields(copy["data"])[2][1], r"\bid %s\b" % re.escape(qid))

    def test_sigterm_while_clients_connect(self):
        # Clients connecting while the listeners close must not bring the node down: the open
        # transaction still finishes and the exit status is 0. Several rounds: the window is narrow.
        for n in range(8):
            with self.subTest(round=n):
                node = self.start_node("connect-during-drain-%d" % n)
                busy = self.session(node, "busy.test")
                mark = marker()
                msg = make_message("drain %d %s" % (n, mark))
                self.open_data(busy, msg)
                node.proc.send_signal(signal.SIGTERM)
                for _ in range(200):  # connect (and hang up) until the listener is gone
                    try:
                        socket.create_connection((HOST, node.ports["smtp"]), timeout=5).close()
                    except (ConnectionRefusedError, ConnectionResetError):
                        break  # reset: accepted by the kernel as the listening socket closed
                    time.sleep(0.01)
                try:
                    qid = self.finish_data(busy, msg)
                except (smtplib.SMTPServerDisconnected, OSError) as e:
                    node.wait(30)
                    crash = re.search(r"^.*Fatal error.*$", node.log(), re.M)
                    self.fail("the open transaction was cut off (%r); petrel exited with %s: %s"
                              % (e, node.proc.returncode, crash.group(0) if crash else node.log()[-2000:]))
                self.assertEqual(node.wait(30), 0, node.log()[-3000:])
                found = copies(mark)
                self.assertEqual(len(found), 1)
                self.assert_stored_id(found[0], qid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
