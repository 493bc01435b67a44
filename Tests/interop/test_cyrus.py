"""Cyrus SASL authentication: Petrel calls libsasl2's sasl_checkpass with its own SASL
configuration (pwcheck_method: saslauthd), and a real saslauthd (Debian's sasl2-bin,
sasl_peer.SaslauthdInstance) checks the password with `-a rimap` against Petrel's own IMAP.

The domain cyrus.test authenticates with the `cyrus` backend, passing the local part and the
realm example.test; saslauthd (-r) joins them, so rimap logs in to Petrel as
sasluser@example.test, an ordinary account of the accounts table. The login
sasluser@cyrus.test therefore succeeds exactly when saslauthd says the password is right.
Covered: SMTP AUTH PLAIN and LOGIN (smtplib), IMAP LOGIN (imaplib), POP3 USER/PASS (poplib), a
wrong password, `petrel auth test` naming the backend, and saslauthd gone (temporary failures).
"""

import imaplib
import os
import poplib
import smtplib
import subprocess
import unittest

from petrel_interop import BIN, HOST, TIMEOUT, Node, environment, petrel, petrel_env, tls_context, workdir
from sasl_peer import SaslauthdInstance

PASSWORD = "sasl-secret"


def setUpModule():
    environment()


class CyrusSASL(unittest.TestCase):
    node = None
    saslauthd = None

    @classmethod
    def setUpClass(cls):
        environment()
        petrel("user", "add", "sasluser@example.test", "--password-stdin", stdin=(PASSWORD + "\n").encode())
        if "cyrus.test" not in petrel("domain", "list"):
            petrel("domain", "add", "cyrus.test")
        petrel("domain", "auth", "set", "cyrus.test", "cyrus", "--username", "local_part", "--realm", "example.test")
        cls.sasl_dir = os.path.join(workdir(), "sasl2")
        os.makedirs(cls.sasl_dir, exist_ok=True)
        cls.node = Node("CyrusNode", auth={"cyrus": "{app_name: petrel, config_dir: %s}" % cls.sasl_dir})
        cls.node.start()
        cls.saslauthd = SaslauthdInstance(imap_port=cls.node.ports["imap"])
        cls.saslauthd.start()
        with open(os.path.join(cls.sasl_dir, "petrel.conf"), "w") as f:
            f.write("pwcheck_method: saslauthd\nsaslauthd_path: %s\nmech_list: PLAIN LOGIN\n" % cls.saslauthd.mux_path)

    @classmethod
    def tearDownClass(cls):
        cls.saslauthd.close()
        cls.node.stop()
        petrel("domain", "auth", "set", "cyrus.test", "sql")

    def smtp(self):
        s = smtplib.SMTP(HOST, self.node.ports["submission"], local_hostname="client.test", timeout=TIMEOUT)
        s.starttls(context=tls_context())
        s.ehlo()
        return s

    def auth_test(self, password):
        return subprocess.run([BIN, "auth", "test", "sasluser@cyrus.test"], input=(password + "\n").encode(),
                              capture_output=True, env=petrel_env(self.node.config), timeout=60)

    def test_plain_and_login_over_smtp(self):
        for mechanism in ("PLAIN", "LOGIN"):
            with self.smtp() as s:
                s.user, s.password = "sasluser@cyrus.test", PASSWORD   # what smtplib's auth_plain/auth_login read
                method = s.auth_plain if mechanism == "PLAIN" else s.auth_login
                self.assertEqual(s.auth(mechanism, method, initial_response_ok=False)[0], 235, mechanism)
        with self.smtp() as s:
            with self.assertRaises(smtplib.SMTPAuthenticationError) as refused:
                s.login("sasluser@cyrus.test", "wrong")
            self.assertEqual(refused.exception.smtp_code, 535)
        # saslauthd's rimap really asked Petrel's IMAP, with the realm joined on.
        self.assertIn("sasluser@example.test", self.node.log())

    def test_imap_and_pop3(self):
        with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
            self.assertEqual(imap.login("sasluser@cyrus.test", PASSWORD)[0], "OK")
        with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
            with self.assertRaisesRegex(imaplib.IMAP4.error, r"AUTHENTICATIONFAILED"):
                imap.login("sasluser@cyrus.test", "wrong")
        p = poplib.POP3(HOST, self.node.ports["pop3"], timeout=TIMEOUT)
        p.user("sasluser@cyrus.test")
        self.assertTrue(p.pass_(PASSWORD).startswith(b"+OK"))
        p.quit()

    def test_auth_test_names_the_backend(self):
        r = self.auth_test(PASSWORD)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(b"accepted: sasluser@cyrus.test (backend cyrus", r.stdout)
        r = self.auth_test("wrong")
        self.assertEqual(r.returncode, 1, r)

    def test_saslauthd_gone_is_temporary(self):
        self.saslauthd.stop()
        try:
            with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
                with self.assertRaisesRegex(imaplib.IMAP4.error, r"UNAVAILABLE"):
                    imap.login("sasluser@cyrus.test", PASSWORD)
            with self.smtp() as s:
                with self.assertRaises(smtplib.SMTPAuthenticationError) as refused:
                    s.login("sasluser@cyrus.test", PASSWORD)
                self.assertEqual(refused.exception.smtp_code, 454)
        finally:
            self.saslauthd.start()
        with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
            self.assertEqual(imap.login("sasluser@cyrus.test", PASSWORD)[0], "OK")


if __name__ == "__main__":
    unittest.main()
