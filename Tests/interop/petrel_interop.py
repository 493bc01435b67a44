"""Shared support for the SMTP interop suite: a running `petrel serve` driven by outside clients.

Clients: Python's smtplib (and its raw command interface for BDAT and UTF-8 SASL), swaks, and
Postfix's smtp-source. Every test checks what a user would check: the reply codes, and then the
stored copy in PostgreSQL (trace headers, Received protocol and TLS clause, byte-exact content)
or the outbound queue rows. The tests are in the test_*.py files next to this one; this module
(not named test_*, so discovery does not load it as tests) holds what they share:

  environment()  provisions once per process, whichever test module asks first (unittest
                 discover imports every module into one process): a temporary directory with a
                 certificate and a CLI configuration, the schema, the domain example.test, the
                 accounts of PASSWORDS, a quota, an alias and an access rule. Removed at exit.
  Node           one `petrel serve` with port-0 listeners; every node still running at exit is
                 killed.
  NodeTests      a mixin for a TestCase class: one node shared by the class, and the helpers to
                 send and to check stored copies.

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
import email.utils
import os
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import tempfile
import time
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


# --- the shared environment --------------------------------------------------------------------

class Environment:
    """The provisioned state of this run: its temporary directory and the CLI configuration."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.cli_config = os.path.join(workdir, "cli.yaml")


_environment = None
_provisioning_error = None


def environment():
    """The run's Environment, provisioned on the first call (each test module's setUpModule
    calls this); later calls return the same one. When provisioning failed, every later call
    fails too, with that error, rather than provisioning a half-provisioned database again."""
    global _environment, _provisioning_error
    if _environment is not None:
        return _environment
    if _provisioning_error is not None:
        raise RuntimeError("interop provisioning failed earlier in this run: %r" % (_provisioning_error,))
    missing = [name for name, value in (("PETREL_BIN", BIN), ("PETREL_DATABASE_URL", DB_URL)) if not value]
    if missing:
        raise RuntimeError("%s not set: run the suite through scripts/interop.sh" % ", ".join(missing))
    if not os.access(BIN, os.X_OK):
        raise RuntimeError("PETREL_BIN=%s is not an executable" % BIN)
    for tool in ("psql", "openssl"):
        if shutil.which(tool) is None:
            raise RuntimeError("%s is not installed (scripts/install-deps.sh test)" % tool)
    _environment = Environment(tempfile.mkdtemp(prefix="petrel-interop-"))  # petrel() needs it now
    try:
        provision(_environment)
    except BaseException as e:
        _provisioning_error = e
        _remove_workdir()
        _environment = None
        raise
    return _environment


def workdir():
    return environment().workdir


def _remove_workdir():
    if _environment is None:
        return
    if os.environ.get("PETREL_INTEROP_KEEP") != "1":
        shutil.rmtree(_environment.workdir, ignore_errors=True)
    else:
        print("\ninterop: kept %s" % _environment.workdir)


def _cleanup():
    for node in Node.started:
        node.kill()
    _remove_workdir()


atexit.register(_cleanup)  # even when the run is interrupted, no petrel serve is left behind


def provision(env):
    """Certificate, CLI configuration, schema, domain, accounts, quota, alias, access rule."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
                    "-subj", "/CN=" + HOSTNAME,
                    # A leaf, not a CA: mbsync (OpenSSL 3) will not pin a CA:TRUE self-signed certificate.
                    "-addext", "basicConstraints=critical,CA:FALSE", "-keyout", os.path.join(env.workdir, "key.pem"),
                    "-out", os.path.join(env.workdir, "cert.pem")], check=True, capture_output=True, timeout=60)
    write_config(env.cli_config)
    petrel("migrate")
    petrel("domain", "add", DOMAIN)
    for address, password in PASSWORDS.items():
        petrel("user", "add", address, "--password-stdin", stdin=(password + "\n").encode())
    petrel("quota", "set", "small@example.test", "--storage", "1K")
    petrel("alias", "add", "team@example.test", "demo", "other")
    petrel("access", "add", "sender", "spammer@remote.test", "REJECT", "No spam from you")


# --- petrel, psql ------------------------------------------------------------------------------

def petrel_env(config, database_url=None):
    """The environment for petrel: no stray PETREL_* overrides, this suite's database (or
    database_url) and config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PETREL_")}
    env["PETREL_DATABASE_URL"] = database_url or DB_URL
    env["PETREL_CONFIG"] = config
    return env


def petrel_run(*args, stdin=None):
    """Runs a petrel command with the CLI configuration; the CompletedProcess, whatever its status."""
    return subprocess.run([BIN, *args], input=stdin, capture_output=True,
                          env=petrel_env(environment().cli_config), timeout=60)


def petrel(*args, stdin=None):
    r = petrel_run(*args, stdin=stdin)
    if r.returncode != 0:
        raise RuntimeError("petrel %s failed (%d):\n%s%s" % (
            " ".join(args), r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")))
    return r.stdout.decode()


def psql(query, database_url=None, **params):
    """Runs SQL (read from stdin, so :'name' interpolates the -v params) on this suite's database
    or database_url; rows of tab-split text."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-d", database_url or DB_URL]
    for name, value in params.items():
        cmd += ["-v", "%s=%s" % (name, value)]
    env = dict(os.environ, PGCLIENTENCODING="UTF8")
    r = subprocess.run(cmd, input=query.encode(), capture_output=True, env=env, timeout=60)
    if r.returncode != 0:
        raise AssertionError("psql failed: %s\n%s" % (r.stderr.decode(errors="replace"), query))
    return [line.split("\t") for line in r.stdout.decode().splitlines()]


# Every test connects from 127.0.0.1 and many try wrong passwords on purpose: the suite's nodes
# throttle only far past what it does (test_auth.py checks throttling with its own limits).
LENIENT_THROTTLE = {"delay_ms": 0, "account_failures": 100000, "client_failures": 100000}


def write_config(path, listeners=False, delivery=None, auth=None):
    """delivery: the `delivery:` settings as a dict of YAML scalars; None turns outbound
    delivery off, so that nothing queued by a test ever leaves the machine. auth: the
    `auth:` settings as a dict (its `throttle` a dict too); None: LENIENT_THROTTLE."""
    wd = workdir()
    lines = [
        "hostname: %s" % HOSTNAME,
        "tls:",
        "  certificate: %s" % os.path.join(wd, "cert.pem"),
        "  key: %s" % os.path.join(wd, "key.pem"),
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
            "  imap: {address: %s, port: 0, tls: starttls}" % HOST,
            "  imaps: {address: %s, port: 0, tls: implicit}" % HOST,
            "  pop3: {address: %s, port: 0, tls: starttls}" % HOST,
            "  pop3s: {address: %s, port: 0, tls: implicit}" % HOST,
        ]
    auth = dict(auth or {})
    throttle = auth.pop("throttle", LENIENT_THROTTLE)
    lines += ["auth:", "  throttle:"] + ["    %s: %s" % (key, value) for key, value in throttle.items()]
    lines += ["  %s: %s" % (key, value) for key, value in auth.items()]
    if delivery is None:
        lines += ["delivery:", "  enabled: false"]
    else:
        lines += ["delivery:"] + ["  %s: %s" % (key, value) for key, value in delivery.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# --- a node ------------------------------------------------------------------------------------

class Node:
    """One `petrel serve` process; ports maps listener name to the port it bound."""

    started = []

    LISTENER_LINE = re.compile(r"^\s+(smtp|submission|submissions|imap|imaps|pop3|pop3s)\s+127\.0\.0\.1:(\d+)\s", re.M)

    def __init__(self, name, delivery=None, database_url=None, auth=None):
        self.name = name
        self.database_url = database_url
        self.proc = None
        self.ports = {}
        self.log_path = os.path.join(workdir(), name + ".log")
        self.config = os.path.join(workdir(), name + ".yaml")
        write_config(self.config, listeners=True, delivery=delivery, auth=auth)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def start(self, timeout=30):
        """Starts it and waits until it has printed its bound listeners."""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([BIN, "serve", "--config", self.config],
                                         env=petrel_env(self.config, self.database_url),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        Node.started.append(self)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            ports = {name: int(port) for name, port in self.LISTENER_LINE.findall(text)}
            if len(ports) == 7 and "Ctrl-C stops" in text:
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


# --- messages and what is stored ---------------------------------------------------------------

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


# --- a TestCase class with a node of its own ---------------------------------------------------

class NodeTests:
    """Mixin for a unittest.TestCase class: one node, started for the class (named after it) and
    stopped with SIGTERM afterwards, which must exit 0; helpers to send and to check copies."""

    node = None

    @classmethod
    def setUpClass(cls):
        environment()
        cls.node = Node(cls.__name__)
        cls.node.start()

    @classmethod
    def tearDownClass(cls):
        node, cls.node = cls.node, None
        if node is None:
            return
        status = node.stop(timeout=30)
        if status != 0:
            raise AssertionError("petrel serve exited with %s after SIGTERM:\n%s" % (status, node.log()))

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
                    tls=None, cipher=None, for_rcpt=None, original=None):
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
            # Received names the version and the cipher suite (IANA name) the server chose.
            found = re.search(r"\(using %s with cipher (TLS_[A-Z0-9_]+)\)" % re.escape(tls), received)
            self.assertIsNotNone(found, received)
            if cipher is not None:
                self.assertEqual(found.group(1), cipher, received)
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
