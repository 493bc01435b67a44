"""The IMAP/POP3 interop cases (imap_pop3_cases) against a reference Dovecot on 127.0.0.1.

Proves that the client-driving harness (imap_pop3_clients) works with real clients and a real
server before Petrel's IMAP and POP3 servers exist. Not collected by `make test` (not named
test_*); run as root, with Dovecot installed (it is not in scripts/install-deps.sh):

    python3 Tests/interop/reference_dovecot_check.py -v
    python3 Tests/interop/reference_dovecot_check.py -v MbsyncAgainstDovecot

Environment: REFERENCE_KEEP=1 keeps the work directory (Dovecot's configuration, log and
rawlogs, every client's configuration and Maildir); REFERENCE_COMMANDS=FILE writes, per client,
the IMAP/POP3 commands it sent (from its own debug trace) to FILE; REFERENCE_IMAP_CAPABILITY="..."
makes Dovecot announce only that CAPABILITY list (which extensions does each client need?).
"""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import imap_pop3_cases as cases  # noqa: E402
import imap_pop3_clients as clients  # noqa: E402
from reference_dovecot import ReferenceDovecot  # noqa: E402


class DovecotBackend:
    """The backend interface of imap_pop3_cases, served by a ReferenceDovecot."""

    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="petrel-reference-")
        os.chmod(self.workdir, 0o755)
        self.dovecot = ReferenceDovecot(os.path.join(self.workdir, "dovecot"),
                                        imap_capability=os.environ.get("REFERENCE_IMAP_CAPABILITY") or None)
        self.server = self.dovecot.start()
        self.commands = {}

    def new_account(self):
        return self.dovecot.add_account()

    def deliver(self, account, data):
        self.dovecot.deliver(account, data)

    def note_commands(self, tool, commands):
        self.commands.setdefault(tool, []).extend(commands)

    def close(self):
        self.dovecot.stop()
        if os.environ.get("REFERENCE_KEEP") == "1":
            sys.stderr.write("reference work directory kept: %s\n" % self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def command_report(self):
        lines = []
        for tool in sorted(self.commands):
            sent = self.commands[tool]
            lines.append("%s: %s" % (tool, " ".join(clients.command_names(sent))))
            seen = []
            for line in sent:
                if line not in seen:
                    seen.append(line)
            lines += ["    " + line for line in seen]
        return "\n".join(lines) + "\n"


_backend = None


def backend():
    global _backend
    if _backend is None:
        _backend = DovecotBackend()
    return _backend


def tearDownModule():
    global _backend
    if _backend is None:
        return
    report = os.environ.get("REFERENCE_COMMANDS")
    if report:
        with open(report, "w") as f:
            f.write(_backend.command_report())
    _backend.close()
    _backend = None


class Bound:
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = backend()


class ImaplibAgainstDovecot(Bound, cases.ImaplibCases, unittest.TestCase):
    pass


class CurlImapAgainstDovecot(Bound, cases.CurlImapCases, unittest.TestCase):
    pass


class MbsyncAgainstDovecot(Bound, cases.MbsyncCases, unittest.TestCase):
    pass


class OfflineimapAgainstDovecot(Bound, cases.OfflineimapCases, unittest.TestCase):
    pass


class MuttAgainstDovecot(Bound, cases.MuttCases, unittest.TestCase):
    pass


class PoplibAgainstDovecot(Bound, cases.PoplibCases, unittest.TestCase):
    pass


class CurlPop3AgainstDovecot(Bound, cases.CurlPop3Cases, unittest.TestCase):
    pass


class FetchmailAgainstDovecot(Bound, cases.FetchmailCases, unittest.TestCase):
    pass


if __name__ == "__main__":
    unittest.main()
