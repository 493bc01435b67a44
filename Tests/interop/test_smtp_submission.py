"""STARTTLS on the MX listener, and mail submission: AUTH PLAIN and LOGIN on the submission
listener (587) with and without STARTTLS, implicit TLS on submissions (465), sender ownership,
relaying for authenticated users, and SMTPUTF8 (UTF-8 addresses and a UTF-8 SASL login).
Shared helpers and the provisioned environment: petrel_interop.py.
"""

import base64
import smtplib
import unittest

from petrel_interop import NodeTests, PASSWORDS, environment, make_message, marker, psql, queued, tls_context


def setUpModule():
    environment()


class SMTPSubmission(NodeTests, unittest.TestCase):
    # --- STARTTLS on the MX listener -------------------------------------------------------------

    def test_starttls_delivery(self):
        mark = marker()
        msg = make_message("starttls " + mark)
        s = self.connect()
        s.ehlo()
        code, resp = s.starttls(context=tls_context())
        self.assertEqual(code, 220, resp)
        version = s.sock.version()
        self.assertTrue(version.startswith("TLSv1."), version)
        # With TLS 1.3 OpenSSL names the suite as IANA does: the client's view must match.
        cipher = s.sock.cipher()[0] if version == "TLSv1.3" else None
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"), "STARTTLS offered again inside TLS")
        qid = self.transact(s, "sender@remote.test", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTPS", queue_id=qid, tls=version,
                         cipher=cipher, original=msg)

    # --- submission: AUTH ------------------------------------------------------------------------

    def login(self, s, user, mechanism):
        s.user, s.password = user, PASSWORDS.get(user, "wrong")
        return s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))

    def test_submission_requires_auth_530(self):
        s = self.connect("submission")
        s.ehlo()
        self.assertIn("PLAIN", s.esmtp_features.get("auth", "").split())
        self.assertIn("LOGIN", s.esmtp_features.get("auth", "").split())
        code, resp = s.mail("demo@example.test")
        self.assertEqual(code, 530, resp)
        self.assertTrue(resp.startswith(b"5.7.0 "), resp)

    def test_auth_wrong_password_535(self):
        for mechanism in ("PLAIN", "LOGIN"):
            with self.subTest(mechanism=mechanism):
                s = self.connect("submission")
                s.ehlo()
                s.user, s.password = "demo@example.test", "not-the-password"
                with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                    s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))
                self.assertEqual(cm.exception.smtp_code, 535)
                self.assertTrue(cm.exception.smtp_error.startswith(b"5.7.8 "), cm.exception.smtp_error)
                code, resp = s.mail("demo@example.test")
                self.assertEqual(code, 530, resp)  # still not authenticated

    def test_auth_plain_relays_to_remote(self):
        mark = marker()
        msg = make_message("submitted " + mark, sender="demo@example.test", to="friend@elsewhere.test")
        s = self.connect("submission")
        s.ehlo()
        code, resp = self.login(s, "demo@example.test", "PLAIN")
        self.assertEqual(code, 235, resp)
        qid = self.transact(s, "demo@example.test", ["friend@elsewhere.test", "other@example.test"], msg)
        self.assertEqual(queued(qid), ("demo@example.test", "demo@example.test", False, False,
                                       [("friend@elsewhere.test", "queued")]))
        copy = self.one_copy(mark, "other@example.test")
        self.assert_copy(copy, "demo@example.test", "other@example.test", "ESMTPA", queue_id=qid, original=msg)

    def test_auth_login_delivery(self):
        mark = marker()
        msg = make_message("login " + mark, sender="other@example.test")
        s = self.connect("submission")
        s.ehlo()
        code, resp = self.login(s, "other@example.test", "LOGIN")
        self.assertEqual(code, 235, resp)
        qid = self.transact(s, "other@example.test", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "other@example.test", "demo@example.test", "ESMTPA", queue_id=qid,
                         for_rcpt="demo@example.test", original=msg)
        self.assertIsNone(queued(qid))

    def test_auth_sender_not_owned_553(self):
        mark = marker()
        s = self.connect("submission")
        s.ehlo()
        self.assertEqual(self.login(s, "demo@example.test", "PLAIN")[0], 235)
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("other@example.test", ["friend@elsewhere.test"], make_message(mark, sender="other@example.test"))
        self.assertEqual(cm.exception.smtp_code, 553)
        self.assertTrue(cm.exception.smtp_error.startswith(b"5.7.1 "), cm.exception.smtp_error)
        self.assertEqual(psql("SELECT count(*) FROM outbound_recipients WHERE recipient = 'friend@elsewhere.test' "
                              "AND message_id IN (SELECT id FROM outbound_messages WHERE sender = 'other@example.test');"),
                         [["0"]])

    def test_submission_starttls_then_auth(self):
        mark = marker()
        msg = make_message("tls+auth " + mark, sender="demo@example.test", to="friend@elsewhere.test")
        s = self.connect("submission")
        s.starttls(context=tls_context())
        version = s.sock.version()
        s.ehlo()
        self.assertIn("PLAIN", s.esmtp_features.get("auth", "").split())
        s.login("demo@example.test", PASSWORDS["demo@example.test"])
        qid = self.transact(s, "demo@example.test", ["friend@elsewhere.test", "demo@example.test"], msg)
        self.assertEqual(queued(qid)[4], [("friend@elsewhere.test", "queued")])
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "demo@example.test", "demo@example.test", "ESMTPSA", queue_id=qid, tls=version,
                         original=msg)

    # --- submissions: implicit TLS ---------------------------------------------------------------

    def test_smtps_delivery(self):
        mark = marker()
        msg = make_message("smtps " + mark, sender="other@example.test")
        s = self.connect("submissions", ssl_wrap=True)
        version = s.sock.version()
        self.assertTrue(version.startswith("TLSv1."), version)
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"), "STARTTLS offered on implicit TLS")
        self.assertEqual(s.login("other@example.test", PASSWORDS["other@example.test"])[0], 235)
        qid = self.transact(s, "other@example.test", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "other@example.test", "demo@example.test", "ESMTPSA", queue_id=qid, tls=version,
                         original=msg)

    # --- SMTPUTF8 --------------------------------------------------------------------------------

    def test_smtputf8_local_part(self):
        mark = marker()
        msg = make_message("Grüße aus Köln ☃ " + mark, sender="jörg@remote.test", to="jöran@example.test",
                           body="Hällo wörld, 你好 ☃\r\n")
        s = self.connect()
        s.ehlo()
        self.assertTrue(s.has_extn("smtputf8"))
        refused = s.sendmail("jörg@remote.test", ["jöran@example.test"], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        self.assertEqual(refused, {})
        copy = self.one_copy(mark, "jöran@example.test")
        self.assert_copy(copy, "jörg@remote.test", "jöran@example.test", "UTF8SMTP",
                         for_rcpt="jöran@example.test", original=msg)

    def test_non_ascii_address_needs_smtputf8_553(self):
        s = self.connect()
        s.ehlo()
        s.command_encoding = "utf-8"  # send the address raw, without declaring SMTPUTF8
        code, resp = s.mail("jörg@remote.test")
        self.assertEqual(code, 553, resp)
        self.assertTrue(resp.startswith(b"5.6.7 "), resp)

    def test_smtputf8_submission_utf8_login_queues_flags(self):
        mark = marker()
        msg = make_message("Ünïcödé " + mark, sender="jöran@example.test", to="ünï@elsewhere.test",
                           body="8-bit body: ½ ☃\r\n")
        s = self.connect("submission")
        s.ehlo()
        # RFC 4616: the PLAIN authcid is UTF-8 (smtplib's own auth() only does ASCII).
        token = base64.b64encode("\0jöran@example.test\0{}".format(PASSWORDS["jöran@example.test"]).encode())
        code, resp = s.docmd("AUTH", "PLAIN " + token.decode())
        self.assertEqual(code, 235, resp)
        qid = self.transact(s, "jöran@example.test", ["ünï@elsewhere.test", "jöran@example.test"], msg,
                            mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        self.assertEqual(queued(qid), ("jöran@example.test", "jöran@example.test", True, True,
                                       [("ünï@elsewhere.test", "queued")]))
        copy = self.one_copy(mark, "jöran@example.test")
        self.assert_copy(copy, "jöran@example.test", "jöran@example.test", "UTF8SMTPA", queue_id=qid, original=msg)


if __name__ == "__main__":
    unittest.main(verbosity=2)
