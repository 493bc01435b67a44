"""`petrel access add|list|remove`, driven through the binary, and the rules' effect over SMTP on
a node of this class's own: a recipient rule, client rules (with connections from 127.0.0.2 and
127.0.0.3, so no other test's client, 127.0.0.1, is affected), and invalid input refused.
Shared helpers and the provisioned environment: petrel_interop.py.
"""

import json
import smtplib
import unittest

from petrel_interop import HOST, TIMEOUT, NodeTests, environment, make_message, marker, petrel, petrel_run, psql


def setUpModule():
    environment()


class AccessCLI(NodeTests, unittest.TestCase):
    # --- helpers -------------------------------------------------------------------------------

    def rules(self, *kind):
        """`petrel access list --json`: (kind, pattern, action, reply) -> id."""
        listed = json.loads(petrel("access", "list", "--json", *kind))
        out = {(r["kind"], r["pattern"], r["action"], r["reply"]): r["id"] for r in listed}
        self.assertEqual(len(out), len(listed), listed)
        for rule_id in out.values():
            self.assertIsInstance(rule_id, int)
        self.assertEqual(len(set(out.values())), len(out), "rule ids not unique: %s" % listed)
        return out

    def table(self):
        """`petrel access list` as a table: rows of its columns after the header line."""
        lines = petrel("access", "list").splitlines()
        self.assertEqual(lines[0].split(), ["KIND", "PATTERN", "ACTION", "REPLY"], lines)
        return [line.rstrip().split(None, 3) for line in lines[1:] if line.strip()]

    def forget_rules(self, *patterns):
        """Cleanup: removes the rules of these patterns whatever the test did (no CLI involved)."""
        self.addCleanup(psql, "DELETE FROM access_rules WHERE pattern = ANY (string_to_array(:'p', ' '));",
                        p=" ".join(patterns))

    def session(self, source):
        """An EHLO'd MX session from the loopback address source (127.0.0.1 is every other test's)."""
        s = smtplib.SMTP(HOST, self.port("smtp"), local_hostname="access.test", timeout=TIMEOUT,
                         source_address=(source, 0))
        self.addCleanup(self.hang_up, s)
        self.assertEqual(s.ehlo()[0], 250)
        return s

    # --- recipient rules -----------------------------------------------------------------------

    def test_recipient_rule_add_list_remove(self):
        text = "No mail for this subaddress"
        self.forget_rules("demo+acl@example.test")
        before = self.rules()
        out = petrel("access", "add", "recipient", "Demo+ACL@Example.TEST", "REJECT", text)
        self.assertEqual(out.strip(), 'recipient demo+acl@example.test REJECT "%s"' % text)
        after = self.rules()
        added = {k: v for k, v in after.items() if k not in before}
        self.assertEqual(list(added), [("recipient", "demo+acl@example.test", "REJECT", text)])
        self.assertNotIn(list(added.values())[0], before.values())
        self.assertIn(["recipient", "demo+acl@example.test", "REJECT", text], self.table())
        self.assertEqual(list(self.rules("recipient")), [("recipient", "demo+acl@example.test", "REJECT", text)])

        # In effect at once, for that recipient only: 554 5.7.1 with the rule's text.
        s = self.session("127.0.0.1")
        self.assertEqual(s.mail("sender@remote.test")[0], 250)
        code, resp = s.rcpt("demo+acl@example.test")
        self.assertEqual(code, 554, resp)
        self.assertTrue(resp.startswith(b"5.7.1 "), resp)
        self.assertIn(text.encode(), resp)
        self.assertEqual(s.rcpt("demo@example.test")[0], 250, "a rule for demo+acl@ refused demo@")
        self.assertEqual(s.rset()[0], 250)

        out = petrel("access", "remove", "recipient", "DEMO+acl@example.test")
        self.assertEqual(out.strip(), "removed recipient DEMO+acl@example.test")
        self.assertEqual(self.rules(), before)
        self.assertNotIn("demo+acl@example.test", [row[1] for row in self.table()])

        # Gone: the subaddress takes mail again, delivered to demo.
        mark = marker()
        msg = make_message("after the rule " + mark, to="demo+acl@example.test")
        s = self.session("127.0.0.1")
        self.assertEqual(s.sendmail("sender@remote.test", ["demo+acl@example.test"], msg), {})
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTP", helo="access.test",
                         for_rcpt="demo+acl@example.test", original=msg)

        r = petrel_run("access", "remove", "recipient", "demo+acl@example.test")
        self.assertNotEqual(r.returncode, 0, "removing a rule that is gone succeeded")
        self.assertIn("demo+acl@example.test", r.stderr.decode(errors="replace"))
        self.assertEqual(self.rules(), before)

    # --- client rules ----------------------------------------------------------------------------

    def test_client_rules_by_network(self):
        text = "Loopback two is not welcome"
        self.forget_rules("127.0.0.2/31", "127.0.0.3")
        before = self.rules()
        out = petrel("access", "add", "client", "127.0.0.2/31", "REJECT", text)
        self.assertEqual(out.strip(), 'client 127.0.0.2/31 REJECT "%s"' % text)
        # A host rule inside that network: the longest match wins, and OK trusts it to relay.
        out = petrel("access", "add", "client", "127.0.0.3", "OK")
        self.assertEqual(out.strip(), "client 127.0.0.3/32 OK")
        after = self.rules()
        self.assertEqual(sorted(k for k in after if k not in before),
                         [("client", "127.0.0.2/31", "REJECT", text), ("client", "127.0.0.3/32", "OK", "")])
        self.assertEqual(sorted(self.rules("client")),
                         [("client", "127.0.0.2/31", "REJECT", text), ("client", "127.0.0.3/32", "OK", "")])
        table = self.table()
        self.assertIn(["client", "127.0.0.2/31", "REJECT", text], table)
        self.assertIn(["client", "127.0.0.3/32", "OK"], table)

        s = self.session("127.0.0.2")
        code, resp = s.mail("sender@remote.test")
        self.assertEqual(code, 554, resp)
        self.assertTrue(resp.startswith(b"5.7.1 "), resp)
        self.assertIn(text.encode(), resp)
        s = self.session("127.0.0.3")
        self.assertEqual(s.mail("sender@remote.test")[0], 250)
        code, resp = s.rcpt("friend@elsewhere.test")
        self.assertEqual(code, 250, "a client with an OK rule may relay: %r" % resp)
        self.assertEqual(s.rset()[0], 250)
        s = self.session("127.0.0.1")
        self.assertEqual(s.mail("sender@remote.test")[0], 250, "the rule for 127.0.0.2/31 refused 127.0.0.1")
        code, resp = s.rcpt("friend@elsewhere.test")
        self.assertEqual(code, 554, resp)
        self.assertIn(b"Relay access denied", resp)

        # Removed as listed.
        self.assertEqual(petrel("access", "remove", "client", "127.0.0.2/31").strip(), "removed client 127.0.0.2/31")
        self.assertEqual(petrel("access", "remove", "client", "127.0.0.3/32").strip(), "removed client 127.0.0.3/32")
        self.assertEqual(self.rules(), before)
        s = self.session("127.0.0.2")
        self.assertEqual(s.mail("sender@remote.test")[0], 250)
        s = self.session("127.0.0.3")
        self.assertEqual(s.mail("sender@remote.test")[0], 250)
        code, resp = s.rcpt("friend@elsewhere.test")
        self.assertEqual(code, 554, "still trusted after its rule was removed: %r" % resp)

    # --- invalid input ---------------------------------------------------------------------------

    def test_invalid_rules_refused(self):
        self.forget_rules("nobody", "x@y.test", "10.0.0.1/8", "300.1.2.3/8", "not-a-net", "user@@example.test",
                          "dup@example.test")
        before = self.rules()
        cases = [
            # (arguments, text the error must name)
            (("bogus", "x@y.test", "REJECT"), "bogus"),
            (("sender", "x@y.test", "DENY"), "DENY"),
            (("client", "300.1.2.3/8", "REJECT"), "300.1.2.3/8"),
            (("client", "10.0.0.1/8", "REJECT"), "10.0.0.1/8"),  # host bits set: not a network
            (("client", "not-a-net", "REJECT"), "not-a-net"),
            (("sender", "nobody", "REJECT"), "nobody"),
            (("recipient", "user@@example.test", "REJECT"), "user@@example.test"),
            (("sender", "x@y.test", "REJECT", "two\r\nlines"), "reply"),
            (("sender", "x@y.test", "REJECT", "x" * 201), "reply"),
        ]
        for args, named in cases:
            with self.subTest(args=args):
                r = petrel_run("access", "add", *args)
                err = r.stderr.decode(errors="replace")
                self.assertNotEqual(r.returncode, 0, "accepted: %s\n%s" % (args, r.stdout.decode(errors="replace")))
                self.assertIn(named, err)
                self.assertEqual(self.rules(), before)

        # The same kind and pattern twice: refused, and the first rule stays as it was.
        petrel("access", "add", "recipient", "dup@example.test", "REJECT", "first")
        r = petrel_run("access", "add", "recipient", "dup@example.test", "OK")
        self.assertNotEqual(r.returncode, 0, "a second rule for one pattern was accepted")
        self.assertIn("exists already", r.stderr.decode(errors="replace"))
        self.assertIn("dup@example.test", r.stderr.decode(errors="replace"))
        self.assertEqual(list(self.rules("recipient")), [("recipient", "dup@example.test", "REJECT", "first")])
        petrel("access", "remove", "recipient", "dup@example.test")
        self.assertEqual(self.rules(), before)

        r = petrel_run("access", "remove", "bogus", "x@y.test")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bogus", r.stderr.decode(errors="replace"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
