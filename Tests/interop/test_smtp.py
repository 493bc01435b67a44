"""SMTP interop suite: a running `petrel serve` driven by outside clients.

Clients: Python's smtplib (and its raw command interface for BDAT and UTF-8 SASL), swaks, and
Postfix's smtp-source. Every test checks what a user would check: the reply codes, and then the
stored copy in PostgreSQL (trace headers, Received protocol and TLS clause, byte-exact content)
or the outbound queue rows. SMTPInterop shares one node; SMTPDrain starts its own to stop them
with SIGTERM.

Environment (scripts/interop.sh sets it up; `make test` runs that):
  PETREL_BIN            the petrel binary
  PETREL_DATABASE_URL   an empty database of its own (interop.sh creates petrel_interop on the
                        server of PETREL_TEST_DATABASE_URL)
Tools: psql, openssl, swaks, /usr/sbin/smtp-source (scripts/install-deps.sh test installs them).
A missing tool fails its tests; nothing is skipped. Standard library only.
Everything listens on and connects to 127.0.0.1. PETREL_INTEROP_KEEP=1 keeps the temporary
directory (configuration, certificate, server logs).
"""

import atexit
import base64
import email.utils
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import uuid
from datetime import datetime, timedelta, timezone

HOST = "127.0.0.1"
HOSTNAME = "mx.test"
DOMAIN = "example.test"
MAX_SIZE = 10485760
PASSWORDS = {
    "demo@example.test": "demo-secret",
    "other@example.test": "other-secret",
    "jöran@example.test": "jöran-sécret",
    "small@example.test": "small-secret",
}
TIMEOUT = 20  # seconds, for any one client operation

BIN = os.environ.get("PETREL_BIN", "")
DB_URL = os.environ.get("PETREL_DATABASE_URL", "")
WORKDIR = ""  # set by setUpModule
CLI_CONFIG = ""


def petrel_env(config):
    """The environment for petrel: no stray PETREL_* overrides, this suite's database and config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PETREL_")}
    env["PETREL_DATABASE_URL"] = DB_URL
    env["PETREL_CONFIG"] = config
    return env


def petrel(*args, stdin=None):
    r = subprocess.run([BIN, *args], input=stdin, capture_output=True, env=petrel_env(CLI_CONFIG),
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError("petrel %s failed (%d):\n%s%s" % (
            " ".join(args), r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")))
    return r.stdout.decode()


def psql(query, **params):
    """Runs SQL (read from stdin, so :'name' interpolates the -v params); rows of tab-split text."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-d", DB_URL]
    for name, value in params.items():
        cmd += ["-v", "%s=%s" % (name, value)]
    env = dict(os.environ, PGCLIENTENCODING="UTF8")
    r = subprocess.run(cmd, input=query.encode(), capture_output=True, env=env, timeout=60)
    if r.returncode != 0:
        raise AssertionError("psql failed: %s\n%s" % (r.stderr.decode(errors="replace"), query))
    return [line.split("\t") for line in r.stdout.decode().splitlines()]


def write_config(path, listeners=False):
    lines = [
        "hostname: %s" % HOSTNAME,
        "tls:",
        "  certificate: %s" % os.path.join(WORKDIR, "cert.pem"),
        "  key: %s" % os.path.join(WORKDIR, "key.pem"),
        "smtp:",
        '  trusted_networks: ""',
        "  max_message_size: %d" % MAX_SIZE,
        "  max_recipients: 1000",
        "passwords:",
        "  argon2: {memory_kib: 64, iterations: 1}",
        "log:",
        "  level: info",
    ]
    if listeners:
        # Port 0: the kernel picks a free port at bind time and `petrel serve` prints it. (Ports
        # found free beforehand can be taken by someone else before petrel binds them.)
        lines += [
            "listeners:",
            "  smtp: {address: %s, port: 0, tls: starttls}" % HOST,
            "  submission: {address: %s, port: 0, tls: starttls}" % HOST,
            "  submissions: {address: %s, port: 0, tls: implicit}" % HOST,
        ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _kill_nodes():
    for node in Node.started:
        node.kill()


atexit.register(_kill_nodes)  # even when the run is interrupted, no petrel serve is left behind


class Node:
    """One `petrel serve` process; ports maps listener name to the port it bound."""

    started = []

    LISTENER_LINE = re.compile(r"^\s+(smtp|submission|submissions)\s+127\.0\.0\.1:(\d+)\s", re.M)

    def __init__(self, name):
        self.name = name
        self.proc = None
        self.ports = {}
        self.log_path = os.path.join(WORKDIR, name + ".log")
        self.config = os.path.join(WORKDIR, name + ".yaml")
        write_config(self.config, listeners=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def start(self, timeout=30):
        """Starts it and waits until it has printed its bound listeners."""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([BIN, "serve", "--config", self.config], env=petrel_env(self.config),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        Node.started.append(self)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            ports = {name: int(port) for name, port in self.LISTENER_LINE.findall(text)}
            if len(ports) == 3 and "Ctrl-C stops" in text:
                self.ports = ports
                return
            if self.proc.poll() is not None:
                raise RuntimeError("petrel serve exited with %d before listening:\n%s" % (self.proc.returncode, text))
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("petrel serve did not print its listeners within %d s:\n%s" % (timeout, text))
            time.sleep(0.02)

    def stop(self, timeout=30):
        """SIGTERM, then the exit status; raises if it does not exit within timeout."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout=30):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("petrel serve did not exit within %d s of SIGTERM:\n%s" % (timeout, self.log()))

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def setUpModule():
    global WORKDIR
    missing = [name for name, value in (("PETREL_BIN", BIN), ("PETREL_DATABASE_URL", DB_URL)) if not value]
    if missing:
        raise RuntimeError("%s not set: run the suite through scripts/interop.sh" % ", ".join(missing))
    if not os.access(BIN, os.X_OK):
        raise RuntimeError("PETREL_BIN=%s is not an executable" % BIN)
    for tool in ("psql", "openssl"):
        if shutil.which(tool) is None:
            raise RuntimeError("%s is not installed (scripts/install-deps.sh test)" % tool)
    WORKDIR = tempfile.mkdtemp(prefix="petrel-interop-")
    try:
        provision()
    except BaseException:
        tearDownModule()  # unittest does not call it when setUpModule fails
        raise


def provision():
    """Certificate, CLI configuration, schema, domain, accounts, quota, alias, access rule."""
    global CLI_CONFIG
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
                    "-subj", "/CN=" + HOSTNAME, "-keyout", os.path.join(WORKDIR, "key.pem"),
                    "-out", os.path.join(WORKDIR, "cert.pem")], check=True, capture_output=True, timeout=60)
    CLI_CONFIG = os.path.join(WORKDIR, "cli.yaml")
    write_config(CLI_CONFIG)
    petrel("migrate")
    petrel("domain", "add", DOMAIN)
    for address, password in PASSWORDS.items():
        petrel("user", "add", address, "--password-stdin", stdin=(password + "\n").encode())
    petrel("quota", "set", "small@example.test", "--storage", "1K")
    petrel("alias", "add", "team@example.test", "demo", "other")
    petrel("access", "add", "sender", "spammer@remote.test", "REJECT", "No spam from you")


def tearDownModule():
    if WORKDIR and os.environ.get("PETREL_INTEROP_KEEP") != "1":
        shutil.rmtree(WORKDIR, ignore_errors=True)
    elif WORKDIR:
        print("\ninterop: kept %s" % WORKDIR)


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def marker():
    return "interop-" + uuid.uuid4().hex


def make_message(subject, sender="sender@remote.test", to="demo@example.test",
                 body="Hello from the Petrel interop suite.\r\n"):
    """A message with CRLF line ends; body is text (sent as UTF-8) or bytes (sent as they are)."""
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@client.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            % (sender, to, subject, email.utils.formatdate(usegmt=True), uuid.uuid4().hex))
    return head.encode() + (body if isinstance(body, bytes) else body.encode())


def header_fields(data):
    """(name, unfolded value) for each field of the header section, which must use CRLF."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    fields = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
        else:
            name, colon, value = line.partition(":")
            if not colon:
                raise AssertionError("not a header line: %r" % line)
            fields.append((name, value.strip()))
    return fields


def copies(mark):
    """Every stored copy whose body contains mark: dicts with address, mailbox, uid, body_id, size, data."""
    rows = psql("""
        SELECT a.address, mb.name, m.uid, m.body_id, m.size, encode(m.header_prefix || b.raw, 'hex')
          FROM messages m
          JOIN message_bodies b ON b.id = m.body_id
          JOIN accounts a ON a.id = m.account_id
          JOIN mailboxes mb ON mb.account_id = m.account_id AND mb.id = m.mailbox_id
         WHERE position(convert_to(:'mark', 'UTF8') IN b.raw) > 0
         ORDER BY a.address, m.uid;
    """, mark=mark)
    return [dict(address=r[0], mailbox=r[1], uid=int(r[2]), body_id=int(r[3]), size=int(r[4]),
                 data=bytes.fromhex(r[5])) for r in rows]


def inbox_count(address):
    return int(psql("""
        SELECT count(*) FROM messages m
          JOIN accounts a ON a.id = m.account_id
          JOIN mailboxes mb ON mb.account_id = m.account_id AND mb.id = m.mailbox_id
         WHERE a.address = :'addr' AND mb.name = 'INBOX';
    """, addr=address)[0][0])


def queued(queue_id):
    """(sender, account address or '', smtputf8, body_8bit, [(recipient, status)]) of an outbound message."""
    msg = psql("""
        SELECT o.sender, coalesce(a.address, ''), o.smtputf8, o.body_8bit
          FROM outbound_messages o LEFT JOIN accounts a ON a.id = o.account_id WHERE o.id = :'qid';
    """, qid=queue_id)
    rcpts = psql("SELECT recipient, status FROM outbound_recipients WHERE message_id = :'qid' ORDER BY recipient;",
                 qid=queue_id)
    if not msg:
        return None
    return msg[0][0], msg[0][1], msg[0][2] == "t", msg[0][3] == "t", [tuple(r) for r in rcpts]


class SMTPInterop(unittest.TestCase):
    node = None

    @classmethod
    def setUpClass(cls):
        cls.node = Node("serve")
        cls.node.start()

    @classmethod
    def tearDownClass(cls):
        node, cls.node = cls.node, None
        if node is None:
            return
        status = node.stop(timeout=30)
        if status != 0:
            raise AssertionError("petrel serve exited with %s after SIGTERM:\n%s" % (status, node.log()))

    # --- helpers -------------------------------------------------------------------------------

    def port(self, name):
        return self.node.ports[name]

    def connect(self, listener="smtp", helo="client.test", ssl_wrap=False):
        if ssl_wrap:
            s = smtplib.SMTP_SSL(HOST, self.port(listener), local_hostname=helo, timeout=TIMEOUT,
                                 context=tls_context())
        else:
            s = smtplib.SMTP(HOST, self.port(listener), local_hostname=helo, timeout=TIMEOUT)
        self.addCleanup(self.hang_up, s)
        return s

    @staticmethod
    def hang_up(s):
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()

    def transact(self, s, sender, rcpts, data, mail_options=()):
        """MAIL, RCPT, DATA with smtplib; every reply must be positive. Returns the queue id."""
        code, resp = s.mail(sender, list(mail_options))
        self.assertEqual(code, 250, resp)
        for rcpt in rcpts:
            code, resp = s.rcpt(rcpt)
            self.assertEqual(code, 250, (rcpt, resp))
        code, resp = s.data(data)
        self.assertEqual(code, 250, resp)
        m = re.search(rb"queued as ([A-Za-z0-9]+)", resp)
        self.assertIsNotNone(m, resp)
        return m.group(1).decode()

    def assert_copy(self, copy, sender, address, protocol, queue_id=None, helo="client.test",
                    tls=None, for_rcpt=None, original=None):
        """One stored copy: in INBOX, Return-Path, Delivered-To and Received on top, then the
        client's bytes unchanged; messages.size counts them all."""
        data = copy["data"]
        self.assertEqual(copy["address"], address)
        self.assertEqual(copy["mailbox"], "INBOX")
        self.assertEqual(copy["size"], len(data))
        fields = header_fields(data)
        self.assertEqual(fields[0], ("Return-Path", "<%s>" % sender), data[:400])
        self.assertEqual(fields[1], ("Delivered-To", address), data[:400])
        self.assertEqual(fields[2][0], "Received", data[:400])
        received = fields[2][1]
        self.assertRegex(received, r"^from %s \(.*\[127\.0\.0\.1\]\) by %s \(Petrel\) "
                         % (re.escape(helo), re.escape(HOSTNAME)))
        self.assertRegex(received, r"\bwith %s[\s;]" % protocol)
        if queue_id is not None:
            self.assertRegex(received, r"\bid %s[\s;]" % re.escape(queue_id))
        if tls is not None:
            self.assertIn("(using %s)" % tls, received)
        else:
            self.assertNotIn("using TLS", received)
        if for_rcpt is not None:
            self.assertRegex(received, r"\bfor <%s>;" % re.escape(for_rcpt))
        stamp = email.utils.parsedate_to_datetime(received.rsplit(";", 1)[1].strip())
        self.assertLess(abs(datetime.now(timezone.utc) - stamp), timedelta(minutes=5), received)
        if original is not None:
            self.assertTrue(data.endswith(original), "stored copy does not end with the sent bytes:\n%r" % data)
            trace = header_fields(data[:len(data) - len(original)] + b"\r\n")
            self.assertEqual([name for name, _ in trace], ["Return-Path", "Delivered-To", "Received"], trace)

    def one_copy(self, mark, address):
        found = copies(mark)
        self.assertEqual([c["address"] for c in found], [address], "copies of %s" % mark)
        return found[0]

    def swaks(self, *args):
        path = shutil.which("swaks")
        if path is None:
            self.fail("swaks is not installed (scripts/install-deps.sh test)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWAKS_")}
        env["HOME"] = WORKDIR  # no ~/.swaksrc
        r = subprocess.run([path, "--timeout", str(TIMEOUT), *args], capture_output=True, env=env, timeout=60)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def smtp_source(self, *args):
        path = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
        if not os.access(path, os.X_OK):
            self.fail("smtp-source is not installed (Debian package postfix; scripts/install-deps.sh test)")
        r = subprocess.run([path, *args], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode(errors="replace"))

    # --- MX listener, plain ----------------------------------------------------------------------

    def test_mx_greeting_and_ehlo(self):
        s = smtplib.SMTP(timeout=TIMEOUT)
        self.addCleanup(self.hang_up, s)
        code, banner = s.connect(HOST, self.port("smtp"))
        self.assertEqual(code, 220)
        self.assertRegex(banner.decode(), r"^%s ESMTP\b" % re.escape(HOSTNAME))
        code, _ = s.ehlo("client.test")
        self.assertEqual(code, 250)
        for ext in ("pipelining", "8bitmime", "enhancedstatuscodes", "starttls", "smtputf8", "chunking"):
            self.assertTrue(s.has_extn(ext), "EHLO lacks %s: %s" % (ext, s.esmtp_features))
        self.assertEqual(s.esmtp_features.get("size"), str(MAX_SIZE))
        self.assertFalse(s.has_extn("auth"), "AUTH offered on the MX listener: %s" % s.esmtp_features)

    def test_mx_delivery_to_local_user(self):
        mark = marker()
        msg = make_message("plain delivery " + mark)
        s = self.connect()
        s.ehlo()
        qid = self.transact(s, "sender@remote.test", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTP", queue_id=qid,
                         for_rcpt="demo@example.test", original=msg)

    def test_mx_sendmail_helo_only(self):
        mark = marker()
        msg = make_message("helo " + mark)
        s = self.connect(helo="old.client.test")
        s.helo()
        self.assertEqual(s.sendmail("sender@remote.test", ["other@example.test"], msg), {})
        copy = self.one_copy(mark, "other@example.test")
        self.assert_copy(copy, "sender@remote.test", "other@example.test", "SMTP", helo="old.client.test",
                         original=msg)

    def test_mx_unknown_user_550(self):
        mark = marker()
        s = self.connect()
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            s.sendmail("sender@remote.test", ["nobody@example.test"], make_message(mark, to="nobody@example.test"))
        code, text = cm.exception.recipients["nobody@example.test"]
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.1.1 "), text)
        self.assertEqual(copies(mark), [])

    def test_mx_relay_denied_554(self):
        mark = marker()
        s = self.connect()
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            s.sendmail("sender@remote.test", ["someone@elsewhere.test"], make_message(mark, to="someone@elsewhere.test"))
        code, text = cm.exception.recipients["someone@elsewhere.test"]
        self.assertEqual(code, 554)
        self.assertTrue(text.startswith(b"5.7.1 "), text)
        self.assertIn(b"Relay access denied", text)
        self.assertEqual(psql("SELECT count(*) FROM outbound_recipients WHERE recipient = 'someone@elsewhere.test';"),
                         [["0"]])

    def test_mx_some_recipients_refused(self):
        mark = marker()
        msg = make_message("partial " + mark)
        s = self.connect()
        refused = s.sendmail("sender@remote.test", ["nobody@example.test", "demo@example.test"], msg)
        self.assertEqual(list(refused), ["nobody@example.test"])
        self.assertEqual(refused["nobody@example.test"][0], 550)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTP", original=msg)

    def test_mx_alias_and_subaddress(self):
        mark = marker()
        msg = make_message("alias " + mark, to="team@example.test")
        s = self.connect()
        s.ehlo()
        qid = self.transact(s, "sender@remote.test", ["Team@Example.TEST", "demo+lists@example.test"], msg)
        found = copies(mark)
        # team -> demo, other; demo+lists -> demo: one copy each, sharing one body row.
        self.assertEqual([c["address"] for c in found], ["demo@example.test", "other@example.test"])
        self.assertEqual(found[0]["body_id"], found[1]["body_id"])
        for c in found:
            self.assert_copy(c, "sender@remote.test", c["address"], "ESMTP", queue_id=qid, original=msg)

    def test_mx_dot_stuffing_and_8bit_body(self):
        mark = marker()
        body = b".\r\n..two dots\r\n.one dot\r\n. space\r\n8-bit, not UTF-8: caf\xe9 \xff\r\n"
        msg = make_message("dots " + mark, body=body)
        s = self.connect()
        s.ehlo()
        qid = self.transact(s, "sender@remote.test", ["demo@example.test"], msg, mail_options=["BODY=8BITMIME"])
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTP", queue_id=qid, original=msg)

    def test_mx_no_smtp_smuggling(self):
        # Only CRLF.CRLF ends DATA: an "end of data" with a bare LF or CR (the SMTP smuggling
        # variants, CVE-2023-51764 and kin) must not end the message and let the rest be read
        # as commands of a second transaction.
        for eod in (b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"):
            with self.subTest(eod=eod):
                outer, inner = marker(), marker()
                s = self.connect()
                s.ehlo()
                self.assertEqual(s.mail("sender@remote.test")[0], 250)
                self.assertEqual(s.rcpt("demo@example.test")[0], 250)
                self.assertEqual(s.docmd("DATA")[0], 354)
                s.send(b"Subject: " + outer.encode() + b"\r\n\r\nbody" + eod +
                       b"MAIL FROM:<spoof@example.test>\r\nRCPT TO:<other@example.test>\r\nDATA\r\n"
                       b"Subject: " + inner.encode() + b"\r\n\r\nsmuggled\r\n.\r\n")
                code, resp = s.getreply()
                self.assertEqual(code, 250, resp)
                self.assertEqual(s.docmd("HELP")[0], 214, "replies out of step: smuggled commands were run")
                self.assertEqual([c["address"] for c in copies(inner)], ["demo@example.test"])
                self.assertEqual([c["address"] for c in copies(outer)], ["demo@example.test"])

    def test_mx_null_sender(self):
        mark = marker()
        msg = make_message("bounce " + mark, sender="MAILER-DAEMON@remote.test")
        s = self.connect()
        s.ehlo()
        qid = self.transact(s, "<>", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "", "demo@example.test", "ESMTP", queue_id=qid, original=msg)

    def test_mx_bdat_chunking(self):
        mark = marker()
        msg = make_message("chunks " + mark, body="first line\r\n.\r\nnot the end, no dot-stuffing in BDAT\r\n")
        s = self.connect()
        s.ehlo()
        self.assertTrue(s.has_extn("chunking"))
        self.assertEqual(s.mail("sender@remote.test")[0], 250)
        self.assertEqual(s.rcpt("demo@example.test")[0], 250)
        cut = len(msg) // 2
        s.send(b"BDAT %d\r\n" % cut + msg[:cut])
        code, resp = s.getreply()
        self.assertEqual(code, 250, resp)
        s.send(b"BDAT %d LAST\r\n" % (len(msg) - cut) + msg[cut:])
        code, resp = s.getreply()
        self.assertEqual(code, 250, resp)
        qid = re.search(rb"queued as ([A-Za-z0-9]+)", resp).group(1).decode()
        self.assertEqual(s.noop()[0], 250)  # the session is still in step
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTP", queue_id=qid, original=msg)

    def test_mx_declared_size_over_limit_552(self):
        s = self.connect()
        s.ehlo()
        code, resp = s.mail("sender@remote.test", ["SIZE=%d" % (MAX_SIZE + 1)])
        self.assertEqual(code, 552, resp)
        self.assertTrue(resp.startswith(b"5.3.4 "), resp)
        self.assertEqual(s.rset()[0], 250)

    def test_mx_auth_refused(self):
        s = self.connect()
        s.ehlo()
        token = base64.b64encode(b"\0demo@example.test\0" + PASSWORDS["demo@example.test"].encode()).decode()
        code, resp = s.docmd("AUTH", "PLAIN " + token)
        self.assertEqual(code, 503, resp)
        code, resp = s.mail("demo@example.test")
        self.assertEqual(code, 250, resp)  # still an MX session: MAIL works, relaying does not
        code, resp = s.rcpt("someone@elsewhere.test")
        self.assertEqual(code, 554, resp)

    def test_mx_access_rule_rejects_sender(self):
        mark = marker()
        s = self.connect()
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("spammer@remote.test", ["demo@example.test"], make_message(mark, sender="spammer@remote.test"))
        self.assertEqual(cm.exception.smtp_code, 554)
        self.assertIn(b"No spam from you", cm.exception.smtp_error)
        self.assertEqual(copies(mark), [])

    def test_mx_quota_exceeded(self):
        mark = marker()
        # about 2.5 KB against a 1 KiB quota
        msg = make_message("too big for the quota " + mark, to="small@example.test", body=("y" * 76 + "\r\n") * 30)
        s = self.connect()
        s.ehlo()
        s.mail("sender@remote.test")
        self.assertEqual(s.rcpt("small@example.test")[0], 250)
        code, resp = s.data(msg)
        self.assertIn(code, (452, 552), resp)
        self.assertRegex(resp.decode(), r"^[45]\.2\.2 ")
        self.assertEqual(copies(mark), [])

    # --- STARTTLS on the MX listener -------------------------------------------------------------

    def test_starttls_delivery(self):
        mark = marker()
        msg = make_message("starttls " + mark)
        s = self.connect()
        s.ehlo()
        code, resp = s.starttls(context=tls_context())
        self.assertEqual(code, 220, resp)
        version = s.sock.version()
        self.assertTrue(version.startswith("TLSv1."), version)
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"), "STARTTLS offered again inside TLS")
        qid = self.transact(s, "sender@remote.test", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTPS", queue_id=qid, tls=version,
                         original=msg)

    # --- submission: AUTH ------------------------------------------------------------------------

    def login(self, s, user, mechanism):
        s.user, s.password = user, PASSWORDS.get(user, "wrong")
        return s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))

    def test_submission_requires_auth_530(self):
        s = self.connect("submission")
        s.ehlo()
        self.assertIn("PLAIN", s.esmtp_features.get("auth", "").split())
        self.assertIn("LOGIN", s.esmtp_features.get("auth", "").split())
        code, resp = s.mail("demo@example.test")
        self.assertEqual(code, 530, resp)
        self.assertTrue(resp.startswith(b"5.7.0 "), resp)

    def test_auth_wrong_password_535(self):
        for mechanism in ("PLAIN", "LOGIN"):
            with self.subTest(mechanism=mechanism):
                s = self.connect("submission")
                s.ehlo()
                s.user, s.password = "demo@example.test", "not-the-password"
                with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                    s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))
                self.assertEqual(cm.exception.smtp_code, 535)
                self.assertTrue(cm.exception.smtp_error.startswith(b"5.7.8 "), cm.exception.smtp_error)
                code, resp = s.mail("demo@example.test")
                self.assertEqual(code, 530, resp)  # still not authenticated

    def test_auth_plain_relays_to_remote(self):
        mark = marker()
        msg = make_message("submitted " + mark, sender="demo@example.test", to="friend@elsewhere.test")
        s = self.connect("submission")
        s.ehlo()
        code, resp = self.login(s, "demo@example.test", "PLAIN")
        self.assertEqual(code, 235, resp)
        qid = self.transact(s, "demo@example.test", ["friend@elsewhere.test", "other@example.test"], msg)
        self.assertEqual(queued(qid), ("demo@example.test", "demo@example.test", False, False,
                                       [("friend@elsewhere.test", "queued")]))
        copy = self.one_copy(mark, "other@example.test")
        self.assert_copy(copy, "demo@example.test", "other@example.test", "ESMTPA", queue_id=qid, original=msg)

    def test_auth_login_delivery(self):
        mark = marker()
        msg = make_message("login " + mark, sender="other@example.test")
        s = self.connect("submission")
        s.ehlo()
        code, resp = self.login(s, "other@example.test", "LOGIN")
        self.assertEqual(code, 235, resp)
        qid = self.transact(s, "other@example.test", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "other@example.test", "demo@example.test", "ESMTPA", queue_id=qid,
                         for_rcpt="demo@example.test", original=msg)
        self.assertIsNone(queued(qid))

    def test_auth_sender_not_owned_553(self):
        mark = marker()
        s = self.connect("submission")
        s.ehlo()
        self.assertEqual(self.login(s, "demo@example.test", "PLAIN")[0], 235)
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("other@example.test", ["friend@elsewhere.test"], make_message(mark, sender="other@example.test"))
        self.assertEqual(cm.exception.smtp_code, 553)
        self.assertTrue(cm.exception.smtp_error.startswith(b"5.7.1 "), cm.exception.smtp_error)
        self.assertEqual(psql("SELECT count(*) FROM outbound_recipients WHERE recipient = 'friend@elsewhere.test' "
                              "AND message_id IN (SELECT id FROM outbound_messages WHERE sender = 'other@example.test');"),
                         [["0"]])

    def test_submission_starttls_then_auth(self):
        mark = marker()
        msg = make_message("tls+auth " + mark, sender="demo@example.test", to="friend@elsewhere.test")
        s = self.connect("submission")
        s.starttls(context=tls_context())
        version = s.sock.version()
        s.ehlo()
        self.assertIn("PLAIN", s.esmtp_features.get("auth", "").split())
        s.login("demo@example.test", PASSWORDS["demo@example.test"])
        qid = self.transact(s, "demo@example.test", ["friend@elsewhere.test", "demo@example.test"], msg)
        self.assertEqual(queued(qid)[4], [("friend@elsewhere.test", "queued")])
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "demo@example.test", "demo@example.test", "ESMTPSA", queue_id=qid, tls=version,
                         original=msg)

    # --- submissions: implicit TLS ---------------------------------------------------------------

    def test_smtps_delivery(self):
        mark = marker()
        msg = make_message("smtps " + mark, sender="other@example.test")
        s = self.connect("submissions", ssl_wrap=True)
        version = s.sock.version()
        self.assertTrue(version.startswith("TLSv1."), version)
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"), "STARTTLS offered on implicit TLS")
        self.assertEqual(s.login("other@example.test", PASSWORDS["other@example.test"])[0], 235)
        qid = self.transact(s, "other@example.test", ["demo@example.test"], msg)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "other@example.test", "demo@example.test", "ESMTPSA", queue_id=qid, tls=version,
                         original=msg)

    # --- SMTPUTF8 --------------------------------------------------------------------------------

    def test_smtputf8_local_part(self):
        mark = marker()
        msg = make_message("Grüße aus Köln ☃ " + mark, sender="jörg@remote.test", to="jöran@example.test",
                           body="Hällo wörld, 你好 ☃\r\n")
        s = self.connect()
        s.ehlo()
        self.assertTrue(s.has_extn("smtputf8"))
        refused = s.sendmail("jörg@remote.test", ["jöran@example.test"], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        self.assertEqual(refused, {})
        copy = self.one_copy(mark, "jöran@example.test")
        self.assert_copy(copy, "jörg@remote.test", "jöran@example.test", "UTF8SMTP",
                         for_rcpt="jöran@example.test", original=msg)

    def test_non_ascii_address_needs_smtputf8_553(self):
        s = self.connect()
        s.ehlo()
        s.command_encoding = "utf-8"  # send the address raw, without declaring SMTPUTF8
        code, resp = s.mail("jörg@remote.test")
        self.assertEqual(code, 553, resp)
        self.assertTrue(resp.startswith(b"5.6.7 "), resp)

    def test_smtputf8_submission_utf8_login_queues_flags(self):
        mark = marker()
        msg = make_message("Ünïcödé " + mark, sender="jöran@example.test", to="ünï@elsewhere.test",
                           body="8-bit body: ½ ☃\r\n")
        s = self.connect("submission")
        s.ehlo()
        # RFC 4616: the PLAIN authcid is UTF-8 (smtplib's own auth() only does ASCII).
        token = base64.b64encode("\0jöran@example.test\0{}".format(PASSWORDS["jöran@example.test"]).encode())
        code, resp = s.docmd("AUTH", "PLAIN " + token.decode())
        self.assertEqual(code, 235, resp)
        qid = self.transact(s, "jöran@example.test", ["ünï@elsewhere.test", "jöran@example.test"], msg,
                            mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        self.assertEqual(queued(qid), ("jöran@example.test", "jöran@example.test", True, True,
                                       [("ünï@elsewhere.test", "queued")]))
        copy = self.one_copy(mark, "jöran@example.test")
        self.assert_copy(copy, "jöran@example.test", "jöran@example.test", "UTF8SMTPA", queue_id=qid, original=msg)

    # --- swaks -----------------------------------------------------------------------------------

    def swaks_send(self, listener, mark, *options, sender="sender@remote.test", to="demo@example.test"):
        code, out = self.swaks("--server", "%s:%d" % (HOST, self.port(listener)), "--helo", "swaks.test",
                               "--from", sender, "--to", to, "--header", "Subject: swaks " + mark,
                               "--body", "Sent by swaks.\n" + mark, *options)
        self.assertEqual(code, 0, out)
        qid = re.findall(r"queued as ([A-Za-z0-9]+)", out)
        self.assertEqual(len(qid), 1, out)
        return qid[0], out

    def test_swaks_mx_starttls_pipelining(self):
        mark = marker()
        qid, out = self.swaks_send("smtp", mark, "--tls", "--pipeline")
        self.assertIn("TLS started", out)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "sender@remote.test", "demo@example.test", "ESMTPS", queue_id=qid, helo="swaks.test",
                         tls=re.search(r"TLS started with cipher (TLSv1\.\d)", out).group(1))
        self.assertIn(b"\r\n\r\nSent by swaks.\r\n" + mark.encode(), copy["data"])

    def test_swaks_submission_starttls_auth_plain_pipelining(self):
        mark = marker()
        qid, out = self.swaks_send("submission", mark, "--tls", "--pipeline", "--auth", "PLAIN",
                                   "--auth-user", "demo@example.test",
                                   "--auth-password", PASSWORDS["demo@example.test"],
                                   sender="demo@example.test")
        self.assertIn("AUTH PLAIN", out)
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "demo@example.test", "demo@example.test", "ESMTPSA", queue_id=qid, helo="swaks.test",
                         tls=re.search(r"TLS started with cipher (TLSv1\.\d)", out).group(1))

    def test_swaks_submission_auth_login_remote(self):
        mark = marker()
        qid, out = self.swaks_send("submission", mark, "--auth", "LOGIN", "--auth-user", "other@example.test",
                                   "--auth-password", PASSWORDS["other@example.test"],
                                   sender="other@example.test", to="pal@elsewhere.test")
        self.assertIn("AUTH LOGIN", out)
        self.assertEqual(queued(qid), ("other@example.test", "other@example.test", False, False,
                                       [("pal@elsewhere.test", "queued")]))

    def test_swaks_smtps_auth_login(self):
        mark = marker()
        qid, out = self.swaks_send("submissions", mark, "--tlsc", "--auth", "LOGIN",
                                   "--auth-user", "other@example.test",
                                   "--auth-password", PASSWORDS["other@example.test"],
                                   sender="other@example.test")
        copy = self.one_copy(mark, "demo@example.test")
        self.assert_copy(copy, "other@example.test", "demo@example.test", "ESMTPSA", queue_id=qid, helo="swaks.test",
                         tls=re.search(r"TLS started with cipher (TLSv1\.\d)", out).group(1))

    def test_swaks_wrong_password(self):
        mark = marker()
        code, out = self.swaks("--server", "%s:%d" % (HOST, self.port("submission")), "--tls",
                               "--auth", "PLAIN", "--auth-user", "demo@example.test", "--auth-password", "nope",
                               "--from", "demo@example.test", "--to", "demo@example.test",
                               "--header", "Subject: " + mark)
        self.assertEqual(code, 28, out)  # swaks: error in AUTH transaction
        self.assertRegex(out, r"<~\*? +535 ")
        self.assertEqual(copies(mark), [])

    # --- Postfix smtp-source ---------------------------------------------------------------------

    def assert_inbox_consistent(self, address):
        rows = psql("""
            SELECT mb.message_count, mb.total_size, mb.uidnext, a.used_messages, a.used_bytes,
                   count(m.uid), coalesce(sum(m.size), 0), coalesce(max(m.uid), 0), count(DISTINCT m.uid)
              FROM accounts a
              JOIN mailboxes mb ON mb.account_id = a.id AND mb.name = 'INBOX'
              LEFT JOIN messages m ON m.account_id = mb.account_id AND m.mailbox_id = mb.id
             WHERE a.address = :'addr'
             GROUP BY mb.message_count, mb.total_size, mb.uidnext, a.used_messages, a.used_bytes;
        """, addr=address)
        (count, total, uidnext, used_messages, used_bytes, real_count, real_total, max_uid, distinct_uids) = map(int, rows[0])
        self.assertEqual((count, total), (real_count, real_total), "INBOX counters of " + address)
        self.assertEqual(distinct_uids, real_count)
        self.assertGreater(uidnext, max_uid)
        self.assertEqual((used_messages, used_bytes), (real_count, real_total), "account usage of " + address)

    def test_smtp_source_parallel_sessions(self):
        mark = marker()
        before = inbox_count("demo@example.test")
        self.smtp_source("-s", "5", "-m", "50", "-l", "4096", "-M", mark + ".test", "-f", "sender@remote.test",
                         "-t", "demo@example.test", "%s:%d" % (HOST, self.port("smtp")))
        self.assertEqual(inbox_count("demo@example.test") - before, 50)
        found = copies("from %s.test (" % mark)
        self.assertEqual(len(found), 50)
        for c in found:
            self.assert_copy(c, "sender@remote.test", "demo@example.test", "SMTP", helo=mark + ".test",
                             for_rcpt="demo@example.test")
            self.assertGreater(c["size"], 4096)
        self.assertEqual(len({c["body_id"] for c in found}), 50)
        self.assert_inbox_consistent("demo@example.test")

    def test_smtp_source_one_connection(self):
        mark = marker()
        before = inbox_count("other@example.test")
        self.smtp_source("-d", "-s", "2", "-m", "20", "-l", "1000", "-S", mark, "-M", "source.test",
                         "-f", "sender@remote.test", "-t", "other@example.test", "%s:%d" % (HOST, self.port("smtp")))
        self.assertEqual(inbox_count("other@example.test") - before, 20)
        found = copies("Subject: " + mark)
        self.assertEqual(len(found), 20)
        for c in found:
            self.assert_copy(c, "sender@remote.test", "other@example.test", "SMTP", helo="source.test")
        self.assert_inbox_consistent("other@example.test")


class SMTPDrain(unittest.TestCase):
    """SIGTERM drains (`petrel serve --help`): no new connections, open mail transactions
    finish, every other session gets 421, and the process exits 0."""

    def start_node(self, name):
        node = Node(name)
        node.start()
        self.addCleanup(node.kill)
        return node

    def session(self, node, helo, timeout=5):
        s = smtplib.SMTP(HOST, node.ports["smtp"], local_hostname=helo, timeout=timeout)
        self.addCleanup(s.close)
        self.assertEqual(s.ehlo()[0], 250)
        return s

    def open_data(self, s, msg):
        """MAIL, RCPT, DATA and the first bytes of msg: a transaction under way."""
        self.assertEqual(s.mail("sender@remote.test")[0], 250)
        self.assertEqual(s.rcpt("demo@example.test")[0], 250)
        self.assertEqual(s.docmd("DATA")[0], 354)
        s.send(msg[:20])

    def finish_data(self, s, msg):
        s.send(msg[20:] + b".\r\n")  # no line of msg starts with "."
        code, resp = s.getreply()
        self.assertEqual(code, 250, resp)
        return re.search(rb"queued as ([A-Za-z0-9]+)", resp).group(1).decode()

    def assert_told_421_and_closed(self, s, what):
        try:
            code, resp = s.getreply()  # unsolicited: this client sends nothing
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self.fail("%s: no 421 (%r)" % (what, e))
        self.assertEqual((code, resp[:6]), (421, b"4.3.2 "), what)
        with self.assertRaises(smtplib.SMTPServerDisconnected, msg=what):
            s.getreply()

    def test_sigterm_drains(self):
        node = self.start_node("drain")
        idle = self.session(node, "idle.test")
        busy = self.session(node, "busy.test")
        mark = marker()
        msg = make_message("drain " + mark)
        self.open_data(busy, msg)

        node.proc.send_signal(signal.SIGTERM)
        # The idle session is told at once; the busy one finishes its message, then is told.
        self.assert_told_421_and_closed(idle, "idle session")
        qid = self.finish_data(busy, msg)
        self.assert_told_421_and_closed(busy, "session after its transaction")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((HOST, node.ports["smtp"]), timeout=5).close()
        self.assertEqual(node.wait(30), 0, node.log())
        found = copies(mark)
        self.assertEqual(len(found), 1)
        self.assert_stored_id(found[0], qid)

    def assert_stored_id(self, copy, qid):
        self.assertRegex(header_fields(copy["data"])[2][1], r"\bid %s\b" % re.escape(qid))

    def test_sigterm_while_clients_connect(self):
        # Clients connecting while the listeners close must not bring the node down: the open
        # transaction still finishes and the exit status is 0. Several rounds: the window is narrow.
        for n in range(8):
            with self.subTest(round=n):
                node = self.start_node("connect-during-drain-%d" % n)
                busy = self.session(node, "busy.test")
                mark = marker()
                msg = make_message("drain %d %s" % (n, mark))
                self.open_data(busy, msg)
                node.proc.send_signal(signal.SIGTERM)
                for _ in range(200):  # connect (and hang up) until the listener is gone
                    try:
                        socket.create_connection((HOST, node.ports["smtp"]), timeout=5).close()
                    except (ConnectionRefusedError, ConnectionResetError):
                        break  # reset: accepted by the kernel as the listening socket closed
                    time.sleep(0.01)
                try:
                    qid = self.finish_data(busy, msg)
                except (smtplib.SMTPServerDisconnected, OSError) as e:
                    node.wait(30)
                    crash = re.search(r"^.*Fatal error.*$", node.log(), re.M)
                    self.fail("the open transaction was cut off (%r); petrel exited with %s: %s"
                              % (e, node.proc.returncode, crash.group(0) if crash else node.log()[-2000:]))
                self.assertEqual(node.wait(30), 0, node.log()[-3000:])
                found = copies(mark)
                self.assertEqual(len(found), 1)
                self.assert_stored_id(found[0], qid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
