#!/usr/bin/env python3
"""Record Dovecot's IMAP answers for every *.eml in this directory.

For each NNN-name.eml this writes NNN-name.dovecot.json:

    {"dovecot_version": "2.3.19.1 (9b53102964)",
     "envelope": "...", "bodystructure": "...", "body": "...",
     "rfc822size": 1234}

envelope / bodystructure / body are the EXACT bytes of the three values in
Dovecot's untagged FETCH response, from the opening "(" to the matching ")",
including any "{n}\\r\\n" literals Dovecot put inside them, not reformatted.
The bytes are decoded as latin-1 (byte 0xNN -> U+00NN) so that every byte,
8-bit and control bytes included, survives the JSON round trip; to get the
bytes back, encode the string as latin-1. The JSON is written ASCII-only
(json.dumps ensure_ascii), so non-ASCII bytes appear as \\u00NN escapes.
rfc822size is Dovecot's RFC822.SIZE for the message (an integer).

How Dovecot is run: the `imap` binary, pre-authenticated, speaking IMAP over
its stdin/stdout (no network, no dovecot master, no auth), with a throwaway
dovecot.conf and Maildir in a temporary directory that is removed afterwards.
One imap process per message, each with an empty mailbox: APPEND the file's
exact bytes as a synchronizing literal, SELECT INBOX, then
FETCH 1 (ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE). All settings are Dovecot's
defaults apart from where the mail lives (nothing that changes BODYSTRUCTURE:
mail_attachment_detection_options stays empty).

Dovecot refuses to access mail as root; when run as root the imap process is
started as the unprivileged user `nobody` (the temporary directory is handed
to that user).

Needs the imap binary from Debian's dovecot-imapd package (same version as
dovecot-core): `apt-get install dovecot-imapd` puts it at
/usr/lib/dovecot/imap. Another location can be given with --imap PATH or the
DOVECOT_IMAP environment variable. The Dovecot service itself is not used.

Usage: python3 record_dovecot.py [--imap PATH] [FILE.eml ...]
"""

import argparse
import glob
import json
import os
import pwd
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 20.0  # seconds to wait for any single answer

CONF = """\
# Throwaway configuration written by record_dovecot.py.
mail_location = maildir:{tmp}/Maildir
mail_home = {tmp}/home
ssl = no
log_path = {tmp}/dovecot.log
base_dir = {tmp}/run
state_dir = {tmp}/state
# Left at Dovecot's default (empty): it would add $HasAttachment keywords and
# must not influence anything else.
mail_attachment_detection_options =
"""


class IMAPError(Exception):
    pass


class IMAPProcess:
    """An imap process over pipes, with literal-aware response reading."""

    def __init__(self, argv, env, cwd, user=None, group=None, stderr=None):
        kw = {}
        if user is not None:
            kw = dict(user=user, group=group, extra_groups=[])
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=stderr, env=env, cwd=cwd, **kw)
        self.buf = b""
        self.tagn = 0

    def _fill(self):
        r, _, _ = select.select([self.p.stdout], [], [], TIMEOUT)
        if not r:
            raise IMAPError("timeout waiting for imap output")
        data = os.read(self.p.stdout.fileno(), 65536)
        if not data:
            raise IMAPError("imap closed its output; buffered: %r" % self.buf[:300])
        self.buf += data

    def _take_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    LITERAL_AT_END = re.compile(rb"~?\{(\d+)\+?\}\r\n$")

    def read_response(self):
        """One complete response (a line plus any literals it announces), raw bytes."""
        resp = b""
        while True:
            line = self._take_line()
            resp += line
            m = self.LITERAL_AT_END.search(line)
            if not m:
                return resp
            resp += self._take(int(m.group(1)))

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def next_tag(self):
        self.tagn += 1
        return b"t%d" % self.tagn

    def command(self, cmd, literal=None):
        """Send a command; if literal is given, cmd must end in {n}. Returns
        (untagged responses, tagged response)."""
        tag = self.next_tag()
        untagged = []
        if literal is None:
            self.send(tag + b" " + cmd + b"\r\n")
        else:
            self.send(tag + b" " + cmd + b"\r\n")
            while True:
                r = self.read_response()
                if r.startswith(b"+"):
                    break
                if r.startswith(tag + b" "):
                    raise IMAPError("literal refused: %r" % r)
                untagged.append(r)
            self.send(literal + b"\r\n")
        while True:
            r = self.read_response()
            if r.startswith(tag + b" "):
                if not r[len(tag) + 1:].startswith(b"OK"):
                    raise IMAPError("%s failed: %r" % (cmd[:40], r))
                return untagged, r
            untagged.append(r)

    def close(self):
        try:
            if self.p.poll() is None:
                try:
                    self.command(b"LOGOUT")
                except (IMAPError, BrokenPipeError, OSError):
                    pass
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except Exception:
            pass
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()


# ---------------------------------------------------------------------------
# Scanning the FETCH response without reformatting anything


def skip_value(b, i):
    """Index just past the IMAP value starting at b[i] (list, quoted, literal, atom)."""
    c = b[i:i + 1]
    if c == b"(":
        i += 1
        while True:
            while b[i:i + 1] == b" ":
                i += 1
            if b[i:i + 1] == b")":
                return i + 1
            if i >= len(b):
                raise IMAPError("unterminated list")
            i = skip_value(b, i)
    if c == b'"':
        i += 1
        while True:
            ch = b[i:i + 1]
            if ch == b"":
                raise IMAPError("unterminated quoted string")
            if ch == b"\\":
                i += 2
                continue
            i += 1
            if ch == b'"':
                return i
    m = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(b, i)
    if m:
        return m.end() + int(m.group(1))
    j = i
    while j < len(b) and b[j:j + 1] not in (b" ", b")", b"(", b"\r"):
        # an atom, NIL, a number, or an item name such as BODY[...]
        if b[j:j + 1] == b"[":
            j = b.index(b"]", j)
        j += 1
    if j == i:
        raise IMAPError("empty value at %d: %r" % (i, b[i:i + 40]))
    return j


def parse_fetch(resp):
    """{ITEM NAME: raw value bytes} from one untagged '* n FETCH (...)' response."""
    m = re.match(rb"\* (\d+) FETCH \(", resp)
    if not m:
        raise IMAPError("not a FETCH response: %r" % resp[:80])
    i = m.end()
    items = {}
    while True:
        if resp[i:i + 1] == b")":
            if resp[i + 1:] != b"\r\n":
                raise IMAPError("trailing bytes after FETCH list: %r" % resp[i:i + 80])
            return items
        j = skip_value(resp, i)
        name = resp[i:j].upper()
        if resp[j:j + 1] != b" ":
            raise IMAPError("expected space after %r" % name)
        k = skip_value(resp, j + 1)
        items[name.decode("ascii")] = resp[j + 1:k]
        i = k
        if resp[i:i + 1] == b" ":
            i += 1


# ---------------------------------------------------------------------------


def dovecot_version(imap):
    for cand in ("/usr/sbin/dovecot", "dovecot"):
        try:
            out = subprocess.run([cand, "--version"], capture_output=True, check=True, text=True)
            return out.stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
    raise SystemExit("cannot find `dovecot --version`")


def record_one(imap, eml_path, version):
    with open(eml_path, "rb") as f:
        data = f.read()
    tmp = tempfile.mkdtemp(prefix="petrel-dovecot-")
    try:
        os.makedirs(os.path.join(tmp, "home"))
        with open(os.path.join(tmp, "dovecot.conf"), "w") as f:
            f.write(CONF.format(tmp=tmp))
        user = group = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            user, group = pw.pw_uid, pw.pw_gid
            for root, dirs, files in os.walk(tmp):
                for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                    os.chown(n, user, group)
        env = {"USER": "petrel", "HOME": os.path.join(tmp, "home"),
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
        errf = open(os.path.join(tmp, "stderr"), "wb")
        proc = IMAPProcess([imap, "-c", os.path.join(tmp, "dovecot.conf")], env, tmp,
                           user=user, group=group, stderr=errf)
        try:
            greeting = proc.read_response()
            if not greeting.startswith(b"* PREAUTH"):
                raise IMAPError("unexpected greeting %r" % greeting)
            _, appended = proc.command(b"APPEND INBOX {%d}" % len(data), literal=data)
            proc.command(b"SELECT INBOX")
            untagged, _ = proc.command(b"FETCH 1 (ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE)")
            fetches = [r for r in untagged if r.startswith(b"* 1 FETCH ")]
            if len(fetches) != 1:
                raise IMAPError("expected one FETCH response, got %r" % untagged)
            items = parse_fetch(fetches[0])
            stored = sorted(glob.glob(os.path.join(tmp, "Maildir", "*", "*")))
            stored_size = None
            stored = [p for p in stored if os.path.basename(os.path.dirname(p)) in ("new", "cur")]
            if len(stored) == 1:
                stored_size = os.path.getsize(stored[0])
        finally:
            proc.close()
            errf.close()
            with open(os.path.join(tmp, "stderr"), "rb") as f:
                err = f.read()
            # The imap process logs its "Disconnected: Logged out" line to
            # stderr; report anything else.
            for line in err.decode("latin-1").splitlines():
                if line.strip() and "Info: Disconnected: Logged out" not in line:
                    sys.stderr.write("%s: imap: %s\n" % (os.path.basename(eml_path), line))
        for need in ("ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822.SIZE"):
            if need not in items:
                raise IMAPError("%s missing from %r" % (need, fetches[0][:200]))
        out = {
            "dovecot_version": version,
            "envelope": items["ENVELOPE"].decode("latin-1"),
            "bodystructure": items["BODYSTRUCTURE"].decode("latin-1"),
            "body": items["BODY"].decode("latin-1"),
            "rfc822size": int(items["RFC822.SIZE"]),
        }
        return out, len(data), stored_size
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--imap", default=os.environ.get("DOVECOT_IMAP", "/usr/lib/dovecot/imap"))
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    if not os.access(args.imap, os.X_OK):
        raise SystemExit("no Dovecot imap binary at %s (apt-get install dovecot-imapd, "
                         "or pass --imap PATH)" % args.imap)
    files = args.files or sorted(glob.glob(os.path.join(HERE, "*.eml")))
    version = dovecot_version(args.imap)
    print("Dovecot", version)
    failed = 0
    for path in files:
        name = os.path.basename(path)
        try:
            out, size, stored = record_one(args.imap, path, version)
        except IMAPError as e:
            failed += 1
            print("FAILED %s: %s" % (name, e))
            continue
        js = os.path.splitext(path)[0] + ".dovecot.json"
        with open(js, "w", encoding="ascii") as f:
            f.write(json.dumps(out, indent=1, ensure_ascii=True) + "\n")
        print("%-55s file=%d stored=%s RFC822.SIZE=%d" % (name, size, stored, out["rfc822size"]))
    if failed:
        print("%d message(s) failed" % failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
