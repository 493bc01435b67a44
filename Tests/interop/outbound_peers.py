"""Test peers for the outbound-delivery interop tests: what Petrel's queue workers, DNS MX
resolver and SMTP client talk to. All of them listen on 127.0.0.0/8 only and never contact
anything else. Each is a class with start()/stop() that is also a context manager; whatever is
still running when the test process exits is stopped (atexit, SIGTERM, and a guard process for
harder deaths: see outbound_peer_base). Each has a temporary directory of its own (.workdir:
logs, captures), inside one directory for the run, $TMPDIR/petrel-peers-XXXX, removed at exit
unless PETREL_INTEROP_KEEP=1.

  DnsServer(records)      dnsmasq answering only from the given records (MX, null MX, A, AAAA,
                          TXT, CNAME, raw RRs); everything else NXDOMAIN or NODATA, nothing
                          forwarded anywhere.
  SmtpSink(address, port) Postfix's smtp-sink on 127.0.0.x:port, capturing every message, with
                          switches for 5xx/4xx replies, dropped connections and the EHLO
                          keywords; down=True listens nowhere (a dead MX).
  PostfixInstance(address, port, domain)
                          a private, throwaway Postfix (own config, queue and data directories;
                          root only) delivering `domain` into Maildirs, STARTTLS offered
                          (outbound_postfix.py).
  free_port(addresses)    one port free on all of 127.0.0.2, 127.0.0.3 ... at once.

Example:
    port = free_port(["127.0.0.2", "127.0.0.3"])
    records = [("MX", "example.org", 10, "mx1.example.org"), ("MX", "example.org", 20, "mx2.example.org"),
               ("A", "mx1.example.org", "127.0.0.2"), ("A", "mx2.example.org", "127.0.0.3")]
    with DnsServer(records) as dns, SmtpSink("127.0.0.2", port, soft_reject=["rcpt"]) as mx1, \\
            SmtpSink("127.0.0.3", port) as mx2:
        ... point Petrel's resolver at dns.address:dns.port, its SMTP client at port ...
        mx2.wait_for_messages(1)
        m = mx2.messages()[0]     # m.mail_from, m.rcpt_to, m.helo, m.client_addr, m.data

Tools: /usr/sbin/dnsmasq (dnsmasq-base), /usr/sbin/smtp-sink and postfix (postfix);
scripts/install-deps.sh test installs them. Standard library only.
"""

import os
import re
import signal
import socket
import struct
import subprocess

from outbound_peer_base import (TIMEOUT, Peer, check_loopback, chown_to, free_port,
                                is_root, make_workdir, read_text, register,
                                tcp_listening, unregister, wait_until)
from outbound_postfix import PostfixInstance

__all__ = ["DnsServer", "SmtpSink", "SinkMessage", "PostfixInstance", "free_port", "TIMEOUT"]

DNSMASQ = "/usr/sbin/dnsmasq"
SMTP_SINK = "/usr/sbin/smtp-sink"
UNPRIVILEGED_USER = "nobody"   # what dnsmasq and smtp-sink switch to when started as root
UNPRIVILEGED_GROUP = "nogroup"


def _stop_process(proc, timeout=TIMEOUT):
    """SIGTERM, then SIGKILL after timeout; waits for it."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


# --- DNS ---------------------------------------------------------------------------------------

PROBE_NAME = "petrel-peer-ready.invalid"   # the start-up probe's query, left out of queries()


def _wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label.encode())]) + label.encode()
    return out + b"\0"


class DnsServer(Peer):
    """dnsmasq (2.90 on Debian 12) as the only DNS server Petrel's resolver may ask, answering
    from `records` alone, over UDP and TCP on 127.0.0.1:port.

    records: a list of tuples (names without the trailing dot, any case):
      ("MX", name, preference, exchange)   --mx-host; dnsmasq puts the exchange's A/AAAA
                                            records in the additional section when it has them
      ("NULLMX", name)                      RFC 7505 null MX: preference 0, exchange "." (as
                                            --dns-rr=name,15,000000: --mx-host cannot say ".")
      ("A", name, "127.0.0.2")              --host-record (also makes a PTR record)
      ("AAAA", name, "::1")                 --host-record
      ("TXT", name, text or [strings])      --dns-rr with the RDATA built here, so any text
                                            works (a DKIM key: split into 255-byte strings)
      ("CNAME", alias, target)              --cname; dnsmasq serves it only when the target has
                                            records here too
      ("RR", name, type number, hex RDATA)  --dns-rr, anything else
    A name may appear in several records (several MX, several A ...).

    What it answers:
      - a name and type in records: the records, AA set, TTL `ttl` (default 0: no caching);
      - a name in records but not that type: NODATA (NOERROR, no answer);
      - any other name: NXDOMAIN.
    Negative answers carry no SOA record and no AA flag (dnsmasq's local answers); RA is set.

    dnsmasq quirks, and the options that deal with them:
      - With no upstream server (--no-resolv, no --server) dnsmasq answers REFUSED ("config
        error is REFUSED (EDE: not ready)") for every name it has no local record for, and
        REFUSED even for another type of a name it does know. --local=/#/ ("#" matches every
        domain; a --server/--local with no address means "answer from local data only, never
        forward") turns those into NXDOMAIN and NODATA as above.
      - MX answers need no A record for the MX name itself or for the exchange.
      - Its authoritative mode (--auth-zone/--auth-server) gives SOA records in negative answers
        but REFUSES every name outside the listed zones; it is not used.
    Nothing is ever forwarded: no resolv.conf (--no-resolv), no /etc/hosts (--no-hosts), no
    /etc/dnsmasq.conf or /etc/dnsmasq.d (--conf-file=/dev/null), no --server, and --local=/#/
    besides. It binds 127.0.0.1 only (--bind-interfaces --listen-address), stays in the
    foreground as our child (--keep-in-foreground), writes its pid file and its log (every query
    and answer, --log-queries=extra) into its temporary directory, and as root switches to
    nobody/nogroup; as a normal user it runs as that user.

    port: None picks a port free for both UDP and TCP on 127.0.0.1. restart(records) starts it
    again on the same port with new records (dnsmasq cannot change command-line records live).
    """

    address = "127.0.0.1"

    def __init__(self, records, port=None, ttl=0):
        self.records = list(records)
        self.port = port
        self.ttl = ttl
        self.proc = None
        self.workdir = make_workdir("dns-")
        self.log_path = os.path.join(self.workdir, "dnsmasq.log")
        self.pid_file = os.path.join(self.workdir, "dnsmasq.pid")
        self.output_path = os.path.join(self.workdir, "dnsmasq.out")

    def __repr__(self):
        return "DnsServer(%s:%s)" % (self.address, self.port)

    @staticmethod
    def record_options(records):
        """The dnsmasq options for records (see the class docstring)."""
        options = []
        for record in records:
            kind = record[0].upper()
            if kind == "MX":
                _, name, preference, exchange = record
                if exchange.rstrip(".") == "":
                    raise ValueError("an MX to '.' is a null MX: use (\"NULLMX\", name)")
                options.append("--mx-host=%s,%s,%d" % (name.rstrip("."), exchange.rstrip("."), preference))
            elif kind == "NULLMX":
                options.append("--dns-rr=%s,15,000000" % record[1].rstrip("."))
            elif kind in ("A", "AAAA"):
                _, name, address = record
                options.append("--host-record=%s,%s" % (name.rstrip("."), address))
            elif kind == "TXT":
                _, name, text = record
                strings = [text] if isinstance(text, (str, bytes)) else list(text)
                rdata = b""
                for s in strings:
                    data = s.encode() if isinstance(s, str) else s
                    for i in range(0, max(len(data), 1), 255):
                        chunk = data[i:i + 255]
                        rdata += bytes([len(chunk)]) + chunk
                options.append("--dns-rr=%s,16,%s" % (name.rstrip("."), rdata.hex()))
            elif kind == "CNAME":
                _, alias, target = record
                options.append("--cname=%s,%s" % (alias.rstrip("."), target.rstrip(".")))
            elif kind == "RR":
                _, name, rtype, hexdata = record
                options.append("--dns-rr=%s,%d,%s" % (name.rstrip("."), rtype, hexdata))
            else:
                raise ValueError("unknown record kind %r" % (record,))
        return options

    def command(self):
        cmd = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
               "--no-poll", "--local=/#/", "--bind-interfaces", "--listen-address=" + self.address,
               "--port=%d" % self.port, "--pid-file=" + self.pid_file, "--log-facility=" + self.log_path,
               "--log-queries=extra", "--local-ttl=%d" % self.ttl]
        if is_root():
            cmd += ["--user=" + UNPRIVILEGED_USER, "--group=" + UNPRIVILEGED_GROUP]
        return cmd + self.record_options(self.records)

    def start(self, timeout=TIMEOUT):
        """Starts dnsmasq and waits until it answers a query."""
        if self.proc is not None:
            return self
        if not os.access(DNSMASQ, os.X_OK):
            raise RuntimeError("%s is missing (scripts/install-deps.sh test: dnsmasq-base)" % DNSMASQ)
        if self.port is None:
            self.port = free_port([self.address], udp=True)
        with open(self.output_path, "ab") as out:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        register(self, kill_pids=[self.proc.pid])
        try:
            wait_until(self._answers, timeout, "dnsmasq on %s:%d answering" % (self.address, self.port),
                       alive=lambda: self.proc.poll() is None,
                       details=lambda: read_text(self.output_path) + read_text(self.log_path))
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self):
        query_id = os.getpid() & 0xFFFF
        query = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + _wire_name(PROBE_NAME) + struct.pack(">HH", 1, 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(query, (self.address, self.port))
                reply = s.recv(4096)
            except OSError:
                return False
        return len(reply) >= 12 and struct.unpack(">H", reply[:2])[0] == query_id

    def stop(self, timeout=TIMEOUT):
        proc, self.proc = self.proc, None
        _stop_process(proc, timeout)
        unregister(self)

    def restart(self, records=None, timeout=TIMEOUT):
        """Stops and starts it again on the same port, with records when given."""
        self.stop()
        if records is not None:
            self.records = list(records)
        return self.start(timeout)

    def log(self):
        return read_text(self.log_path)

    def queries(self):
        """(type, name) of each query received, in order, e.g. ("MX", "example.org"); the
        start-up probes are left out. From dnsmasq's log, written as it answers."""
        found = re.findall(r"\bquery\[(\w+)\] (\S+) from ", self.log())
        return [(qtype, name) for qtype, name in found if name != PROBE_NAME]


# --- smtp-sink ---------------------------------------------------------------------------------

class SinkMessage:
    """One mail transaction captured by smtp-sink.
      mail_from     the MAIL FROM address without <> ("" for the null sender)
      mail_params   the MAIL parameters, e.g. ["BODY=8BITMIME", "SIZE=1234"]
      rcpt_to       the accepted RCPT TO addresses, in order
      rcpt_params   their parameters, one list per recipient (e.g. ["NOTIFY=NEVER"])
      helo          the last HELO/EHLO argument before the transaction (None if none)
      client_proto  "SMTP" (after HELO) or "ESMTP" (after EHLO)
      client_addr   the client's IP address (what Petrel connected from)
      data          the message as received, CRLF line ends, dot-stuffing removed
      sink_id       the id smtp-sink gave it (in its own Received line)
    Non-ASCII bytes in the envelope and HELO come out as "?" (see SmtpSink)."""

    def __init__(self, text):
        self.sink_id = None
        self.mail_from = None
        self.mail_params = []
        self.rcpt_to = []
        self.rcpt_params = []
        self.helo = None
        self.client_proto = None
        self.client_addr = None
        lines = text.split(b"\n")
        i = 0
        while i < len(lines):
            line = lines[i].decode("utf-8", "replace")
            i += 1
            name, _, value = line.partition(": ")
            if name == "X-Client-Addr":
                self.client_addr = value
            elif name == "X-Client-Proto":
                self.client_proto = value
            elif name == "X-Helo-Args":
                self.helo = value
            elif name == "X-Mail-Args":
                self.mail_from, self.mail_params = self._address_and_params(value)
            elif name == "X-Rcpt-Args":
                address, params = self._address_and_params(value)
                self.rcpt_to.append(address)
                self.rcpt_params.append(params)
            elif name == "Received":
                while i < len(lines) and lines[i].startswith(b"\t"):  # its two continuation lines
                    found = re.search(rb" id ([0-9a-f]+);", lines[i])
                    self.sink_id = found.group(1).decode() if found else self.sink_id
                    i += 1
                break
            else:
                raise ValueError("unexpected smtp-sink header %r" % line)
        body = b"\n".join(lines[i:])
        # smtp-sink writes every line with LF (it drops all CRs) and ends the file with the LF of
        # the terminating ".<CR><LF>" line: take that away and put the CRLFs back.
        if body.endswith(b"\n"):
            body = body[:-1]
        self.data = body.replace(b"\n", b"\r\n")

    @staticmethod
    def _address_and_params(value):
        value = value.strip()
        if value.startswith("<"):
            end = value.find(">")
            if end >= 0:
                return value[1:end], value[end + 1:].split()
        parts = value.split()
        return (parts[0] if parts else ""), parts[1:]

    def __repr__(self):
        return "SinkMessage(from=%r, to=%r, %d bytes)" % (self.mail_from, self.rcpt_to, len(self.data))


class SmtpSink(Peer):
    """Postfix's smtp-sink (3.7 on Debian 12) on address:port (127.0.0.x only), capturing every
    mail transaction (-D, -S; see messages()) and logging every command line it reads (-v; see
    commands()).

    What it advertises, by default, in this order (EHLO reply; its last line is "250 " with an
    empty text, which a client's parser must accept):
        <hostname>, PIPELINING, 8BITMIME, AUTH PLAIN LOGIN, XCLIENT NAME HELO,
        XFORWARD NAME ADDR PROTO HELO, ENHANCEDSTATUSCODES, DSN
    and never SIZE, STARTTLS, SMTPUTF8, CHUNKING: smtp-sink does not do TLS at all (use
    PostfixInstance for STARTTLS), nor BDAT ("500 5.5.1 Error: unknown command"). It does not
    check MAIL/RCPT parameters: SIZE=, SMTPUTF8, BODY=8BITMIME are accepted even unannounced.
    Greeting "220 <hostname> ESMTP"; replies "250 2.1.0 Ok" (MAIL), "250 2.1.5 Ok" (RCPT),
    "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok" (end of data), "221 Bye".

    Switches (commands are names such as "connect", "helo", "ehlo", "mail", "rcpt", "data",
    "." (end of data), "rset", "noop", "quit", "auth"):
      hard_reject   -f: reply hard_reply (default "500 5.3.0 Error: command failed") instead
      soft_reject   -r: reply soft_reply (default "450 4.3.0 Error: command failed") instead
                    (both imply -p: PIPELINING is then not announced)
      disconnect_on -q: close the connection without a reply
      close_on      -Q: reply "421 4.0.0 Server closing connection" and close
      delays        -W: {"rcpt": 2, ...} seconds to wait before replying to a command
      abort_data    -A: seconds after the 354 reply to answer "550 This violates SMTP" and close
      pipelining, eightbitmime, auth, xclient, xforward, enhanced_status_codes, dsn:
                    False drops that EHLO keyword (-p, -8, -a, -C, -F, -E, -N)
      esmtp=False   -e: no "ESMTP" in the greeting and EHLO is an unknown command (500)
      down=True     start() starts nothing: nothing listens on address:port (a dead MX)
    A rejected RCPT is not captured; a transaction whose "." was rejected still is (smtp-sink
    writes the file before it replies).

    AUTH: smtp-sink answers any AUTH command line with "250 2.0.0 Ok" (not 235, and it has no
    334 continuation: an AUTH LOGIN without an initial response leaves the next line as an
    unknown command). It cannot check credentials; it only logs the line, which auth_commands()
    returns (with a base64 initial response, the credentials are in it). auth=False removes
    AUTH from EHLO but the command is still answered 250.

    What cannot be seen (smtp-sink rewrites as it captures):
      - every CR is dropped from the message: bare CRs are lost and bare LFs look like CRLF;
        messages' data has CRLF line ends, with the dot-stuffing undone;
      - non-ASCII bytes in command lines (SMTPUTF8 addresses, the EHLO name) come out as "?",
        both in the capture and in commands(); the message content keeps its 8-bit bytes.
    Use PostfixInstance where exact envelopes or TLS matter.

    As root, smtp-sink switches to nobody (-u) after binding; as a normal user it runs as that
    user. The connection backlog is 64, the command timeout command_timeout seconds (-t).
    """

    def __init__(self, address, port, hostname="smtp-sink.test", hard_reject=(), soft_reject=(),
                 disconnect_on=(), close_on=(), delays=None, abort_data=None, hard_reply=None,
                 soft_reply=None, pipelining=True, eightbitmime=True, auth=True, xclient=True,
                 xforward=True, enhanced_status_codes=True, dsn=True, esmtp=True, down=False,
                 command_timeout=100, extra_args=()):
        self.address = check_loopback(address)
        self.port = int(port)
        self.hostname = hostname
        self.down = down
        args = ["-h", hostname, "-t", str(command_timeout)]
        for flag, commands in (("-f", hard_reject), ("-r", soft_reject), ("-q", disconnect_on), ("-Q", close_on)):
            if commands:
                args += [flag, ",".join([commands] if isinstance(commands, str) else commands)]
        for command, seconds in (delays or {}).items():
            args += ["-W", "%s:%d" % (command, seconds)]
        if abort_data is not None:
            args += ["-A", str(abort_data)]
        if hard_reply:
            args += ["-B", hard_reply]
        if soft_reply:
            args += ["-b", soft_reply]
        for enabled, flag in ((pipelining, "-p"), (eightbitmime, "-8"), (auth, "-a"), (xclient, "-C"),
                              (xforward, "-F"), (enhanced_status_codes, "-E"), (dsn, "-N"), (esmtp, "-e")):
            if not enabled:
                args.append(flag)
        self.args = args + list(extra_args)
        self.proc = None
        self.workdir = make_workdir("sink-%s-" % self.address)
        self.dump_dir = os.path.join(self.workdir, "messages")
        self.dump_path = os.path.join(self.dump_dir, "all")
        self.log_path = os.path.join(self.workdir, "smtp-sink.log")
        # Put in front of each captured message (-S): a separator no message can contain by chance.
        self.separator = "<<petrel smtp-sink record %s>>\n" % os.urandom(8).hex()
        os.makedirs(self.dump_dir)
        chown_to(self.dump_dir, UNPRIVILEGED_USER)

    def __repr__(self):
        return "SmtpSink(%s:%d%s)" % (self.address, self.port, ", down" if self.down else "")

    def command(self):
        cmd = [SMTP_SINK, "-v", "-D", self.dump_path, "-S", self.separator.replace("\n", "\\n")]
        if is_root():
            cmd += ["-u", UNPRIVILEGED_USER]
        return cmd + self.args + ["inet:%s:%d" % (self.address, self.port), "64"]

    def start(self, timeout=TIMEOUT):
        """Starts smtp-sink and waits until it listens (unless down)."""
        if self.proc is not None or self.down:
            return self
        if not os.access(SMTP_SINK, os.X_OK):
            raise RuntimeError("%s is missing (scripts/install-deps.sh test: postfix)" % SMTP_SINK)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=log, start_new_session=True)
        register(self, kill_pids=[self.proc.pid])
        try:
            wait_until(lambda: tcp_listening(self.address, self.port), timeout,
                       "smtp-sink listening on %s:%d" % (self.address, self.port),
                       alive=lambda: self.proc.poll() is None, details=self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout=TIMEOUT):
        proc, self.proc = self.proc, None
        _stop_process(proc, timeout)
        unregister(self)

    def log(self):
        """smtp-sink's verbose output (-v): connections and every command line read."""
        return read_text(self.log_path)

    def messages(self):
        """Every completed transaction, in the order they completed, as SinkMessages. smtp-sink
        keeps a transaction in a file of its own (unlinked at once) until its end of data,
        then appends it to one shared file (-D), each behind the separator (-S), and only
        then logs the "." command line and replies: so the first N records, N being the
        number of "." lines in the log, are complete. (Capture files of their own (-d) would
        not do: their times cannot order two messages written within a few milliseconds.)
        A transaction ended by RSET or a lost connection leaves nothing."""
        completed = self.commands().count(".")
        try:
            with open(self.dump_path, "rb") as f:
                data = f.read()
        except OSError:
            return []
        records = data.split(self.separator.encode())[1:]
        return [SinkMessage(record) for record in records[:completed]]

    def wait_for_messages(self, count=1, timeout=TIMEOUT):
        """Waits until at least count messages are captured; returns messages()."""
        wait_until(lambda: len(self.messages()) >= count, timeout,
                   "%d message(s) at %r" % (count, self), details=self.log)
        return self.messages()

    _COMMAND = re.compile(r"^(?:[A-Za-z]+|\.)(?: .*)?$")

    def commands(self):
        """Every command line smtp-sink read, from every session, in arrival order (e.g.
        "EHLO petrel.test", "MAIL FROM:<a@b> SIZE=12", "data", "."; message content is not
        logged). Concurrent sessions interleave."""
        result = []
        for line in self.log().splitlines():
            _, sep, text = line.partition(": ")
            if sep and self._COMMAND.match(text) and text != "disconnect" and not text.startswith("connect (AF_"):
                result.append(text)
        return result

    def auth_commands(self):
        """The AUTH command lines read (see the class docstring)."""
        return [c for c in self.commands() if c.split(" ", 1)[0].upper() == "AUTH"]

    def connections(self):
        """The client address of each connection accepted, in order."""
        return re.findall(r": connect \(AF_INET6? (\S+)\)$", self.log(), re.M)
