"""LDAP authentication against a real OpenLDAP slapd (ldap_peer.SlapdInstance: 127.0.0.1 only,
StartTLS and ldaps with its own CA, a service account, users that only it knows).

Petrel searches with the service account for exactly one entry, then binds as it with the
user's password. The tests cover:
  - logins over IMAP (imaplib), SMTP submission (smtplib) and POP3 (poplib), each over StartTLS
    to slapd, with the account provisioned here on first login;
  - a wrong password, an unknown user, an empty password and a user without a password;
  - filter injection through the login name (`*`, `)(`, NUL), checked in slapd's own log of
    the filters it received;
  - recipients at RCPT (the directory user, its mailAlternateAddress, an unknown name);
  - ldaps:// with and without the directory's CA (certificate checking on);
  - slapd stopped mid-test: temporary failures everywhere, then recovery when it returns.
Shared helpers: petrel_interop.py.
"""

import base64
import imaplib
import os
import poplib
import smtplib
import time
import unittest

from ldap_peer import SlapdInstance
from petrel_interop import HOST, inbox_count, TIMEOUT, Node, environment, make_message, marker, petrel, petrel_run, psql, tls_context, workdir

DOMAIN = "ldap.test"
RECIPIENT_FILTER = "(&(objectClass=inetOrgPerson)(|(mail=%s)(mailAlternateAddress=%s)))"


def setUpModule():
    environment()


def set_ldap_backend(domain, slapd, *extra):
    secret = os.path.join(workdir(), "ldap-service.secret")
    with open(secret, "w") as f:
        f.write(slapd.service_password + "\n")
    petrel("domain", "auth", "set", domain, "ldap", "--bind-dn", slapd.service_dn, "--bind-password-file", secret,
           "--base-dn", slapd.people_dn, "--timeout", "2", *extra)


class LDAPLogins(unittest.TestCase):
    slapd = None
    node = None

    @classmethod
    def setUpClass(cls):
        environment()
        cls.slapd = SlapdInstance(extra_people=[
            {"mail": "carol@ldap.test", "uid": "carol", "password": "carol-secret", "cn": "Carol", "sn": "C"},
            {"mail": "dave@ldap.test", "uid": "dave", "password": "dave-secret", "cn": "Dave", "sn": "D"},
        ])
        cls.slapd.start()
        if "ldap.test" not in petrel("domain", "list"):
            petrel("domain", "add", DOMAIN)
        cls.use_starttls()
        cls.node = Node("LDAPNode")
        cls.node.start()

    @classmethod
    def use_starttls(cls):
        set_ldap_backend(DOMAIN, cls.slapd, "--uri", cls.slapd.uri, "--start-tls", "--ca-file", cls.slapd.ca_file,
                         "--recipient-filter", RECIPIENT_FILTER, "--alias-attribute", "mailAlternateAddress",
                         "--quota-attribute", "mailQuota")

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        petrel("domain", "auth", "set", DOMAIN, "sql")
        cls.slapd.close()

    def imap_login(self, user, password):
        with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
            return imap.login(user, password)[0]

    def test_imap_login_provisions_the_account(self):
        self.assertEqual(self.imap_login("alice@ldap.test", "alice-secret"), "OK")
        [[origin, quota, name, scheme]] = psql(
            "SELECT provisioned_from, quota_bytes, display_name, password_hash FROM accounts WHERE address = 'alice@ldap.test'")
        self.assertEqual((origin, quota, name, scheme), ("ldap", "1000000", "Alice Smith", "{LDAP}"))
        self.assertIn("INBOX", petrel("mailbox", "list", "alice@ldap.test"))
        # The mailAlternateAddress is an alias to the account.
        self.assertIn("alice@ldap.test", petrel("resolve", "a.smith@ldap.test"))
        # The user's DN was bound with the password; the search was the service account's, over StartTLS.
        self.assertIn(self.slapd.user_dn("alice@ldap.test"), self.slapd.bind_dns())
        self.assertIn("(&(objectClass=inetOrgPerson)(mail=alice@ldap.test))", self.slapd.search_filters())
        self.assertIn("oid=1.3.6.1.4.1.1466.20037", self.slapd.log())        # StartTLS (RFC 4511 §4.14)
        r = petrel_run("auth", "test", "alice@ldap.test", stdin=b"alice-secret\n")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(b"backend ldap", r.stdout)

    def test_smtp_and_pop3_logins(self):
        with smtplib.SMTP(HOST, self.node.ports["submission"], local_hostname="client.test", timeout=TIMEOUT) as s:
            s.starttls(context=tls_context())
            self.assertEqual(s.login("bob@ldap.test", "bob-secret")[0], 235)
            s.sendmail("bob@ldap.test", ["bob@ldap.test"], make_message("to myself", sender="bob@ldap.test", to="bob@ldap.test"))
        p = poplib.POP3(HOST, self.node.ports["pop3"], timeout=TIMEOUT)
        p.user("bob@ldap.test")
        self.assertTrue(p.pass_("bob-secret").startswith(b"+OK"))
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_refusals(self):
        binds_before = len(self.slapd.bind_dns())
        for user, password in [("bob@ldap.test", "wrong"), ("nobody@ldap.test", "bob-secret"),
                               ("nopass@ldap.test", "anything"), ("bob@ldap.test", "")]:
            with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
                with self.assertRaisesRegex(imaplib.IMAP4.error, r"AUTHENTICATIONFAILED", msg=(user, password)):
                    imap.login(user, password)
        with smtplib.SMTP(HOST, self.node.ports["submission"], local_hostname="client.test", timeout=TIMEOUT) as s:
            s.starttls(context=tls_context())
            s.ehlo()
            code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0bob@ldap.test\0").decode())
            self.assertEqual(code, 535)
        # An empty password never reaches the directory (no unauthenticated bind): the binds
        # since are the service account's and the two users' with a non-empty password.
        new_binds = self.slapd.bind_dns()[binds_before:]
        user_binds = [dn for dn in new_binds if dn != self.slapd.service_dn]
        self.assertEqual(user_binds, [self.slapd.user_dn("bob@ldap.test"), self.slapd.user_dn("nopass@ldap.test")])

    def test_filter_injection(self):
        """Wildcards and filter syntax in the login name are literals: star@ldap.test's password
        does not open it under another name, and slapd received the escaped values."""
        attempts = ["*@ldap.test", "st*@ldap.test", '"*)(mail=*"@ldap.test', '"x)(|(uid=*"@ldap.test']
        for user in attempts:
            with smtplib.SMTP(HOST, self.node.ports["submission"], local_hostname="client.test", timeout=TIMEOUT) as s:
                s.starttls(context=tls_context())
                s.ehlo()
                token = base64.b64encode(b"\0" + user.encode() + b"\0star-secret").decode()
                code, text = s.docmd("AUTH", "PLAIN " + token)
                self.assertEqual(code, 535, (user, text))
        # NUL inside the login name (SASL LOGIN carries it): refused before any look-up.
        with smtplib.SMTP(HOST, self.node.ports["submission"], local_hostname="client.test", timeout=TIMEOUT) as s:
            s.starttls(context=tls_context())
            s.ehlo()
            self.assertEqual(s.docmd("AUTH", "LOGIN " + base64.b64encode(b"star\0@ldap.test").decode())[0], 535)
        filters = self.slapd.search_filters()
        self.assertIn("(&(objectClass=inetOrgPerson)(mail=\\2A@ldap.test))", filters)
        self.assertIn("(&(objectClass=inetOrgPerson)(mail=st\\2A@ldap.test))", filters)
        for f in filters:
            self.assertNotIn("mail=*", f)
            self.assertNotIn("uid=*", f)
        self.assertNotIn(self.slapd.user_dn("star@ldap.test"), self.slapd.bind_dns())

    def test_recipients_at_rcpt(self):
        with smtplib.SMTP(HOST, self.node.ports["smtp"], local_hostname="client.test", timeout=TIMEOUT) as s:
            s.ehlo()
            self.assertEqual(s.mail("sender@remote.test")[0], 250)
            self.assertEqual(s.rcpt("carol@ldap.test")[0], 250)             # known only to the directory
            code, text = s.rcpt("nobody-%s@ldap.test" % marker()[-6:])
            self.assertEqual(code, 550, text)
            self.assertIn(b"5.1.1", text)
            self.assertEqual(s.rcpt("a.smith@ldap.test")[0], 250)           # alice's mailAlternateAddress
            code, _ = s.data(make_message("for carol", to="carol@ldap.test"))
            self.assertEqual(code, 250)
        self.assertEqual(inbox_count("carol@ldap.test"), 1)
        [[origin]] = psql("SELECT provisioned_from FROM accounts WHERE address = 'carol@ldap.test'")
        self.assertEqual(origin, "ldap")

    def test_ldaps_checks_the_certificate(self):
        try:
            for extra, expect in [(["--ca-file", self.slapd.ca_file], "OK"), ([], "UNAVAILABLE")]:
                set_ldap_backend(DOMAIN, self.slapd, "--uri", self.slapd.ldaps_uri, *extra)
                with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
                    if expect == "OK":
                        self.assertEqual(imap.login("dave@ldap.test", "dave-secret")[0], "OK")
                    else:
                        with self.assertRaisesRegex(imaplib.IMAP4.error, expect):
                            imap.login("dave@ldap.test", "dave-secret")
        finally:
            self.use_starttls()

    def test_a_user_of_another_domain_is_refused(self):
        """Two domains on one directory with a uid filter: dave (mail dave@ldap.test) is not a
        user of other.test, and his password does not get him an account there."""
        if "other.test" not in petrel("domain", "list"):
            petrel("domain", "add", "other.test")
        set_ldap_backend("other.test", self.slapd, "--uri", self.slapd.uri, "--start-tls", "--ca-file", self.slapd.ca_file,
                         "--filter", "(&(objectClass=inetOrgPerson)(uid=%u))")
        try:
            with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
                with self.assertRaisesRegex(imaplib.IMAP4.error, "AUTHENTICATIONFAILED"):
                    imap.login("dave@other.test", "dave-secret")
            self.assertEqual(psql("SELECT count(*) FROM accounts WHERE address = 'dave@other.test'"), [["0"]])
        finally:
            petrel("domain", "auth", "set", "other.test", "sql")

    def test_directory_down_then_back(self):
        # A first login, so that the pool holds connections that will be dead.
        self.assertEqual(self.imap_login("dave@ldap.test", "dave-secret"), "OK")
        self.slapd.stop()
        try:
            with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
                with self.assertRaisesRegex(imaplib.IMAP4.error, r"UNAVAILABLE"):
                    imap.login("dave@ldap.test", "dave-secret")
            with smtplib.SMTP(HOST, self.node.ports["submission"], local_hostname="client.test", timeout=TIMEOUT) as s:
                s.starttls(context=tls_context())
                with self.assertRaises(smtplib.SMTPAuthenticationError) as refused:
                    s.login("dave@ldap.test", "dave-secret")
                self.assertEqual(refused.exception.smtp_code, 454)
            p = poplib.POP3(HOST, self.node.ports["pop3"], timeout=TIMEOUT)
            p.user("dave@ldap.test")
            with self.assertRaisesRegex(poplib.error_proto, r"\[SYS/TEMP\]"):
                p.pass_("dave-secret")
            p.quit()
            with smtplib.SMTP(HOST, self.node.ports["smtp"], local_hostname="client.test", timeout=TIMEOUT) as s:
                s.ehlo()
                s.mail("sender@remote.test")
                code, text = s.rcpt("unknown-%s@ldap.test" % marker()[-6:])
                self.assertEqual(code, 451, text)                        # never a 5xx while the directory is away
            r = petrel_run("auth", "test", "dave@ldap.test", stdin=b"dave-secret\n")
            self.assertEqual(r.returncode, 2, r)
        finally:
            self.slapd.start()
        self.assertEqual(self.imap_login("dave@ldap.test", "dave-secret"), "OK")
        # A directory that accepts connections but never answers: the timeout (2 s) makes it temporary too.
        self.slapd.pause()
        try:
            started = time.monotonic()
            with imaplib.IMAP4(HOST, self.node.ports["imap"], timeout=TIMEOUT) as imap:
                with self.assertRaisesRegex(imaplib.IMAP4.error, r"UNAVAILABLE"):
                    imap.login("dave@ldap.test", "dave-secret")
            self.assertLess(time.monotonic() - started, TIMEOUT)
        finally:
            self.slapd.resume()
        self.assertEqual(self.imap_login("dave@ldap.test", "dave-secret"), "OK")


if __name__ == "__main__":
    unittest.main()
