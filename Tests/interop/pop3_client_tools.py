"""Drives real POP3 clients against a server on 127.0.0.1 (standard library only).

Not a test module (discovery skips it): imap_pop3_clients re-exports it for the interop tests.
Server, Account, ToolError and the shared helpers are in mail_clients_common.

Python's own client (poplib):
  pop3_connect / pop3_login      poplib, mode "plain", "starttls" (STLS) or "tls" (POP3S)
Outside tools (each one's debug trace is parsed into the list of commands it sent):
  curl_pop3                      curl pop3:// pop3s://
  fetchmail_fetch                fetchmail over POP3 (or IMAP), keep or no-keep, through an MDA

Certificates (Python and curl: see mail_clients_common). The server's self-signed certificate's
name (Server.tls_name) is not "127.0.0.1":
  fetchmail sslcertck, sslcertfile CERT, sslcommonname tls_name
fetchmail gets HOME and FETCHMAILHOME set to the test's work directory, so personal
configuration files are never read.
"""

import os
import poplib
import pwd
import re
import socket
from dataclasses import dataclass

from mail_clients_common import (NET_TIMEOUT, TOOL_TIMEOUT, _check_mode, _curl, _save_script, _text, mask_sasl,
                                 run_tool, saved_messages, strip_tags, write_private)


# --- Python's poplib, connected to 127.0.0.1 under the certificate's name ----------------------

class _POP3(poplib.POP3):
    def __init__(self, address, tls_name, port, timeout):
        self._address = address
        super().__init__(tls_name, port, timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self._address, self.port), timeout)


class _POP3_SSL(poplib.POP3_SSL):
    def __init__(self, address, tls_name, port, context, timeout):
        self._address = address
        super().__init__(tls_name, port, timeout=timeout, context=context)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._address, self.port), timeout)
        return self.context.wrap_socket(sock, server_hostname=self.host)


def pop3_connect(server, mode="tls", timeout=NET_TIMEOUT):
    """A poplib connection, not logged in: "tls" on the POP3S port, "starttls" on the POP3 port
    after STLS, "plain" on the POP3 port without TLS."""
    _check_mode(mode)
    if mode == "tls":
        return _POP3_SSL(server.host, server.tls_name, server.pop3s, server.ssl_context(), timeout)
    connection = _POP3(server.host, server.tls_name, server.pop3, timeout)
    if mode == "starttls":
        connection.stls(context=server.ssl_context())
    return connection


def pop3_login(server, account, mode="tls", timeout=NET_TIMEOUT):
    connection = pop3_connect(server, mode, timeout)
    connection.user(account.user)
    connection.pass_(account.password)
    return connection


# --- curl --------------------------------------------------------------------------------------

def curl_pop3(server, account, path="", mode="tls", request=None, extra=(), timeout=60, workdir=None):
    """curl pop3s:// ("tls"), pop3:// with --ssl-reqd ("starttls") or plain pop3://. path ""
    lists (LIST), "2" retrieves message 2; request is a custom command such as "UIDL", "TOP 1 0"
    or "DELE 1" (for DELE, pass extra=("-I",) so that curl expects no body)."""
    return _curl(server, account, "pop3", server.pop3_port(mode), mode, path, request, extra, timeout, workdir)


# --- fetchmail ---------------------------------------------------------------------------------

@dataclass
class FetchResult:
    new: list           # the messages this run delivered (bytes, as the MDA received them)
    delivered: list     # every message delivered into the directory so far
    status: int         # fetchmail's exit status: 0 mail fetched, 1 no mail
    output: str
    commands: list      # POP3/IMAP command lines fetchmail sent (-v), passwords masked


def _fetchmail_quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fetchmail_fetch(workdir, server, account, keep, mode="tls", protocol="POP3", fetchall=False,
                    timeout=TOOL_TIMEOUT):
    """One `fetchmail` run over POP3 (or IMAP) with a generated 0600 fetchmailrc, delivering each
    message through an MDA that writes it to workdir/fetched/NNNN.eml. keep=True leaves the mail
    on the server (and fetchmail remembers the UIDs in workdir/.fetchids, so a later run fetches
    only new mail unless fetchall); keep=False deletes what it fetched. mode "tls" (POP3S/IMAPS),
    "starttls" (STLS/STARTTLS required) or "plain". Exit status 1 (no mail) is not a failure."""
    _check_mode(mode)
    protocol = protocol.upper()
    if protocol not in ("POP3", "IMAP"):
        raise ValueError("protocol must be POP3 or IMAP")
    port = server.pop3_port(mode) if protocol == "POP3" else server.imap_port(mode)
    target = os.path.join(workdir, "fetched")
    os.makedirs(target, exist_ok=True)
    before = len(saved_messages(target))
    save = _save_script(workdir)
    local_user = pwd.getpwuid(os.getuid()).pw_name
    options = ["no rewrite", "keep" if keep else "nokeep"]
    if fetchall:
        options.append("fetchall")
    if mode == "tls":
        options += ["ssl", "sslcertck", "sslcertfile %s" % _fetchmail_quote(server.cafile),
                    "sslcommonname %s" % _fetchmail_quote(server.tls_name)]
    elif mode == "starttls":
        # A TLS protocol without "ssl" makes fetchmail require STLS/STARTTLS.
        options += ["sslproto %s" % _fetchmail_quote("TLS1.2+"), "sslcertck",
                    "sslcertfile %s" % _fetchmail_quote(server.cafile),
                    "sslcommonname %s" % _fetchmail_quote(server.tls_name)]
    else:
        options.append("sslproto %s" % _fetchmail_quote(""))
    config = os.path.join(workdir, "fetchmailrc")
    write_private(config, "\n".join([
        "set no bouncemail",
        "set no spambounce",
        "set no syslog",
        "poll %s with proto %s service %d timeout 30" % (server.host, protocol, port),
        "  user %s there with password %s is %s here" % (
            _fetchmail_quote(account.user), _fetchmail_quote(account.password), _fetchmail_quote(local_user)),
        "  " + " ".join(options),
        "  mda %s" % _fetchmail_quote("%s %s" % (save, target)),
        "",
    ]))
    argv = ["fetchmail", "-f", config, "-v", "-N", "--nosyslog", "--pidfile", os.path.join(workdir, "fetchmail.pid")]
    result = run_tool(argv, workdir=workdir, timeout=timeout, ok=(0, 1), files=[config])
    output = _text(result.stdout)
    delivered = saved_messages(target)
    sent = mask_sasl(m.group(1) for m in re.finditer(r"^fetchmail: (?:POP3|IMAP)> (.*)$", output, re.M))
    if protocol == "IMAP":
        sent = strip_tags(sent)
    return FetchResult(delivered[before:], delivered, result.returncode, output, sent)
