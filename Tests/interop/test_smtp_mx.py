"""The MX listener (port 25), plain: delivery to local users, aliases and subaddresses, the
null sender, dot-stuffing and 8-bit bodies, BDAT, no SMTP smuggling, and what it refuses:
unknown users, relaying, AUTH, an over-size declaration, an access rule, a full quota.
Shared helpers and the provisioned environment: petrel_interop.py.
"""

import base64
import re
import smtplib
import unittest

from petrel_interop import (HOST, HOSTNAME, MAX_SIZE, PASSWORDS, TIMEOUT, NodeTests, copies, environment,
                            make_message, marker, psql)


def setUpModule():
    environment()


class SMTPMX(NodeTests, unittest.TestCase):
    # --- MX listener, plain ----------------------------------------------------------------------

    def test_mx_greeting_and_ehlo(self):
        s = smtplib.SMTP(timeout=TIMEOUT)
        self.addCleanup(self.hang_up, s)
        code, banner = s.connect(HOST, self.port("smtp"))
        self.assertEqual(code, 220)
        self.assertRegex(banner.decode(), r"^%s ESMTP\b" % re.escape(HOSTNAME))
        code, _ = s.ehlo("client.test")
        self.assertEqual(code, 250)
        for ext in ("pipelining", "8bitmime", "enhancedstatuscodes", "starttls", "smtputf8", "chunking"):
            self.assertTrue(s.has_extn(ext), "EHLO lacks %s: %s" % (ext, s.esmtp_features))
        self.assertEqual(s.esmtp_features.get("size"), str(MAX_SIZE))
        self.assertFalse(s.has_extn("auth"), "AUTH offered on the MX listener: %s" % s.esmtp_features)

    def test_mx_delivery_to_local_user(self):
        mark = marker()
        msg = make_message("plain delivery " + mark)
        s = self.connect()
        s.ehlo()
        qid = self.transact(s, "sender@remote.test", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTP", queue_id=qid,
                         for_rcpt="demo@example.test", original=msg)

    def test_mx_sendmail_helo_only(self):
        mark = marker()
        msg = make_message("helo " + mark)
        s = self.connect(helo="old.client.test")
        s.helo()
        self.assertEqual(s.sendmail("sender@remote.test", ["other@example.test"], msg), {})
        copy = self.one_copy(mark, "other@example.test")
        self.assert_copy(copy, "sender@remote.test", "other@example.test", "SMTP", helo="old.client.test",
                         original=msg)

    def test_mx_unknown_user_550(self):
        mark = marker()
        s = self.connect()
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            s.sendmail("sender@remote.test", ["nobody@example.test"], make_message(mark, to="nobody@example.test"))
        code, text = cm.exception.recipients["nobody@example.test"]
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.1.1 "), text)
        self.assertEqual(copies(mark), [])

    def test_mx_relay_denied_554(self):
        mark = marker()
        s = self.connect()
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            s.sendmail("sender@remote.test", ["someone@elsewhere.test"], make_message(mark, to="someone@elsewhere.test"))
        code, text = cm.exception.recipients["someone@elsewhere.test"]
        self.assertEqual(code, 554)
        self.assertTrue(text.startswith(b"5.7.1 "), text)
        self.assertIn(b"Relay access denied", text)
        self.assertEqual(psql("SELECT count(*) FROM outbound_recipients WHERE recipient = 'someone@elsewhere.test';"),
                         [["0"]])

    def test_mx_some_recipients_refused(self):
        mark = marker()
        msg = make_message("partial " + mark)
        s = self.connect()
        refused = s.sendmail("sender@remote.test", ["nobody@example.test", "demo@example.test"], msg)
        self.assertEqual(list(refused), ["nobody@example.test"])
        self.assertEqual(refused["nobody@example.test"][0], 550)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTP", original=msg)

    def test_mx_alias_and_subaddress(self):
        mark = marker()
        msg = make_message("alias " + mark, to="team@example.test")
        s = self.connect()
        s.ehlo()
        qid = self.transact(s, "sender@remote.test", ["Team@Example.TEST", "demo+lists@example.test"], msg)
        found = copies(mark)
        # team -> demo, other; demo+lists -> demo: one copy each, sharing one body row.
        self.assertEqual([c["address"] for c in found], ["demo@example.test", "other@example.test"])
        self.assertEqual(found[0]["body_id"], found[1]["body_id"])
        for c in found:
            self.assert_copy(c, "sender@remote.test", c["address"], "ESMTP", queue_id=qid, original=msg)

    def test_mx_dot_stuffing_and_8bit_body(self):
        mark = marker()
        body = b".\r\n..two dots\r\n.one dot\r\n. space\r\n8-bit, not UTF-8: caf\xe9 \xff\r\n"
        msg = make_message("dots " + mark, body=body)
        s = self.connect()
        s.ehlo()
        qid = self.transact(s, "sender@remote.test", ["demo@example.test"], msg, mail_options=["BODY=8BITMIME"])
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTP", queue_id=qid, original=msg)

    def test_mx_no_smtp_smuggling(self):
        # Only CRLF.CRLF ends DATA: an "end of data" with a bare LF or CR (the SMTP smuggling
        # variants, CVE-2023-51764 and kin) must not end the message and let the rest be read
        # as commands of a second transaction.
        for eod in (b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"):
            with self.subTest(eod=eod):
                outer, inner = marker(), marker()
                s = self.connect()
                s.ehlo()
                self.assertEqual(s.mail("sender@remote.test")[0], 250)
                self.assertEqual(s.rcpt("demo@example.test")[0], 250)
                self.assertEqual(s.docmd("DATA")[0], 354)
                s.send(b"Subject: " + outer.encode() + b"\r\n\r\nbody" + eod +
                       b"MAIL FROM:<spoof@example.test>\r\nRCPT TO:<other@example.test>\r\nDATA\r\n"
                       b"Subject: " + inner.encode() + b"\r\n\r\nsmuggled\r\n.\r\n")
                code, resp = s.getreply()
                self.assertEqual(code, 250, resp)
                self.assertEqual(s.docmd("HELP")[0], 214, "replies out of step: smuggled commands were run")
                self.assertEqual([c["address"] for c in copies(inner)], ["demo@example.test"])
                self.assertEqual([c["address"] for c in copies(outer)], ["demo@example.test"])

    def test_mx_null_sender(self):
        mark = marker()
        msg = make_message("bounce " + mark, sender="MAILER-DAEMON@remote.test")
        s = self.connect()
        s.ehlo()
        qid = self.transact(s, "<>", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "", "demo@example.test", "ESMTP", queue_id=qid, original=msg)

    def test_mx_bdat_chunking(self):
        mark = marker()
        msg = make_message("chunks " + mark, body="first line\r\n.\r\nnot the end, no dot-stuffing in BDAT\r\n")
        s = self.connect()
        s.ehlo()
        self.assertTrue(s.has_extn("chunking"))
        self.assertEqual(s.mail("sender@remote.test")[0], 250)
        self.assertEqual(s.rcpt("demo@example.test")[0], 250)
        cut = len(msg) // 2
        s.send(b"BDAT %d\r\n" % cut + msg[:cut])
        code, resp = s.getreply()
        self.assertEqual(code, 250, resp)
        s.send(b"BDAT %d LAST\r\n" % (len(msg) - cut) + msg[cut:])
        code, resp = s.getreply()
        self.assertEqual(code, 250, resp)
        qid = re.search(rb"queued as ([A-Za-z0-9]+)", resp).group(1).decode()
        self.assertEqual(s.noop()[0], 250)  # the session is still in step
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTP", queue_id=qid, original=msg)

    def test_mx_declared_size_over_limit_552(self):
        s = self.connect()
        s.ehlo()
        code, resp = s.mail("sender@remote.test", ["SIZE=%d" % (MAX_SIZE + 1)])
        self.assertEqual(code, 552, resp)
        self.assertTrue(resp.startswith(b"5.3.4 "), resp)
        self.assertEqual(s.rset()[0], 250)

    def test_mx_auth_refused(self):
        s = self.connect()
        s.ehlo()
        token = base64.b64encode(b"\0demo@example.test\0" + PASSWORDS["demo@example.test"].encode()).decode()
        code, resp = s.docmd("AUTH", "PLAIN " + token)
        self.assertEqual(code, 503, resp)
        code, resp = s.mail("demo@example.test")
        self.assertEqual(code, 250, resp)  # still an MX session: MAIL works, relaying does not
        code, resp = s.rcpt("someone@elsewhere.test")
        self.assertEqual(code, 554, resp)

    def test_mx_access_rule_rejects_sender(self):
        mark = marker()
        s = self.connect()
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("spammer@remote.test", ["demo@example.test"], make_message(mark, sender="spammer@remote.test"))
        self.assertEqual(cm.exception.smtp_code, 554)
        self.assertIn(b"No spam from you", cm.exception.smtp_error)
        self.assertEqual(copies(mark), [])

    def test_mx_quota_exceeded(self):
        mark = marker()
        # about 2.5 KB against a 1 KiB quota
        msg = make_message("too big for the quota " + mark, to="small@example.test", body=("y" * 76 + "\r\n") * 30)
        s = self.connect()
        s.ehlo()
        s.mail("sender@remote.test")
        self.assertEqual(s.rcpt("small@example.test")[0], 250)
        code, resp = s.data(msg)
        self.assertIn(code, (452, 552), resp)
        self.assertRegex(resp.decode(), r"^[45]\.2\.2 ")
        self.assertEqual(copies(mark), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
