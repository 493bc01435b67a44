"""Drives real IMAP clients against a server on 127.0.0.1 (standard library only).

Not a test module (discovery skips it): imap_pop3_clients re-exports it for the interop tests.
Server, Account, ToolError and the shared helpers are in mail_clients_common.

Python's own client (imaplib):
  imap_connect / imap_login      imaplib, mode "plain", "starttls" or "tls" (IMAPS)
  RawImap                        raw IMAP lines over a socket (for IDLE, which imaplib lacks)
Outside tools (each one's debug trace is parsed into the list of commands it sent):
  curl_imap                      curl imap:// imaps://
  mbsync_sync                    mbsync (isync) between the server and a local Maildir
  offlineimap_sync               offlineimap (offlineimap3) one-shot sync to a local Maildir
  mutt_read                      mutt in a tmux pane: index screen, first message, all messages

Certificates (Python and curl: see mail_clients_common). Each tool trusts exactly the server's
self-signed certificate, whose name (Server.tls_name) is not "127.0.0.1":
  mbsync    CertificateFile CERT: a certificate listed there is accepted whatever its name. It
            must be a leaf (basicConstraints CA:FALSE): mbsync 1.4.4 with OpenSSL 3 does not
            match a self-signed CA:TRUE certificate (openssl req -x509's default) against the
            list and fails with "certificate owner does not match hostname 127.0.0.1"
  offlineimap  cert_fingerprint (SHA-512 of the certificate) for IMAPS. With STARTTLS
            offlineimap3 (0.0~git20211018) checks nothing at all (no fingerprint, no CA) and
            now and then hangs: use IMAPS
  mutt      certificate_file CERT (GnuTLS: accepted without a prompt) and ssl_verify_host=no
            (with the name check on, mutt stops at its certificate prompt: 127.0.0.1 is not
            the certificate's name, and a pinned certificate does not lift that check)
Every tool gets HOME set to the test's work directory, so personal configuration files are
never read.
"""

import ast
import imaplib
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

from mail_clients_common import (NET_TIMEOUT, TOOL_TIMEOUT, ToolError, _check_mode, _curl, _save_script, _text,
                                 mask_sasl, normalize, run_tool, saved_messages, strip_tags, tool_env,
                                 write_private)


# --- Python's imaplib, connected to 127.0.0.1 under the certificate's name ---------------------

class _IMAP4(imaplib.IMAP4):
    """imaplib.IMAP4 whose host is the certificate's name (used for STARTTLS's check) while the
    TCP connection goes to the server's address."""

    def __init__(self, address, tls_name, port, timeout):
        self._address = address
        super().__init__(tls_name, port, timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self._address, self.port), timeout)


class _IMAP4_SSL(imaplib.IMAP4_SSL):
    def __init__(self, address, tls_name, port, context, timeout):
        self._address = address
        super().__init__(tls_name, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._address, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def imap_connect(server, mode="tls", timeout=NET_TIMEOUT):
    """An imaplib connection, not logged in: "tls" on the IMAPS port, "starttls" on the IMAP
    port after STARTTLS, "plain" on the IMAP port without TLS."""
    _check_mode(mode)
    if mode == "tls":
        return _IMAP4_SSL(server.host, server.tls_name, server.imaps, server.ssl_context(), timeout)
    connection = _IMAP4(server.host, server.tls_name, server.imap, timeout)
    if mode == "starttls":
        connection.starttls(ssl_context=server.ssl_context())
    return connection


def imap_login(server, account, mode="tls", timeout=NET_TIMEOUT):
    connection = imap_connect(server, mode, timeout)
    typ, data = connection.login(account.user, account.password)
    if typ != "OK":
        raise AssertionError("IMAP LOGIN refused: %r" % (data,))
    return connection


def imap_check(response, what):
    """The data of an imaplib (typ, data) response, failing the test unless typ is OK."""
    typ, data = response
    if typ != "OK":
        raise AssertionError("%s: %s %r" % (what, typ, data))
    return data


def imap_quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class RawImap:
    """IMAP by raw lines, for what imaplib cannot do (IDLE): send() a line, read lines back."""

    def __init__(self, server, mode="tls", timeout=NET_TIMEOUT):
        _check_mode(mode)
        self.timeout = timeout
        self.transcript = []
        self._buffer = b""
        self._tag = 0
        sock = socket.create_connection((server.host, server.imap_port(mode)), timeout)
        if mode == "tls":
            sock = server.ssl_context().wrap_socket(sock, server_hostname=server.tls_name)
        self.sock = sock
        self.greeting = self.readline()
        if mode == "starttls":
            self.command("STARTTLS")
            self.sock = server.ssl_context().wrap_socket(self.sock, server_hostname=server.tls_name)

    def send(self, line):
        self.transcript.append("C: " + line)
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def readline(self, timeout=None):
        """One response line (without CRLF); raises socket.timeout when none comes in time."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\r\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no IMAP line within the time limit; transcript:\n" + "\n".join(self.transcript))
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection; transcript:\n" + "\n".join(self.transcript))
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        text = line.decode("utf-8", "replace")
        self.transcript.append("S: " + text)
        literal = re.search(r"\{(\d+)\}$", text)
        if literal:  # keep a literal with its line so that callers see whole responses
            size = int(literal.group(1))
            while len(self._buffer) < size:
                self.sock.settimeout(max(0.1, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection inside a literal")
                self._buffer += chunk
            text += "\r\n" + self._buffer[:size].decode("utf-8", "replace")
            self._buffer = self._buffer[size:]
            text += self.readline(timeout)
        return text

    def next_tag(self):
        self._tag += 1
        return "r%d" % self._tag

    def command(self, text, ok=True):
        """Sends a tagged command; returns (untagged lines, tagged completion line). Fails the
        test on NO or BAD unless ok is False."""
        tag = self.next_tag()
        self.send("%s %s" % (tag, text))
        untagged = []
        while True:
            line = self.readline()
            if line.startswith(tag + " "):
                if ok and not line[len(tag) + 1:].upper().startswith("OK"):
                    raise AssertionError("IMAP %r failed: %s\ntranscript:\n%s" % (text, line, "\n".join(self.transcript)))
                return untagged, line
            untagged.append(line)

    def login(self, account):
        return self.command("LOGIN %s %s" % (imap_quote(account.user), imap_quote(account.password)))

    def wait_for(self, pattern, timeout):
        """Reads lines until one matches the regular expression (returned as a match); the
        lines read before it are in self.transcript."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            match = re.search(pattern, line)
            if match:
                return match

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- curl --------------------------------------------------------------------------------------

def curl_imap(server, account, path="", mode="tls", request=None, extra=(), timeout=60, workdir=None):
    """curl imaps:// ("tls"), imap:// with --ssl-reqd ("starttls") or plain imap://. path is
    curl's IMAP URL path: "" lists mailboxes, "INBOX/;UID=3" fetches a message, "INBOX?ALL"
    searches; request is a custom command (-X)."""
    return _curl(server, account, "imap", server.imap_port(mode), mode, path, request, extra, timeout, workdir)


# --- mbsync ------------------------------------------------------------------------------------

@dataclass
class SyncResult:
    maildir: str        # the local Maildir root; INBOX is maildir/INBOX
    output: str
    commands: list      # IMAP command lines the tool sent (tags and literals dropped)

    def folder(self, name):
        return os.path.join(self.maildir, name)


def _mbsync_quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mbsync_sync(workdir, server, account, mode="tls", maildir=None, patterns=("*",), sync="All",
                create="Both", expunge="Both", remove="None", timeout=TOOL_TIMEOUT):
    """One `mbsync -a` run between the account's mailboxes and a local Maildir (default
    workdir/Maildir, INBOX in Maildir/INBOX, other mailboxes beside it), with the state
    (.mbsyncstate) kept in each folder so that the next call syncs incrementally. mode "tls"
    (IMAPS) or "starttls". Returns a SyncResult; the commands are from mbsync -Dn."""
    if mode not in ("tls", "starttls"):
        raise ValueError("mbsync_sync: mode must be tls or starttls (mbsync will not log in without TLS here)")
    maildir = os.path.abspath(maildir or os.path.join(workdir, "Maildir"))
    os.makedirs(maildir, exist_ok=True)
    config = os.path.join(workdir, "mbsyncrc")
    write_private(config, "\n".join([
        "IMAPAccount interop",
        "Host %s" % server.host,
        "Port %d" % server.imap_port(mode),
        "User %s" % _mbsync_quote(account.user),
        "Pass %s" % _mbsync_quote(account.password),
        "SSLType %s" % ("IMAPS" if mode == "tls" else "STARTTLS"),
        "CertificateFile %s" % server.cafile,
        "SystemCertificates no",
        "Timeout 30",
        "",
        "IMAPStore remote",
        "Account interop",
        "",
        "MaildirStore local",
        "Path %s/" % maildir,
        "Inbox %s/INBOX" % maildir,
        "SubFolders Verbatim",
        "",
        "Channel interop",
        "Far :remote:",
        "Near :local:",
        "Patterns %s" % " ".join(_mbsync_quote(p) for p in patterns),
        "Create %s" % create,
        "Expunge %s" % expunge,
        "Remove %s" % remove,
        "SyncState *",
        "Sync %s" % sync,
        "",
    ]))
    result = run_tool(["mbsync", "-Dn", "-c", config, "-a"], workdir=workdir, timeout=timeout, files=[config])
    output = _text(result.stdout)
    if re.search(r"^(Error|IMAP error|Warning: lost track)", output, re.M):
        raise ToolError("mbsync reported an error", ["mbsync", "-Dn", "-c", config, "-a"], result.returncode, output)
    sent = [m.group(1) for m in re.finditer(r"^(?:[FN]: )?>>> (.*)$", output, re.M)]
    return SyncResult(maildir, output, strip_tags(mask_sasl(sent)))


# --- offlineimap -------------------------------------------------------------------------------

def offlineimap_sync(workdir, server, account, mode="tls", maildir=None, folders=None, timeout=TOOL_TIMEOUT):
    """One `offlineimap -o` run (one-shot, single-threaded) between the account and a local
    Maildir (default workdir/OfflineIMAP, one subfolder per mailbox, INBOX in INBOX/), state in
    workdir/offlineimap-state. folders: only these mailboxes (default all). Returns a
    SyncResult with the commands from offlineimap's -d imap trace.

    Use mode "tls". With "starttls" offlineimap3 (Debian 12: 0.0~git20211018, imaplib2 2.57)
    checks no certificate at all, and it hangs after STARTTLS in about one run in fifteen
    (it sends CAPABILITY and never reads the answer) until the time-out; a plain "plain"
    connection works but sends the password in the clear."""
    _check_mode(mode)
    maildir = os.path.abspath(maildir or os.path.join(workdir, "OfflineIMAP"))
    os.makedirs(maildir, exist_ok=True)
    password_file = write_private(os.path.join(workdir, "offlineimap-password"), account.password + "\n")
    lines = [
        "[general]",
        "accounts = interop",
        "metadata = %s" % os.path.join(workdir, "offlineimap-state"),
        "ui = basic",
        "maxsyncaccounts = 1",
        "",
        "[Account interop]",
        "localrepository = local",
        "remoterepository = remote",
        "",
        "[Repository local]",
        "type = Maildir",
        "localfolders = %s" % maildir,
        "",
        "[Repository remote]",
        "type = IMAP",
        "remotehost = %s" % server.host,
        "remoteport = %d" % server.imap_port(mode),
        "remoteuser = %s" % account.user.replace("%", "%%"),
        "remotepassfile = %s" % password_file,
        "ssl = %s" % ("yes" if mode == "tls" else "no"),
        "starttls = %s" % ("yes" if mode == "starttls" else "no"),
        "maxconnections = 1",
        "holdconnectionopen = no",
    ]
    if mode == "tls":
        lines.append("cert_fingerprint = %s" % server.fingerprint("sha512"))
    if folders is not None:
        lines.append("folderfilter = lambda name: name in %r" % (list(folders),))
    config = write_private(os.path.join(workdir, "offlineimaprc"), "\n".join(lines) + "\n")
    argv = ["offlineimap", "-c", config, "-o", "-1", "-u", "basic", "-d", "imap"]
    result = run_tool(argv, workdir=workdir, timeout=timeout, files=[config])
    output = _text(result.stdout)
    if re.search(r"^(ERROR|WARNING: .*(rror|xception))", output, re.M):
        raise ToolError("offlineimap reported an error", argv, result.returncode, output)
    sent = []
    for match in re.finditer(r"writer > (b(['\"]).*\2)$", output, re.M):
        try:  # the trace shows each write as a Python bytes literal
            data = ast.literal_eval(match.group(1))
        except (SyntaxError, ValueError):
            continue
        sent += data.decode("utf-8", "replace").split("\r\n")
    return SyncResult(maildir, output, strip_tags(mask_sasl(sent)))


# --- mutt --------------------------------------------------------------------------------------

@dataclass
class MuttResult:
    index: str          # the index screen as mutt showed it (tmux capture-pane)
    pager: str          # the screen with the first message open ("" when the mailbox is empty)
    messages: list      # every message of the mailbox, piped out by mutt (bytes, LF line ends)
    count: int          # the message count on mutt's status line
    commands: list      # IMAP commands mutt sent (from its -d 2 debug file)


def _mutt_quote(text):
    for char in ("\\", '"', "`", "$"):
        text = text.replace(char, "\\" + char)
    return '"' + text + '"'


class _Tmux:
    """One private tmux server (its own socket in the work directory, no configuration)."""

    def __init__(self, workdir, env):
        self.socket = os.path.join(workdir, "tmux.sock")
        self.workdir = workdir
        self.env = env

    def run(self, *args, timeout=20):
        return run_tool(["tmux", "-S", self.socket, "-f", "/dev/null"] + list(args),
                        workdir=self.workdir, env=self.env, timeout=timeout)

    def screen(self):
        return _text(self.run("capture-pane", "-p", "-t", "interop").stdout)

    def keys(self, *keys):
        self.run("send-keys", "-t", "interop", *keys)

    def wait(self, predicate, what, timeout, stable=0.5, fail=None):
        """Polls the screen until predicate(screen) is true on two captures stable seconds
        apart; returns that screen. Fails with the last screen on a time-out, or at once when
        the regular expression fail matches the screen (a prompt nobody will answer)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if fail is not None and fail.search(screen):
                raise ToolError("mutt stopped at %r instead of showing the %s" % (fail.search(screen).group(0), what),
                                output="--- screen ---\n" + screen)
            if predicate(screen):
                time.sleep(stable)
                again = self.screen()
                if predicate(again) and again == screen:
                    return screen
                continue
            if "MUTT-EXIT:" in screen and "MUTT-EXIT:" not in what:
                break
            time.sleep(0.2)
        raise ToolError("mutt: no %s on the screen within %ss" % (what, timeout), output="--- screen ---\n" + screen)

    def kill(self):
        try:
            subprocess.run(["tmux", "-S", self.socket, "kill-server"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, env=self.env)
        except (OSError, subprocess.TimeoutExpired):
            pass


# Screens on which mutt waits for a person: a certificate it does not trust, a password
# prompt after a failed login, a connection error.
MUTT_STUCK = re.compile(r"\(r\)eject|Password for \S+|Login failed|Could not connect|"
                        r"SSL connection failed|SSL failed|Connection to \S+ closed|No authenticators available")


def mutt_read(workdir, server, account, mode="tls", mailbox="INBOX", open_first=True, timeout=TOOL_TIMEOUT):
    """Opens the account's mailbox in mutt (imaps:// for "tls", imap:// with STARTTLS required
    for "starttls", plain imap:// for "plain") inside a private tmux server, as a person would:
    reads the index screen, opens the first message (Enter) and reads the pager screen, goes back
    (q), then pipes every message out to files (a macro: tag all, pipe each) and quits.
    Returns a MuttResult."""
    _check_mode(mode)
    saved = os.path.join(workdir, "mutt-piped")
    shutil.rmtree(saved, ignore_errors=True)
    save = _save_script(workdir)
    scheme = "imaps" if mode == "tls" else "imap"
    config = os.path.join(workdir, "muttrc")
    write_private(config, "\n".join([
        "set folder=%s" % _mutt_quote("%s://%s:%d/" % (scheme, server.host, server.imap_port(mode))),
        "set spoolfile=%s" % _mutt_quote("+" + mailbox),
        "set imap_user=%s" % _mutt_quote(account.user),
        "set imap_pass=%s" % _mutt_quote(account.password),
        "set imap_authenticators=\"plain:login\"",
        "set certificate_file=%s" % _mutt_quote(server.cafile),
        "set ssl_verify_host=no",
        "set ssl_starttls=%s" % ("yes" if mode == "starttls" else "no"),
        "set ssl_force_tls=%s" % ("no" if mode == "plain" else "yes"),
        "set header_cache=\"\"",
        "set message_cachedir=\"\"",
        "set record=\"\"",
        "set postponed=%s" % _mutt_quote(os.path.join(workdir, "mutt-postponed")),
        "set mbox=%s" % _mutt_quote(os.path.join(workdir, "mutt-mbox")),
        "set move=no",
        "set quit=yes",
        "set delete=no",
        "set wait_key=no",
        "set beep=no",
        "set mail_check_stats=no",
        "set markers=no",
        "set sort=date-sent",
        "set pipe_split=yes",
        "set pipe_decode=no",
        "set pipe_sep=\"\"",  # mutt's default "\n" would be appended to every piped message
        "set timeout=5",
        "set status_format=\"MUTT-INDEX %f msgs=%m %|-\"",
        "set pager_format=\"MUTT-PAGER %C/%m %s %|-\"",
        "set index_format=\"%4C %-24.24L %s\"",
        "macro index X \"<tag-pattern>~A<enter><tag-prefix><pipe-message>%s %s<enter><quit>\"" % (save, saved),
        "",
    ]))
    env = tool_env(workdir, TERM="xterm")
    tmux = _Tmux(workdir, env)
    debug = os.path.join(workdir, ".muttdebug0")
    for old in [name for name in os.listdir(workdir) if name.startswith(".muttdebug")]:
        os.unlink(os.path.join(workdir, old))
    # timeout (--foreground: mutt must own the terminal) and the short sleep bound the tmux
    # server's life should this process die.
    shell = "timeout --foreground %d mutt -n -d 2 -F %s; echo MUTT-EXIT:$?; sleep 30" % (timeout + 30, shlex.quote(config))
    try:
        tmux.run("new-session", "-d", "-x", "200", "-y", "50", "-s", "interop", shell)
        counted = re.compile(r"MUTT-INDEX \S+ msgs=(\d+)")
        index = tmux.wait(lambda s: counted.search(s) and "Fetching" not in s and "Selecting" not in s,
                          "index", timeout, fail=MUTT_STUCK)
        count = int(counted.search(index).group(1))
        pager = ""
        if open_first and count:
            tmux.keys("Enter")
            pager = tmux.wait(lambda s: "MUTT-PAGER 1/" in s, "pager", timeout)
            tmux.keys("q")
            tmux.wait(lambda s: counted.search(s) is not None and "MUTT-PAGER" not in s, "index again", timeout)
        tmux.keys("X")
        ended = tmux.wait(lambda s: "MUTT-EXIT:" in s, "MUTT-EXIT: after quitting", timeout)
        if "MUTT-EXIT:0" not in ended:
            raise ToolError("mutt exited with an error", output="--- screen ---\n" + ended)
    except ToolError as e:
        e.args = (e.args[0] + "\n--- muttrc ---\n" + open(config).read() + _mutt_debug_tail(debug),)
        raise
    finally:
        tmux.kill()
    messages = [normalize(m) for m in saved_messages(saved)]
    sent = []
    if os.path.exists(debug):
        with open(debug, encoding="utf-8", errors="replace") as f:
            for line in f:
                match = re.match(r"^\[[^\]]*\] \d> ([a-z]\d{4} .*)$", line.rstrip("\n"))
                if match:
                    sent.append(match.group(1))
    return MuttResult(index, pager, messages, count, strip_tags(mask_sasl(sent)))


def _mutt_debug_tail(path, lines=60):
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        return "\n--- mutt debug (last %d lines) ---\n" % lines + "".join(f.readlines()[-lines:])
