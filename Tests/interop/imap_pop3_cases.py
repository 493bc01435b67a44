"""IMAP and POP3 interop test cases, written once for any server (standard library only).

Not a test module (discovery skips it). Each class here is a mixin: a test module binds it to a
server by deriving a unittest.TestCase from it and giving it a `backend` (in setUpClass):
reference_dovecot_check.py binds them to a throwaway Dovecot; Petrel's suite can bind the same
classes to a running `petrel serve`. A backend provides:

  server                  imap_pop3_clients.Server: the four ports on 127.0.0.1 and the certificate
  workdir                 a directory for the clients' files (one subdirectory per test)
  new_account()           -> imap_pop3_clients.Account with an empty INBOX
  deliver(account, data)  puts a message (bytes) into the account's INBOX the way mail arrives
  note_commands(tool, commands)   optional: told the command lines each outside tool sent

Every test works on its own new account. The checks are those a user makes: after a client
fetched or synced, the messages it shows or stored are the ones delivered, byte for byte (line
ends aside where the tool stores Maildir/mbox files with LF); after a client changed something
(APPEND, flags, a local message synced up, a deletion), the server gives back that change to
another client. Every outside tool run has a time-out and fails with its full output.
"""

from client_case_base import ClientCase, StoredMessage, parse_fetch  # noqa: F401
from imap_client_cases import CurlImapCases, ImaplibCases, MbsyncCases, MuttCases, OfflineimapCases  # noqa: F401
from pop3_client_cases import CurlPop3Cases, FetchmailCases, PoplibCases  # noqa: F401

ALL_CASES = (ImaplibCases, CurlImapCases, MbsyncCases, OfflineimapCases, MuttCases,
             PoplibCases, CurlPop3Cases, FetchmailCases)
