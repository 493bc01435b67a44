"""Self-test of the throwaway slapd (ldap_peer.py), with OpenLDAP's own clients (ldapwhoami,
ldapsearch of ldap-utils) and openssl. It needs no Petrel and no database, and takes about a
second. Root is not needed.
"""

import os
import subprocess
import time
import unittest

from outbound_peer_base import tcp_listening
from ldap_peer import SlapdInstance

INVALID_CREDENTIALS = 49


class SlapdTests(unittest.TestCase):
    """One slapd for the class, left as it was by every test."""

    @classmethod
    def setUpClass(cls):
        cls.ldap = SlapdInstance().start()

    @classmethod
    def tearDownClass(cls):
        cls.ldap.close()

    def whoami(self, mail, password, **kw):
        return self.ldap.ldap_tool("ldapwhoami", bind_dn=self.ldap.user_dn(mail), password=password, **kw)

    def test_addresses_and_users(self):
        ldap = self.ldap
        self.assertEqual(ldap.uri, "ldap://127.0.0.1:%d" % ldap.port)
        self.assertEqual(ldap.ldaps_uri, "ldaps://127.0.0.1:%d" % ldap.ldaps_port)
        self.assertNotEqual(ldap.port, ldap.ldaps_port)
        self.assertEqual(ldap.users, {"alice@ldap.test": "alice-secret", "bob@ldap.test": "bob-secret",
                                      "nopass@ldap.test": None, "star@ldap.test": "star-secret"})
        self.assertEqual((ldap.base_dn, ldap.people_dn, ldap.service_dn, ldap.service_password),
                         ("dc=ldap,dc=test", "ou=people,dc=ldap,dc=test", "cn=petrel,ou=services,dc=ldap,dc=test",
                          "service-secret"))
        self.assertEqual(ldap.user_dn("alice@ldap.test"), "uid=alice,ou=people,dc=ldap,dc=test")

    def test_simple_bind_as_each_user(self):
        for mail, password in self.ldap.users.items():
            if password is None:
                continue
            r = self.whoami(mail, password)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "dn:" + self.ldap.user_dn(mail)), r.stderr)
        r = self.ldap.ldap_tool("ldapwhoami", bind_dn=self.ldap.service_dn, password="service-secret")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "dn:" + self.ldap.service_dn), r.stderr)

    def test_wrong_or_missing_password_fails(self):
        for mail, password in (("alice@ldap.test", "bob-secret"), ("alice@ldap.test", "ALICE-SECRET"),
                               ("bob@ldap.test", "alice-secret"), ("nopass@ldap.test", "anything"),
                               ("star@ldap.test", "*")):
            r = self.whoami(mail, password)
            self.assertEqual(r.returncode, INVALID_CREDENTIALS, (mail, password, r.stdout, r.stderr))
        # An empty password is an unauthenticated bind, which slapd refuses outright.
        r = self.whoami("nopass@ldap.test", "")
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_anonymous_search_finds_nothing(self):
        self.assertEqual(self.ldap.search("(objectClass=*)", bind_dn=""), [])
        self.assertEqual(self.ldap.search("(mail=alice@ldap.test)", bind_dn=""), [])
        self.assertEqual(self.ldap.search("(uid=*)", base=self.ldap.people_dn, bind_dn=""), [])

    def test_service_account_reads_alice_but_no_password(self):
        entries = self.ldap.search("(mail=alice@ldap.test)", ["mail", "uid", "displayName", "mailAlternateAddress",
                                                              "mailQuota", "userPassword"])
        self.assertEqual(len(entries), 1, entries)
        dn, attrs = entries[0]
        self.assertEqual(dn, "uid=alice,ou=people,dc=ldap,dc=test")
        self.assertEqual(attrs, {"mail": ["alice@ldap.test"], "uid": ["alice"], "displayName": ["Alice Smith"],
                                 "mailAlternateAddress": ["a.smith@ldap.test"], "mailQuota": ["1000000"]})
        (_, everything), = self.ldap.search("(mail=alice@ldap.test)")
        self.assertNotIn("userPassword", everything)
        self.assertEqual(sorted(everything["objectClass"]), ["inetOrgPerson", "petrelMailRecipient"])
        # The alternate address finds the entry too, case-insensitively (caseIgnoreIA5Match).
        self.assertEqual([dn for dn, _ in self.ldap.search("(mailAlternateAddress=A.Smith@LDAP.test)")], [dn])
        # The root DN sees the hash: it is {SSHA}.
        (_, root_view), = self.ldap.search("(mail=alice@ldap.test)", ["userPassword"], bind_dn=self.ldap.root_dn,
                                           password=self.ldap.root_password)
        self.assertTrue(root_view["userPassword"][0].startswith("{SSHA}"), root_view)

    def test_other_people(self):
        found = {attrs["mail"][0]: attrs for _, attrs in self.ldap.search("(objectClass=inetOrgPerson)",
                                                                           ["mail", "mailQuota"])}
        self.assertEqual(sorted(found), sorted(self.ldap.users))
        self.assertNotIn("mailQuota", found["bob@ldap.test"])

    def test_wildcards_only_when_unescaped(self):
        everyone = self.ldap.search("(mail=*@ldap.test)", ["mail"])
        self.assertEqual(len(everyone), 4)
        self.assertEqual(self.ldap.search(r"(mail=\2a@ldap.test)", ["mail"]), [])
        self.assertEqual(self.ldap.search(r"(uid=star\2a)", ["mail"]), [])
        self.assertEqual([a["mail"] for _, a in self.ldap.search("(uid=star*)", ["mail"])], [["star@ldap.test"]])
        filters = self.ldap.search_filters()
        self.assertIn(r"(mail=\2A@ldap.test)", filters)
        self.assertIn("(mail=*@ldap.test)", filters)
        self.assertNotIn("(!(description=petrel-peer-probe))", filters)

    def test_starttls_with_the_ca(self):
        r = self.ldap.ldap_tool("ldapsearch", "-LLL", "-b", self.ldap.base_dn, "(uid=bob)", "mail",
                                bind_dn=self.ldap.service_dn, password="service-secret", starttls=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("mail: bob@ldap.test", r.stdout)
        r = self.whoami("alice@ldap.test", "alice-secret", starttls=True, ca=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("ldap_start_tls", r.stderr)

    def test_ldaps_with_the_ca_and_not_without(self):
        r = self.whoami("alice@ldap.test", "alice-secret", uri=self.ldap.ldaps_uri)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.whoami("alice@ldap.test", "alice-secret", uri=self.ldap.ldaps_uri, ca=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        # LDAPTLS_REQCERT=never (no check at all) gets through: it is the certificate that fails.
        r = self.whoami("alice@ldap.test", "alice-secret", uri=self.ldap.ldaps_uri,
                        env=self.ldap.client_env(ca=False, reqcert="never"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_certificate(self):
        ldap = self.ldap
        r = subprocess.run(["openssl", "verify", "-CAfile", ldap.ca_file, "-purpose", "sslserver", ldap.cert_file],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run(["openssl", "x509", "-in", ldap.cert_file, "-noout", "-ext", "subjectAltName"],
                           capture_output=True, text=True, timeout=30)
        self.assertIn("IP Address:127.0.0.1", r.stdout)
        self.assertIn("DNS:localhost", r.stdout)

    def test_binds_logged(self):
        self.whoami("bob@ldap.test", "bob-secret")
        self.assertIn("uid=bob,ou=people,dc=ldap,dc=test", self.ldap.bind_dns())


class SlapdLifecycleTests(unittest.TestCase):
    """Its own slapd: stopped, started again, paused, changed."""

    def setUp(self):
        self.ldap = SlapdInstance().start()
        self.addCleanup(self.ldap.close)

    def test_stop_then_start_on_the_same_ports_with_the_data(self):
        ldap = self.ldap
        port, ldaps_port = ldap.port, ldap.ldaps_port
        ldap.set_password("bob@ldap.test", "changed-secret")
        ldap.stop()
        self.assertFalse(tcp_listening("127.0.0.1", port) or tcp_listening("127.0.0.1", ldaps_port))
        r = ldap.ldap_tool("ldapsearch", "-b", ldap.base_dn, "(uid=alice)", bind_dn=ldap.service_dn,
                           password=ldap.service_password, timeout=2)
        self.assertEqual(r.returncode, 255, r.stdout)   # Can't contact LDAP server
        ldap.start()
        self.assertEqual((ldap.port, ldap.ldaps_port), (port, ldaps_port))
        self.assertEqual([a["mailQuota"] for _, a in ldap.search("(mail=alice@ldap.test)", ["mailQuota"])],
                         [["1000000"]])
        r = ldap.ldap_tool("ldapwhoami", bind_dn=ldap.user_dn("bob@ldap.test"), password="changed-secret")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(ldap.users["bob@ldap.test"], "changed-secret")

    def test_pause_makes_requests_time_out(self):
        ldap = self.ldap
        ldap.pause()
        started = time.monotonic()
        r = ldap.ldap_tool("ldapsearch", "-b", ldap.base_dn, "(uid=alice)", bind_dn=ldap.service_dn,
                           password=ldap.service_password, timeout=1)
        self.assertNotEqual(r.returncode, 0)
        self.assertLess(time.monotonic() - started, 5)
        ldap.resume()
        self.assertEqual(len(ldap.search("(uid=alice)")), 1)

    def test_close_removes_everything(self):
        workdir = self.ldap.workdir
        self.ldap.close()
        self.assertFalse(os.path.exists(workdir))


if __name__ == "__main__":
    unittest.main()
