"""Self-test of the throwaway saslauthd (sasl_peer.py): the tiny IMAP login server checked with
Python's imaplib, then saslauthd's rimap against it, asked with Cyrus SASL's testsaslauthd. It
needs no Petrel and no database, and takes well under a second. Root is not needed.
"""

import imaplib
import os
import unittest

from outbound_peer_base import free_port, process_alive, process_group_members
from sasl_peer import ImapLoginServer, SaslauthdInstance, unix_listening

USERS = {"alice@ldap.test": "alice-secret", "bob": 'quote" and back\\slash'}


class ImapLoginServerTests(unittest.TestCase):

    def test_login_and_logout_with_imaplib(self):
        with ImapLoginServer(USERS) as imap:
            client = imaplib.IMAP4("127.0.0.1", imap.port, timeout=10)
            self.assertIn("IMAP4REV1", client.capabilities)
            with self.assertRaises(imaplib.IMAP4.error):
                client.login("alice@ldap.test", "wrong")
            self.assertEqual(client.login("alice@ldap.test", "alice-secret")[0], "OK")
            self.assertEqual(client.logout()[0], "BYE")
            self.assertEqual(imap.logins(), [("alice@ldap.test", "wrong", False),
                                             ("alice@ldap.test", "alice-secret", True)])


class SaslauthdTests(unittest.TestCase):
    """One IMAP login server and one saslauthd (with -r) for the class."""

    @classmethod
    def setUpClass(cls):
        cls.imap = ImapLoginServer(USERS).start()
        cls.sasl = SaslauthdInstance(cls.imap.port).start()

    @classmethod
    def tearDownClass(cls):
        cls.sasl.close()
        cls.imap.stop()

    def test_socket_and_options(self):
        self.assertEqual(os.path.basename(self.sasl.mux_path), "mux")
        self.assertTrue(unix_listening(self.sasl.mux_path))
        self.assertEqual(self.sasl.sasl_options(), {"pwcheck_method": "saslauthd",
                                                    "saslauthd_path": self.sasl.mux_path,
                                                    "mech_list": "PLAIN LOGIN"})
        self.assertIn("-O 127.0.0.1/%d" % self.imap.port, " ".join(self.sasl.command()))

    def test_right_password(self):
        self.assertEqual(self.sasl.check("alice@ldap.test", "alice-secret"), (True, '0: OK "Success."'))
        self.assertEqual(self.imap.logins()[-1], ("alice@ldap.test", "alice-secret", True))

    def test_wrong_password_or_user(self):
        for user, password in (("alice@ldap.test", "wrong"), ("alice@ldap.test", "ALICE-SECRET"),
                               ("nobody@ldap.test", "alice-secret"), ("alice", "alice-secret")):
            accepted, output = self.sasl.check(user, password)
            self.assertFalse(accepted, (user, password))
            self.assertTrue(output.startswith("0: NO"), output)
            self.assertEqual(self.imap.logins()[-1], (user, password, False))
        self.assertIn((False, "alice@ldap.test", "", "remote server rejected your credentials"),
                      self.sasl.auth_results())

    def test_realm_is_put_back_on_the_login(self):
        # As libsasl2 sends "alice@ldap.test": login "alice", realm "ldap.test".
        self.assertTrue(self.sasl.check("alice", "alice-secret", realm="ldap.test")[0])
        self.assertEqual(self.imap.logins()[-1], ("alice@ldap.test", "alice-secret", True))

    def test_quotes_and_backslashes_reach_the_server_intact(self):
        self.assertTrue(self.sasl.check("bob", USERS["bob"])[0])
        self.assertEqual(self.imap.logins()[-1], ("bob", USERS["bob"], True))

    def test_password_change_counts_at_once(self):
        self.imap.set_password("carol@ldap.test", "one")
        self.addCleanup(self.imap.set_password, "carol@ldap.test", None)
        self.assertTrue(self.sasl.check("carol@ldap.test", "one")[0])
        self.imap.set_password("carol@ldap.test", "two")
        self.assertFalse(self.sasl.check("carol@ldap.test", "one")[0])   # no credential cache
        self.assertTrue(self.sasl.check("carol@ldap.test", "two")[0])


class SaslauthdVariantsTests(unittest.TestCase):

    def test_without_concat_realm_the_realm_is_dropped(self):
        with ImapLoginServer({"alice": "alice-secret"}) as imap, \
                SaslauthdInstance(imap.port, concat_realm=False) as sasl:
            self.assertTrue(sasl.check("alice", "alice-secret", realm="ldap.test")[0])
            self.assertEqual(imap.logins(), [("alice", "alice-secret", True)])

    def test_untagged_capability_before_the_reply(self):
        with ImapLoginServer(USERS, untagged_capability=True) as imap, SaslauthdInstance(imap.port) as sasl:
            self.assertTrue(sasl.check("alice@ldap.test", "alice-secret")[0])
            self.assertFalse(sasl.check("alice@ldap.test", "wrong")[0])

    def test_imap_server_down_or_refusing(self):
        with SaslauthdInstance(free_port()) as sasl:
            accepted, output = sasl.check("alice@ldap.test", "alice-secret")
            self.assertFalse(accepted, output)
            self.assertIn("Couldn't contact remote authentication server", sasl.auth_results()[-1][3])
        with ImapLoginServer(USERS, greeting="* BYE too busy") as imap, SaslauthdInstance(imap.port) as sasl:
            self.assertFalse(sasl.check("alice@ldap.test", "alice-secret")[0])
            self.assertIn("currently unavailable", sasl.auth_results()[-1][3])

    def test_stop_removes_the_socket_and_processes(self):
        with ImapLoginServer(USERS) as imap:
            sasl = SaslauthdInstance(imap.port).start()
            self.addCleanup(sasl.close)
            pid = sasl.proc.pid
            sasl.stop()
            self.assertFalse(os.path.exists(sasl.mux_path))
            self.assertFalse(process_alive(pid))
            self.assertEqual(process_group_members(pid), [])
            accepted, output = sasl.check("alice@ldap.test", "alice-secret")
            self.assertFalse(accepted, output)
            sasl.start()
            self.assertTrue(sasl.check("alice@ldap.test", "alice-secret")[0])


if __name__ == "__main__":
    unittest.main()
