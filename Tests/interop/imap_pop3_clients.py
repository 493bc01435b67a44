"""Drives real IMAP and POP3 clients against a server on 127.0.0.1 (standard library only).

Not a test module (discovery skips it): the interop tests import it. Every function takes a
Server (host, the four ports, the server's certificate) and an Account, talks real TCP to
127.0.0.1 only, and raises ToolError (an AssertionError, so a test reports it as a failure)
with the tool's full output when the tool fails or times out. Nothing is mocked.

Python's own clients (imaplib, poplib):
  imap_connect / imap_login      imaplib, mode "plain", "starttls" or "tls" (IMAPS)
  pop3_connect / pop3_login      poplib, mode "plain", "starttls" (STLS) or "tls" (POP3S)
  RawImap                        raw IMAP lines over a socket (for IDLE, which imaplib lacks)
Outside tools (each one's debug trace is parsed into the list of commands it sent):
  curl_imap / curl_pop3          curl imap:// imaps:// pop3:// pop3s://
  mbsync_sync                    mbsync (isync) between the server and a local Maildir
  offlineimap_sync               offlineimap (offlineimap3) one-shot sync to a local Maildir
  mutt_read                      mutt in a tmux pane: index screen, first message, all messages
  fetchmail_fetch                fetchmail over POP3 (or IMAP), keep or no-keep, through an MDA
Maildir helpers: maildir_messages, maildir_add, maildir_set_flags; messages: make_message,
normalize, strip_headers.

Certificates: the server has a self-signed certificate whose name (Server.tls_name, e.g.
"mx.test") is not "127.0.0.1". Each client is made to trust exactly that certificate, and to
check the name wherever the tool can be pointed at 127.0.0.1 under another name:
  Python    the certificate as the only CA, server_hostname=tls_name, connection to 127.0.0.1
  curl      --cacert CERT and --connect-to tls_name:PORT:127.0.0.1:PORT, URL host tls_name
  fetchmail sslcertck, sslcertfile CERT, sslcommonname tls_name
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
Every tool gets HOME (and FETCHMAILHOME) set to the test's work directory, so personal
configuration files are never read.
"""

import ast
import hashlib
import imaplib
import os
import poplib
import pwd
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass

HOST = "127.0.0.1"
TOOL_TIMEOUT = 90   # seconds, for one run of an outside tool
NET_TIMEOUT = 20    # seconds, for one Python client operation
MODES = ("plain", "starttls", "tls")


@dataclass(frozen=True)
class Server:
    """Where the server listens (always 127.0.0.1) and the certificate its TLS listeners use."""
    imap: int
    imaps: int
    pop3: int
    pop3s: int
    cafile: str                 # PEM of the server's self-signed certificate
    tls_name: str = "mx.test"   # the name in that certificate
    host: str = HOST

    def fingerprint(self, algorithm="sha256"):
        """Lower-case hex digest of the certificate's DER encoding."""
        with open(self.cafile) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        return hashlib.new(algorithm, der).hexdigest()

    def ssl_context(self):
        """A client context that trusts only the server's certificate and checks its name."""
        context = ssl.create_default_context(cafile=self.cafile)
        context.check_hostname = True
        return context

    def imap_port(self, mode):
        _check_mode(mode)
        return self.imaps if mode == "tls" else self.imap

    def pop3_port(self, mode):
        _check_mode(mode)
        return self.pop3s if mode == "tls" else self.pop3


@dataclass(frozen=True)
class Account:
    user: str
    password: str


class ToolError(AssertionError):
    """An outside tool failed: the message holds the command, the exit status and all output."""

    def __init__(self, summary, argv=None, returncode=None, output="", files=None):
        parts = [summary]
        if argv is not None:
            parts.append("command: " + " ".join(shlex.quote(str(a)) for a in argv))
        if returncode is not None:
            parts.append("exit status: %s" % returncode)
        for name, text in (files or {}).items():
            parts.append("--- %s ---\n%s" % (name, text))
        parts.append("--- output ---\n%s" % _text(output))
        super().__init__("\n".join(parts))
        self.argv = argv
        self.returncode = returncode
        self.output = _text(output)


def _text(data):
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


def _check_mode(mode):
    if mode not in MODES:
        raise ValueError("mode must be one of %s, not %r" % (", ".join(MODES), mode))


def tool_env(workdir, **extra):
    """The environment for an outside tool: HOME is the work directory, so no personal
    ~/.muttrc, ~/.mbsyncrc, ~/.fetchmailrc or ~/.offlineimaprc is read and the tools' state
    files land there."""
    env = dict(os.environ)
    env.update(HOME=workdir, LC_ALL="C.UTF-8", LANG="C.UTF-8", FETCHMAILHOME=workdir)
    for name in ("MAIL", "MAILDIR", "MUTT", "MUTTRC", "FETCHMAILUSER", "TMUX", "TMUX_TMPDIR"):
        env.pop(name, None)
    env.update(extra)
    return env


def run_tool(argv, *, workdir, timeout=TOOL_TIMEOUT, ok=(0,), env=None, merge_stderr=True, files=None):
    """Runs argv with no standard input; returns the CompletedProcess (stdout bytes; stderr
    bytes too unless merged). Raises ToolError on a missing tool, a time-out or an exit status
    outside ok, naming the files in `files` (path -> shown in the error) for the diagnosis."""
    if shutil.which(argv[0]) is None:
        raise ToolError("%s is not installed (scripts/install-deps.sh test)" % argv[0], argv)
    shown = {}
    for path in files or ():
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                shown[path] = f.read()
        except OSError as e:
            shown[path] = "(unreadable: %s)" % e
    try:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                                timeout=timeout, env=env or tool_env(workdir), cwd=workdir)
    except subprocess.TimeoutExpired as e:
        output = _text(e.stdout) + ("\n--- stderr ---\n" + _text(e.stderr) if e.stderr else "")
        raise ToolError("%s timed out after %ss" % (argv[0], timeout), argv, None, output, shown) from None
    if result.returncode not in ok:
        output = _text(result.stdout)
        if not merge_stderr:
            output += "\n--- stderr ---\n" + _text(result.stderr)
        raise ToolError("%s failed" % argv[0], argv, result.returncode, output, shown)
    return result


def write_private(path, text):
    """Writes a configuration file readable by its owner only (fetchmail insists on 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


# --- messages and Maildirs ---------------------------------------------------------------------

_message_counter = 0


def make_message(subject, body="Hello from the interop suite.\n", sender="alice@example.test",
                 to="demo@example.test", message_id=None, date=None, extra_headers=()):
    """A small RFC 5322 message with CRLF line ends and a unique Message-ID."""
    global _message_counter
    _message_counter += 1
    if message_id is None:
        message_id = "<interop-%d-%d-%d@example.test>" % (os.getpid(), int(time.time() * 1000), _message_counter)
    if date is None:
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    headers = ["From: %s" % sender, "To: %s" % to, "Subject: %s" % subject, "Date: %s" % date,
               "Message-ID: %s" % message_id, "MIME-Version: 1.0",
               "Content-Type: text/plain; charset=utf-8"] + list(extra_headers)
    body = body.replace("\r\n", "\n").replace("\n", "\r\n")
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


def normalize(data):
    """Line ends as LF: Maildir tools (mbsync, offlineimap, mutt, fetchmail) store LF."""
    return data.replace(b"\r\n", b"\n")


def strip_headers(data, names):
    """data without the header fields (and their continuation lines) named in names, which
    clients add: mbsync's X-TUID, offlineimap's X-OfflineIMAP, fetchmail's Received."""
    lowered = {n.lower().encode() for n in names}
    head, sep, body = normalize(data).partition(b"\n\n")
    kept, skipping = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.split(b":", 1)[0].strip().lower() in lowered
        if not skipping:
            kept.append(line)
    return b"\n".join(kept) + sep + body


def header(data, name):
    """The first value of header field name in data (str), or None."""
    for line in normalize(data).partition(b"\n\n")[0].split(b"\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode("utf-8", "replace")
    return None


@dataclass
class MaildirMessage:
    path: str
    flags: str      # Maildir info flags after ":2,", e.g. "FS"
    data: bytes

    @property
    def subject(self):
        return header(self.data, "Subject")


def maildir_messages(folder):
    """Every message in a Maildir folder (new/ and cur/), ordered by subject then file name."""
    found = []
    for sub in ("new", "cur"):
        directory = os.path.join(folder, sub)
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            if name.startswith("."):
                continue
            path = os.path.join(directory, name)
            flags = name.rsplit(":2,", 1)[1] if ":2," in name else ""
            with open(path, "rb") as f:
                found.append(MaildirMessage(path, flags, f.read()))
    return sorted(found, key=lambda m: (m.subject or "", m.path))


_maildir_counter = 0


def maildir_add(folder, data, flags=""):
    """Adds a message to a local Maildir folder the way a mail reader would (tmp/, then new/ or,
    with flags, cur/ with ":2,FLAGS"); creates the folder. Returns the message's path."""
    global _maildir_counter
    _maildir_counter += 1
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    now = time.time()
    base = "%d.M%dP%dQ%d.interop" % (int(now), int((now % 1) * 1e6), os.getpid(), _maildir_counter)
    temporary = os.path.join(folder, "tmp", base)
    with open(temporary, "wb") as f:
        f.write(data)
    if flags:
        final = os.path.join(folder, "cur", base + ":2," + "".join(sorted(flags)))
    else:
        final = os.path.join(folder, "new", base)
    os.rename(temporary, final)
    return final


def maildir_set_flags(path, flags):
    """Sets a local message's Maildir flags (moving it to cur/), as a mail reader does when
    the user reads or flags it. Returns the new path."""
    folder = os.path.dirname(os.path.dirname(path))
    base = os.path.basename(path).split(":2,", 1)[0]
    final = os.path.join(folder, "cur", base + ":2," + "".join(sorted(flags)))
    os.rename(path, final)
    return final


# --- Python's imaplib and poplib, connected to 127.0.0.1 under the certificate's name ----------

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


# --- the commands a client sent, from its debug output -----------------------------------------

def command_names(lines):
    """IMAP/POP3 command names in the order first used: "UID FETCH" for UID commands,
    "AUTHENTICATE PLAIN" for SASL, the verb otherwise. lines: command lines without tags."""
    names = []
    for line in lines:
        words = line.split()
        if not words:
            continue
        name = words[0].upper()
        if name in ("UID", "AUTHENTICATE", "AUTH") and len(words) > 1:
            name += " " + words[1].upper()
        if name not in names:
            names.append(name)
    return names


def mask_sasl(lines):
    """The command lines with SASL data hidden: the initial response after AUTHENTICATE/AUTH
    MECH becomes <sasl>, and a line that answers a SASL challenge (no command verb: one
    base64 word, or "*" to cancel) is dropped."""
    masked = []
    for line in lines:
        line = line.rstrip("\r")
        words = line.split()
        if not words:
            continue
        if len(words) == 1 and (re.fullmatch(r"[A-Za-z0-9+/=]{12,}", words[0]) or words[0] == "*"):
            continue
        match = re.match(r"^((?:\S+ )?(?:AUTHENTICATE|AUTH) \S+) \S+$", line, re.I)
        masked.append(match.group(1) + " <sasl>" if match else line)
    return masked


def strip_tags(lines):
    """IMAP command lines without their tags; lines that are no tagged command (literal data,
    SASL responses) are dropped."""
    commands = []
    for line in lines:
        match = re.match(r"^([A-Za-z.]*[0-9][A-Za-z0-9.]*) ([A-Za-z].*)$", line.rstrip("\r"))
        if match:
            commands.append(match.group(2))
    return commands


# --- curl --------------------------------------------------------------------------------------

@dataclass
class CurlResult:
    body: bytes         # what curl wrote to standard output
    trace: str          # curl -v on standard error
    commands: list      # the command lines curl sent (without IMAP tags)


def _curl(server, account, scheme, port, mode, path, request, extra, timeout, workdir):
    _check_mode(mode)
    secure = "s" if mode == "tls" else ""
    if mode == "plain":
        url_host, pin = server.host, []
    else:
        # The certificate's name in the URL, the connection to 127.0.0.1: curl checks the name.
        url_host = server.tls_name
        pin = ["--cacert", server.cafile, "--connect-to", "%s:%d:%s:%d" % (server.tls_name, port, server.host, port)]
    url = "%s%s://%s:%d/%s" % (scheme, secure, url_host, port, path.lstrip("/"))
    argv = ["curl", "-sS", "-v", "--max-time", str(int(timeout)), "--user",
            "%s:%s" % (account.user, account.password)] + pin
    if mode == "starttls":
        argv.append("--ssl-reqd")
    if request:
        argv += ["-X", request]
    argv += list(extra) + [url]
    workdir = workdir or tempfile.gettempdir()
    result = run_tool(argv, workdir=workdir, timeout=timeout + 10, merge_stderr=False)
    trace = _text(result.stderr)
    sent = mask_sasl(line[2:] for line in trace.splitlines() if line.startswith("> "))
    commands = strip_tags(sent) if scheme == "imap" else sent
    return CurlResult(result.stdout, trace, commands)


def curl_imap(server, account, path="", mode="tls", request=None, extra=(), timeout=60, workdir=None):
    """curl imaps:// ("tls"), imap:// with --ssl-reqd ("starttls") or plain imap://. path is
    curl's IMAP URL path: "" lists mailboxes, "INBOX/;UID=3" fetches a message, "INBOX?ALL"
    searches; request is a custom command (-X)."""
    return _curl(server, account, "imap", server.imap_port(mode), mode, path, request, extra, timeout, workdir)


def curl_pop3(server, account, path="", mode="tls", request=None, extra=(), timeout=60, workdir=None):
    """curl pop3s:// ("tls"), pop3:// with --ssl-reqd ("starttls") or plain pop3://. path ""
    lists (LIST), "2" retrieves message 2; request is a custom command such as "UIDL", "TOP 1 0"
    or "DELE 1" (for DELE, pass extra=("-I",) so that curl expects no body)."""
    return _curl(server, account, "pop3", server.pop3_port(mode), mode, path, request, extra, timeout, workdir)


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


SAVE_SCRIPT = """#!/usr/bin/env python3
# Stores the message on standard input as the next numbered file NNNN.eml in the directory
# given as the argument (an MDA for fetchmail, a pipe target for mutt).
import os, sys
directory = sys.argv[1]
os.makedirs(directory, exist_ok=True)
data = sys.stdin.buffer.read()
number = 1
while True:
    path = os.path.join(directory, "%04d.eml" % number)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        number += 1
        continue
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    break
"""


def _save_script(workdir):
    path = os.path.join(workdir, "save-message.py")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(SAVE_SCRIPT)
        os.chmod(path, 0o755)
    return path


def saved_messages(directory):
    """The messages a save-message.py target wrote, in order."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".eml"):
            with open(os.path.join(directory, name), "rb") as f:
                found.append(f.read())
    return found


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
