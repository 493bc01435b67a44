"""Shared set-up of the IMAP/POP3 interop cases (see imap_pop3_cases): the ClientCase mixin
and fetch-response helpers."""

import imaplib
import re
import tempfile
from dataclasses import dataclass

import imap_pop3_clients as c

IDLE_WAIT = 40  # seconds for an IDLE notification (Dovecot's fallback check interval is 30 s)


@dataclass
class StoredMessage:
    uid: int
    flags: set
    data: bytes

    @property
    def subject(self):
        return c.header(self.data, "Subject")


def _logout(connection):
    try:
        connection.logout()
    except (imaplib.IMAP4.error, OSError):
        pass


def _quit(connection):
    try:
        connection.quit()
    except Exception:  # poplib raises error_proto or OSError
        pass


def parse_fetch(data):
    """imaplib FETCH data -> [(sequence number, attribute text, literal bytes or None)]; the
    text joins what came before and after the literal (UID, FLAGS ...). One literal per message
    is enough for the FETCHes here."""
    parsed = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            head, literal = item[0].decode("utf-8", "replace"), item[1]
        else:
            head, literal = item.decode("utf-8", "replace"), None
        if parsed and not re.match(r"^\d+ \(", head):
            parsed[-1][1] += " " + head          # the rest of the previous message's response
            if literal is not None and parsed[-1][2] is None:
                parsed[-1][2] = literal
            continue
        number = re.match(r"^(\d+) ", head)
        parsed.append([int(number.group(1)) if number else 0, head, literal])
    return [tuple(p) for p in parsed]


def _flags(text):
    match = re.search(r"FLAGS \(([^)]*)\)", text)
    return set(match.group(1).split()) if match else set()


class ClientCase:
    """Shared set-up and helpers; `backend` is given by the binding test module."""
    backend = None
    maxDiff = None

    def setUp(self):
        if self.backend is None:
            raise RuntimeError("no backend: bind this class to a server (see the module docstring)")
        self.server = self.backend.server
        self.account = self.backend.new_account()
        self.workdir = tempfile.mkdtemp(prefix="%s-" % self._testMethodName, dir=self.backend.workdir)

    # --- mail in, mail out ---

    def deliver(self, subject, body=None, **headers):
        """Delivers a new message to the test's account; returns its bytes."""
        data = c.make_message(subject, body or "This is the body of %s.\n" % subject,
                              to=self.account.user, **headers)
        self.backend.deliver(self.account, data)
        return data

    def imap(self, mode="tls"):
        connection = c.imap_login(self.server, self.account, mode)
        self.addCleanup(_logout, connection)
        return connection

    def pop3(self, mode="tls"):
        connection = c.pop3_login(self.server, self.account, mode)
        self.addCleanup(_quit, connection)
        return connection

    def server_messages(self, mailbox="INBOX"):
        """The mailbox's messages as the server gives them over IMAPS: [StoredMessage] in UID
        order (EXAMINE, so nothing changes)."""
        connection = c.imap_login(self.server, self.account, "tls")
        try:
            count = int(c.imap_check(connection.select(c.imap_quote(mailbox), readonly=True), "EXAMINE %s" % mailbox)[0])
            if count == 0:
                return []
            data = c.imap_check(connection.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])"), "UID FETCH")
        finally:
            _logout(connection)
        messages = []
        for _, text, literal in parse_fetch(data):
            uid = re.search(r"UID (\d+)", text)
            if uid and literal is not None:
                messages.append(StoredMessage(int(uid.group(1)), _flags(text), literal))
        self.assertEqual(len(messages), count, "UID FETCH 1:* returned %d of %d messages: %r" % (len(messages), count, data))
        return sorted(messages, key=lambda m: m.uid)

    def mailbox_count(self, mailbox="INBOX"):
        connection = c.imap_login(self.server, self.account, "tls")
        try:
            return int(c.imap_check(connection.select(c.imap_quote(mailbox), readonly=True), "EXAMINE")[0])
        finally:
            _logout(connection)

    def set_flags(self, subject, flags, mailbox="INBOX", remove=False):
        """Adds (or removes) flags on the message with that subject, as another client would."""
        connection = c.imap_login(self.server, self.account, "tls")
        try:
            c.imap_check(connection.select(c.imap_quote(mailbox)), "SELECT")
            uids = c.imap_check(connection.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT", c.imap_quote(subject)), "SEARCH")[0].split()
            self.assertEqual(len(uids), 1, "one message with subject %r" % subject)
            c.imap_check(connection.uid("STORE", uids[0].decode(), "-FLAGS" if remove else "+FLAGS",
                                        "(%s)" % " ".join(flags)), "STORE")
        finally:
            _logout(connection)

    def expunge_subject(self, subject, mailbox="INBOX"):
        connection = c.imap_login(self.server, self.account, "tls")
        try:
            c.imap_check(connection.select(c.imap_quote(mailbox)), "SELECT")
            uids = c.imap_check(connection.uid("SEARCH", "SUBJECT", c.imap_quote(subject)), "SEARCH")[0].split()
            self.assertEqual(len(uids), 1, "one message with subject %r" % subject)
            c.imap_check(connection.uid("STORE", uids[0].decode(), "+FLAGS", r"(\Deleted)"), "STORE")
            c.imap_check(connection.expunge(), "EXPUNGE")
        finally:
            _logout(connection)

    def note(self, tool, commands):
        if hasattr(self.backend, "note_commands"):
            self.backend.note_commands(tool, commands)

    def assertSameMessages(self, got, expected, drop_headers=(), msg=None):
        """got and expected hold the same messages (any order), compared with LF line ends and
        without the header fields a client adds (drop_headers)."""
        def canonical(items):
            return sorted(c.strip_headers(item, drop_headers) for item in items)
        self.assertEqual(canonical(got), canonical(expected), msg)
