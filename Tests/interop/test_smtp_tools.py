"""Outside SMTP clients against a node: swaks (STARTTLS, pipelining, AUTH PLAIN and LOGIN,
implicit TLS, a wrong password) and Postfix's smtp-source (parallel sessions, many messages on
one connection), checking the stored copies and the account and mailbox counters.
Shared helpers and the provisioned environment: petrel_interop.py.
"""

import os
import re
import shutil
import subprocess
import unittest

from petrel_interop import (HOST, PASSWORDS, TIMEOUT, NodeTests, copies, environment, inbox_count, marker,
                            queued, workdir)


def setUpModule():
    environment()


class SMTPTools(NodeTests, unittest.TestCase):
    def swaks(self, *args):
        path = shutil.which("swaks")
        if path is None:
            self.fail("swaks is not installed (scripts/install-deps.sh test)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWAKS_")}
        env["HOME"] = workdir()  # no ~/.swaksrc
        r = subprocess.run([path, "--timeout", str(TIMEOUT), *args], capture_output=True, env=env, timeout=60)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def smtp_source(self, *args):
        path = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
        if not os.access(path, os.X_OK):
            self.fail("smtp-source is not installed (Debian package postfix; scripts/install-deps.sh test)")
        r = subprocess.run([path, *args], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode(errors="replace"))

    # --- swaks -----------------------------------------------------------------------------------

    def swaks_send(self, listener, mark, *options, sender="sender@remote.test", to="demo@example.test"):
        code, out = self.swaks("--server", "%s:%d" % (HOST, self.port(listener)), "--helo", "swaks.test",
                               "--from", sender, "--to", to, "--header", "Subject: swaks " + mark,
                               "--body", "Sent by swaks.\n" + mark, *options)
        self.assertEqual(code, 0, out)
        qid = re.findall(r"queued as ([A-Za-z0-9]+)", out)
        self.assertEqual(len(qid), 1, out)
        return qid[0], out

    def test_swaks_mx_starttls_pipelining(self):
        mark = marker()
        qid, out = self.swaks_send("smtp", mark, "--tls", "--pipeline")
        self.assertIn("TLS started", out)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTPS", queue_id=qid, helo="swaks.test",
                         tls=re.search(r"TLS started with cipher (TLSv1\.\d)", out).group(1))
        self.assertIn(b"\r\n\r\nSent by swaks.\r\n" + mark.encode(), copy["data"])

    def test_swaks_submission_starttls_auth_plain_pipelining(self):
        mark = marker()
        qid, out = self.swaks_send("submission", mark, "--tls", "--pipeline", "--auth", "PLAIN",
                                   "--auth-user", "demo@example.test",
                                   "--auth-password", PASSWORDS["demo@example.test"],
                                   sender="demo@example.test")
        self.assertIn("AUTH PLAIN", out)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "demo@example.test", "demo@example.test", "ESMTPSA", queue_id=qid, helo="swaks.test",
                         tls=re.search(r"TLS started with cipher (TLSv1\.\d)", out).group(1))

    def test_swaks_submission_auth_login_remote(self):
        mark = marker()
        qid, out = self.swaks_send("submission", mark, "--auth", "LOGIN", "--auth-user", "other@example.test",
                                   "--auth-password", PASSWORDS["other@example.test"],
                                   sender="other@example.test", to="pal@elsewhere.test")
        self.assertIn("AUTH LOGIN", out)
        self.assertEqual(queued(qid), ("other@example.test", "other@example.test", False, False,
                                       [("pal@elsewhere.test", "queued")]))

    def test_swaks_smtps_auth_login(self):
        mark = marker()
        qid, out = self.swaks_send("submissions", mark, "--tlsc", "--auth", "LOGIN",
                                   "--auth-user", "other@example.test",
                                   "--auth-password", PASSWORDS["other@example.test"],
                                   sender="other@example.test")
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "other@example.test", "demo@example.test", "ESMTPSA", queue_id=qid, helo="swaks.test",
                         tls=re.search(r"TLS started with cipher (TLSv1\.\d)", out).group(1))

    def test_swaks_wrong_password(self):
        mark = marker()
        code, out = self.swaks("--server", "%s:%d" % (HOST, self.port("submission")), "--tls",
                               "--auth", "PLAIN", "--auth-user", "demo@example.test", "--auth-password", "nope",
                               "--from", "demo@example.test", "--to", "demo@example.test",
                               "--header", "Subject: " + mark)
        self.assertEqual(code, 28, out)  # swaks: error in AUTH transaction
        self.assertRegex(out, r"<~\*? +535 ")
        self.assertEqual(copies(mark), [])

    # --- Postfix smtp-source ---------------------------------------------------------------------

    def test_smtp_source_parallel_sessions(self):
        mark = marker()
        before = inbox_count("demo@example.test")
        self.smtp_source("-s", "5", "-m", "50", "-l", "4096", "-M", mark + ".test", "-f", "sender@remote.test",
                         "-t", "demo@example.test", "%s:%d" % (HOST, self.port("smtp")))
        self.assertEqual(inbox_count("demo@example.test") - before, 50)
        found = copies("from %s.test (" % mark)
        self.assertEqual(len(found), 50)
        for c in found:
            self.assert_copy(c, "sender@remote.test", "demo@example.test", "SMTP", helo=mark + ".test",
                             for_rcpt="demo@example.test")
            self.assertGreater(c["size"], 4096)
        self.assertEqual(len({c["body_id"] for c in found}), 50)
        self.assert_inbox_consistent("demo@example.test")

    def test_smtp_source_one_connection(self):
        mark = marker()
        before = inbox_count("other@example.test")
        self.smtp_source("-d", "-s", "2", "-m", "20", "-l", "1000", "-S", mark, "-M", "source.test",
                         "-f", "sender@remote.test", "-t", "other@example.test", "%s:%d" % (HOST, self.port("smtp")))
        self.assertEqual(inbox_count("other@example.test") - before, 20)
        found = copies("Subject: " + mark)
        self.assertEqual(len(found), 20)
        for c in found:
            self.assert_copy(c, "sender@remote.test", "other@example.test", "SMTP", helo="source.test")
        self.assert_inbox_consistent("other@example.test")


if __name__ == "__main__":
    unittest.main(verbosity=2)
