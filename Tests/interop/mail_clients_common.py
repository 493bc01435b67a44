"""What the IMAP and POP3 client drivers share (standard library only).

Not a test module (discovery skips it): imap_client_tools and pop3_client_tools build on it, and
imap_pop3_clients re-exports all of it. Every client function takes a Server (host, the four
ports, the server's certificate) and an Account, talks real TCP to 127.0.0.1 only, and raises
ToolError (an AssertionError, so a test reports it as a failure) with the tool's full output when
the tool fails or times out. Nothing is mocked.

Here: Server, Account, ToolError; running an outside tool (tool_env, run_tool, write_private);
messages (make_message, normalize, strip_headers, header); Maildir helpers (maildir_messages,
maildir_add, maildir_set_flags); the commands a client sent, from its debug trace
(command_names, mask_sasl, strip_tags); the curl run behind curl_imap and curl_pop3; and
save-message.py, the MDA (fetchmail) and pipe target (mutt) that stores messages as files.

Certificates: the server has a self-signed certificate whose name (Server.tls_name, e.g.
"mx.test") is not "127.0.0.1". Each client is made to trust exactly that certificate, and to
check the name wherever the tool can be pointed at 127.0.0.1 under another name:
  Python    the certificate as the only CA, server_hostname=tls_name, connection to 127.0.0.1
  curl      --cacert CERT and --connect-to tls_name:PORT:127.0.0.1:PORT, URL host tls_name
The other tools' settings (and quirks) are in imap_client_tools (mbsync, offlineimap, mutt) and
pop3_client_tools (fetchmail).
Every tool gets HOME (and FETCHMAILHOME) set to the test's work directory, so personal
configuration files are never read.
"""

import hashlib
import os
import re
import shlex
import shutil
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


# --- curl (curl_imap and curl_pop3 are in imap_client_tools and pop3_client_tools) -------------

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


# --- save-message.py: the MDA for fetchmail, the pipe target for mutt --------------------------

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
