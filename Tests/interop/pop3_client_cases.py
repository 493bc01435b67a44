"""POP3 client cases: poplib, curl pop3(s)://, fetchmail (see imap_pop3_cases)."""

import ssl

import imap_pop3_clients as c
from client_case_base import ClientCase, _quit


# --- Python's poplib ---------------------------------------------------------------------------

class PoplibCases(ClientCase):
    def _retrieve(self, connection, number):
        response, lines, octets = connection.retr(number)
        self.assertTrue(response.startswith(b"+OK"), response)
        return b"\r\n".join(lines) + b"\r\n"

    def test_pop3_plain_user_pass_stat_list_retr(self):
        first = self.deliver("POP one")
        second = self.deliver("POP two", body="..leading dots survive\n.\nand a lone dot line too\n")
        connection = self.pop3("plain")
        self.assertEqual(connection.stat(), (2, len(first) + len(second)))
        response, listing, _ = connection.list()
        self.assertEqual(listing, [b"1 %d" % len(first), b"2 %d" % len(second)])
        self.assertEqual(self._retrieve(connection, 1), first)
        self.assertEqual(self._retrieve(connection, 2), second)

    def test_pop3_stls(self):
        message = self.deliver("POP over STLS")
        connection = c.pop3_connect(self.server, "plain")
        self.addCleanup(_quit, connection)
        self.assertIn("STLS", connection.capa())
        connection.stls(context=self.server.ssl_context())
        self.assertIsInstance(connection.sock, ssl.SSLSocket)
        self.assertTrue(connection.sock.getpeercert())
        connection.user(self.account.user)
        connection.pass_(self.account.password)
        self.assertEqual(connection.stat(), (1, len(message)))
        self.assertEqual(self._retrieve(connection, 1), message)

    def test_pop3s_uidl_top_dele_rset(self):
        first = self.deliver("UIDL one", body="First body line.\nSecond body line.\n")
        second = self.deliver("UIDL two")
        third = self.deliver("UIDL three")
        connection = self.pop3("tls")
        self.assertIn("UIDL", connection.capa())
        self.assertIn("TOP", connection.capa())
        _, lines, _ = connection.uidl()
        uids = dict(line.split(b" ", 1) for line in lines)
        self.assertEqual(sorted(uids), [b"1", b"2", b"3"])
        self.assertEqual(len(set(uids.values())), 3, "unique-ids differ")
        self.assertEqual(connection.uidl(2).split()[1:], [b"2", uids[b"2"]])

        _, top, _ = connection.top(1, 0)
        self.assertIn(b"Subject: UIDL one", top)
        self.assertNotIn(b"First body line.", top)
        _, top, _ = connection.top(1, 1)
        self.assertEqual(top[-1], b"First body line.")
        self.assertNotIn(b"Second body line.", top)

        connection.dele(2)
        self.assertEqual(connection.stat(), (2, len(first) + len(third)))
        connection.rset()
        self.assertEqual(connection.stat()[0], 3, "RSET undoes DELE")
        connection.dele(2)
        connection.quit()

        again = self.pop3("tls")
        self.assertEqual(again.stat(), (2, len(first) + len(third)))
        _, lines, _ = again.uidl()
        self.assertEqual([line.split(b" ", 1)[1] for line in lines], [uids[b"1"], uids[b"3"]],
                         "unique-ids stay the same across sessions")
        self.assertEqual(self._retrieve(again, 2), third)
        self.assertNotIn(second, [m.data for m in self.server_messages()])


# --- curl pop3:// pop3s:// ---------------------------------------------------------------------

class CurlPop3Cases(ClientCase):
    def test_curl_pop3s_list_uidl_retr_dele(self):
        first = self.deliver("Curl POP one")
        second = self.deliver("Curl POP two")
        listing = c.curl_pop3(self.server, self.account, "", "tls", workdir=self.workdir)
        self.note("curl pop3s", listing.commands)
        self.assertEqual(listing.body.decode().split("\r\n")[:2], ["1 %d" % len(first), "2 %d" % len(second)])
        uidl = c.curl_pop3(self.server, self.account, "", "tls", request="UIDL", workdir=self.workdir)
        self.note("curl pop3s", uidl.commands)
        self.assertEqual([line.split()[0] for line in uidl.body.decode().splitlines()], ["1", "2"])
        fetched = c.curl_pop3(self.server, self.account, "2", "tls", workdir=self.workdir)
        self.note("curl pop3s", fetched.commands)
        self.assertEqual(fetched.body, second)
        deleted = c.curl_pop3(self.server, self.account, "", "tls", request="DELE 1", extra=("-I",), workdir=self.workdir)
        self.note("curl pop3s", deleted.commands)
        self.assertIn("DELE 1", deleted.commands)
        self.assertEqual([m.data for m in self.server_messages()], [second])

    def test_curl_pop3_plain_and_stls(self):
        message = self.deliver("Curl POP over STLS")
        plain = c.curl_pop3(self.server, self.account, "", "plain", workdir=self.workdir)
        self.note("curl pop3", plain.commands)
        self.assertEqual(plain.body.decode().split("\r\n")[0], "1 %d" % len(message))
        secured = c.curl_pop3(self.server, self.account, "1", "starttls", workdir=self.workdir)
        self.note("curl pop3+stls", secured.commands)
        self.assertIn("STLS", secured.commands)
        self.assertEqual(secured.body, message)
        top = c.curl_pop3(self.server, self.account, "", "starttls", request="TOP 1 0", workdir=self.workdir)
        self.assertIn(b"Subject: Curl POP over STLS", top.body)
        self.assertNotIn(b"This is the body", top.body)


# --- fetchmail ---------------------------------------------------------------------------------

class FetchmailCases(ClientCase):
    drop = ("Received",)  # fetchmail's trace header on each message it forwards

    def test_fetchmail_nokeep_empties_the_maildrop(self):
        delivered = [self.deliver("Fetched and removed %d" % n) for n in (1, 2, 3)]
        result = c.fetchmail_fetch(self.workdir, self.server, self.account, keep=False, mode="tls")
        self.note("fetchmail pop3s", result.commands)
        self.assertEqual(result.status, 0, result.output)
        self.assertSameMessages(result.new, delivered, self.drop)
        for fetched in result.new:
            self.assertTrue(fetched.startswith(b"Received: "), fetched[:200])
        connection = self.pop3("tls")
        self.assertEqual(connection.stat(), (0, 0), "no-keep: the maildrop is empty")
        self.assertEqual(self.mailbox_count(), 0)

    def test_fetchmail_keep_leaves_the_mail_and_fetches_only_new_mail(self):
        delivered = [self.deliver("Fetched and kept %d" % n) for n in (1, 2)]
        result = c.fetchmail_fetch(self.workdir, self.server, self.account, keep=True, mode="starttls")
        self.note("fetchmail pop3+stls", result.commands)
        self.assertIn("STLS", result.commands)
        self.assertSameMessages(result.new, delivered, self.drop)
        self.assertEqual(self.mailbox_count(), 2, "keep: the mail stays on the server")

        result = c.fetchmail_fetch(self.workdir, self.server, self.account, keep=True, mode="starttls")
        self.assertEqual((result.status, result.new), (1, []), "nothing new: fetchmail remembers the UIDLs\n" + result.output)

        later = self.deliver("Arrived later")
        result = c.fetchmail_fetch(self.workdir, self.server, self.account, keep=True, mode="tls")
        self.note("fetchmail pop3s", result.commands)
        self.assertSameMessages(result.new, [later], self.drop)
        self.assertEqual(self.mailbox_count(), 3)
        self.assertEqual(len(result.delivered), 3)
