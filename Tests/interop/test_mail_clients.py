"""Outside IMAP and POP3 clients against a running `petrel serve`: the client cases of
imap_pop3_cases (imaplib, curl, mbsync, offlineimap, mutt; poplib, curl, fetchmail), the same
ones proven against a reference Dovecot (reference_dovecot_check.py), bound here to Petrel.
Each test gets a new account; mail arrives by APPEND into its INBOX, byte for byte (CR LF
lines, as Petrel stores every message) as the cases compare it.
"""

import itertools
import os
import tempfile
import unittest

import imap_pop3_cases as cases
import imap_pop3_clients as clients
from petrel_interop import DOMAIN, Node, environment, petrel, workdir

_counter = itertools.count(1)


def setUpModule():
    environment()


class PetrelBackend:
    """The backend interface of imap_pop3_cases over one `petrel serve`."""

    def __init__(self):
        self.node = Node("IMAPClients")
        self.node.start()
        self.workdir = tempfile.mkdtemp(prefix="clients-", dir=workdir())
        os.chmod(self.workdir, 0o755)
        self.server = clients.Server(imap=self.node.ports["imap"], imaps=self.node.ports["imaps"],
                                     pop3=self.node.ports["pop3"], pop3s=self.node.ports["pop3s"],
                                     cafile=os.path.join(workdir(), "cert.pem"), tls_name="mx.test")

    def new_account(self):
        user = "client%d-%d@%s" % (next(_counter), os.getpid(), DOMAIN)
        password = "client-secret-%d" % os.getpid()
        petrel("user", "add", user, "--password-stdin", stdin=(password + "\n").encode())
        return clients.Account(user, password)

    def deliver(self, account, data):
        connection = clients.imap_login(self.server, account, "tls")
        try:
            clients.imap_check(connection.append("INBOX", None, None, data), "APPEND")
        finally:
            try:
                connection.logout()
            except Exception:
                pass

    def close(self):
        status = self.node.stop(timeout=30)
        if status != 0:
            raise AssertionError("petrel serve exited with %s after SIGTERM:\n%s" % (status, self.node.log()))


_backend = None


def backend():
    global _backend
    if _backend is None:
        _backend = PetrelBackend()
    return _backend


def tearDownModule():
    global _backend
    if _backend is not None:
        _backend.close()
        _backend = None


class Bound:
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = backend()


class ImaplibAgainstPetrel(Bound, cases.ImaplibCases, unittest.TestCase):
    pass


class CurlImapAgainstPetrel(Bound, cases.CurlImapCases, unittest.TestCase):
    pass


class MbsyncAgainstPetrel(Bound, cases.MbsyncCases, unittest.TestCase):
    pass


class OfflineimapAgainstPetrel(Bound, cases.OfflineimapCases, unittest.TestCase):
    pass


class MuttAgainstPetrel(Bound, cases.MuttCases, unittest.TestCase):
    pass


class PoplibAgainstPetrel(Bound, cases.PoplibCases, unittest.TestCase):
    pass


class CurlPop3AgainstPetrel(Bound, cases.CurlPop3Cases, unittest.TestCase):
    pass


class FetchmailAgainstPetrel(Bound, cases.FetchmailCases, unittest.TestCase):
    pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
