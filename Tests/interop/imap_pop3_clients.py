"""Drives real IMAP and POP3 clients against a server on 127.0.0.1 (standard library only).

Not a test module (discovery skips it): the interop tests import it (`import imap_pop3_clients
as c`). It only re-exports the public names of three modules, where the code and its
documentation live:
  mail_clients_common   Server, Account, ToolError; tool_env, run_tool, write_private; messages
                        (make_message, normalize, strip_headers, header); Maildir helpers
                        (maildir_messages, maildir_add, maildir_set_flags); command traces
                        (command_names, mask_sasl, strip_tags); CurlResult; saved_messages
  imap_client_tools     imap_connect / imap_login, imap_check, imap_quote, RawImap; curl_imap,
                        mbsync_sync, offlineimap_sync, mutt_read
  pop3_client_tools     pop3_connect / pop3_login; curl_pop3, fetchmail_fetch
How each client is made to trust the server's certificate, and each tool's quirks, are in the
docstrings of those modules (Python and curl: mail_clients_common; mbsync, offlineimap, mutt:
imap_client_tools; fetchmail: pop3_client_tools).
"""

from imap_client_tools import (MUTT_STUCK, MuttResult, RawImap, SyncResult, curl_imap, imap_check, imap_connect,
                               imap_login, imap_quote, mbsync_sync, mutt_read, offlineimap_sync)
from mail_clients_common import (HOST, MODES, NET_TIMEOUT, SAVE_SCRIPT, TOOL_TIMEOUT, Account, CurlResult,
                                 MaildirMessage, Server, ToolError, command_names, header, maildir_add,
                                 maildir_messages, maildir_set_flags, make_message, mask_sasl, normalize,
                                 run_tool, saved_messages, strip_headers, strip_tags, tool_env, write_private)
from pop3_client_tools import FetchResult, curl_pop3, fetchmail_fetch, pop3_connect, pop3_login

__all__ = [
    # mail_clients_common
    "HOST", "MODES", "NET_TIMEOUT", "TOOL_TIMEOUT", "SAVE_SCRIPT",
    "Server", "Account", "ToolError", "tool_env", "run_tool", "write_private",
    "make_message", "normalize", "strip_headers", "header",
    "MaildirMessage", "maildir_messages", "maildir_add", "maildir_set_flags",
    "command_names", "mask_sasl", "strip_tags", "CurlResult", "saved_messages",
    # imap_client_tools
    "imap_connect", "imap_login", "imap_check", "imap_quote", "RawImap", "curl_imap",
    "SyncResult", "mbsync_sync", "offlineimap_sync", "MuttResult", "MUTT_STUCK", "mutt_read",
    # pop3_client_tools
    "pop3_connect", "pop3_login", "curl_pop3", "FetchResult", "fetchmail_fetch",
]
