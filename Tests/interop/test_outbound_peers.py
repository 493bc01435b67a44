"""Self-test of the outbound-delivery test peers (outbound_peers.py), with Python's own clients
only: DNS queries built and parsed by hand here and sent over UDP and TCP, smtplib for SMTP. It
needs no Petrel and no database, and takes a few seconds. The PostfixInstance tests need root
(Postfix refuses to run otherwise) and are skipped, saying so, for anyone else.
"""

import base64
import ipaddress
import os
import random
import socket
import smtplib
import ssl
import struct
import subprocess
import sys
import textwrap
import time
import unittest

from outbound_peer_base import process_alive, tcp_listening
from outbound_peers import DnsServer, PostfixInstance, SmtpSink, free_port

TIMEOUT = 10
HERE = os.path.dirname(os.path.abspath(__file__))

# --- a DNS client by hand (RFC 1035) -----------------------------------------------------------

TYPES = {"A": 1, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_NAMES = {v: k for k, v in TYPES.items()}


def build_query(name, qtype, query_id, edns=None):
    """A query with RD set; edns: the UDP payload size of an EDNS0 OPT record (RFC 6891)."""
    header = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 1 if edns else 0)
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    opt = b"\0" + struct.pack(">HHIH", 41, edns, 0, 0) if edns else b""
    return header + qname + struct.pack(">HH", TYPES[qtype], 1) + opt


def read_name(data, offset):
    """(dotted name, offset after it), following compression pointers."""
    labels, end = [], None
    for _ in range(128):
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = offset + 2
            offset = struct.unpack(">H", data[offset:offset + 2])[0] & 0x3FFF
            continue
        if length == 0:
            return ".".join(labels), (end if end is not None else offset + 1)
        labels.append(data[offset + 1:offset + 1 + length].decode())
        offset += 1 + length
    raise ValueError("name loop")


def parse_response(data, query_id):
    qid, flags, qdcount, ancount, nscount, arcount = struct.unpack(">HHHHHH", data[:12])
    if qid != query_id or not flags & 0x8000:
        raise AssertionError("not the reply to our query: %r" % data[:12])
    offset = 12
    for _ in range(qdcount):
        _, offset = read_name(data, offset)
        offset += 4
    sections = []
    for count in (ancount, nscount, arcount):
        records = []
        for _ in range(count):
            name, offset = read_name(data, offset)
            rtype, _, ttl, length = struct.unpack(">HHIH", data[offset:offset + 10])
            offset += 10
            rdata = data[offset:offset + length]
            if rtype == 1:
                value = socket.inet_ntoa(rdata)
            elif rtype == 28:
                value = str(ipaddress.IPv6Address(rdata))
            elif rtype == 15:
                value = (struct.unpack(">H", rdata[:2])[0], read_name(data, offset + 2)[0])
            elif rtype == 5:
                value = read_name(data, offset)[0]
            elif rtype == 16:
                value, i = [], 0
                while i < len(rdata):
                    value.append(rdata[i + 1:i + 1 + rdata[i]])
                    i += 1 + rdata[i]
            else:
                value = rdata
            records.append((name.lower(), TYPE_NAMES.get(rtype, rtype), ttl, value))
            offset += length
        sections.append(records)
    return dict(rcode=flags & 0xF, aa=bool(flags & 0x0400), tc=bool(flags & 0x0200),
                answers=sections[0], authority=sections[1], additional=sections[2])


def dns_query(server, name, qtype, tcp=False, edns=None):
    query_id = random.randrange(1 << 16)
    query = build_query(name, qtype, query_id, edns)
    if tcp:
        with socket.create_connection((server.address, server.port), TIMEOUT) as s:
            s.sendall(struct.pack(">H", len(query)) + query)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError("TCP reply cut short")
                data += chunk
            return parse_response(data[2:], query_id)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        s.sendto(query, (server.address, server.port))
        return parse_response(s.recv(65536), query_id)


NOERROR, NXDOMAIN = 0, 3
DKIM_KEY = "v=DKIM1; k=rsa; p=" + base64.b64encode(bytes(range(256)) * 2).decode()  # 700 bytes: 3 strings

RECORDS = [
    ("MX", "example.org", 10, "mx1.example.org"),
    ("MX", "example.org", 20, "mx2.example.org."),
    ("A", "mx1.example.org", "127.0.0.2"),
    ("A", "mx2.example.org", "127.0.0.3"),
    ("A", "mx2.example.org", "127.0.0.4"),
    ("AAAA", "mx1.example.org", "::1"),
    ("MX", "zero.test", 0, "mx1.example.org"),
    ("MX", "no-address.test", 5, "nowhere.test"),
    ("NULLMX", "nullmx.test"),
    ("A", "nullmx.test", "127.0.0.9"),
    ("TXT", "sel._domainkey.example.org", DKIM_KEY),
    ("TXT", "short.example.org", "v=spf1 -all"),
    ("CNAME", "alias.example.org", "mx1.example.org"),
]


class DnsServerTests(unittest.TestCase):
    """One dnsmasq for the class, asked over UDP (and TCP once)."""

    @classmethod
    def setUpClass(cls):
        cls.dns = DnsServer(RECORDS).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def ask(self, name, qtype, **kw):
        return dns_query(self.dns, name, qtype, **kw)

    def test_mx_preferences_and_names(self):
        r = self.ask("example.org", "MX")
        self.assertEqual((r["rcode"], r["aa"]), (NOERROR, True), r)
        self.assertEqual(sorted(v for _, t, _, v in r["answers"] if t == "MX"),
                         [(10, "mx1.example.org"), (20, "mx2.example.org")])
        self.assertEqual({n for n, _, _, _ in r["answers"]}, {"example.org"})
        self.assertTrue(all(ttl == 0 for _, _, ttl, _ in r["answers"]), r)
        # dnsmasq adds what it knows of the exchanges as additional records.
        self.assertIn(("mx1.example.org", "A", 0, "127.0.0.2"), r["additional"])
        self.assertEqual(self.ask("zero.test", "MX")["answers"], [("zero.test", "MX", 0, (0, "mx1.example.org"))])
        self.assertEqual(self.ask("no-address.test", "MX")["answers"],
                         [("no-address.test", "MX", 0, (5, "nowhere.test"))])

    def test_mx_over_tcp(self):
        r = self.ask("example.org", "MX", tcp=True)
        self.assertEqual(sorted(v for _, t, _, v in r["answers"]), [(10, "mx1.example.org"), (20, "mx2.example.org")])

    def test_a_and_aaaa(self):
        self.assertEqual([v for _, _, _, v in self.ask("mx1.example.org", "A")["answers"]], ["127.0.0.2"])
        self.assertEqual(sorted(v for _, _, _, v in self.ask("mx2.example.org", "A")["answers"]),
                         ["127.0.0.3", "127.0.0.4"])
        self.assertEqual([v for _, _, _, v in self.ask("MX1.Example.ORG", "AAAA")["answers"]], ["::1"])

    def test_null_mx(self):
        r = self.ask("nullmx.test", "MX")
        self.assertEqual((r["rcode"], r["aa"]), (NOERROR, True), r)
        self.assertEqual(r["answers"], [("nullmx.test", "MX", 0, (0, ""))])  # preference 0, exchange "."
        self.assertEqual([v for _, _, _, v in self.ask("nullmx.test", "A")["answers"]], ["127.0.0.9"])

    def test_unknown_names_nxdomain_other_types_nodata(self):
        for name, qtype in (("nope.test", "MX"), ("nope.test", "A"), ("sub.example.org", "A"), ("debian.org", "MX")):
            r = self.ask(name, qtype)
            self.assertEqual((r["rcode"], r["answers"]), (NXDOMAIN, []), (name, qtype, r))
        for name, qtype in (("mx1.example.org", "MX"), ("example.org", "A"), ("mx2.example.org", "AAAA")):
            r = self.ask(name, qtype)
            self.assertEqual((r["rcode"], r["answers"]), (NOERROR, []), (name, qtype, r))

    def test_long_txt_truncated_over_udp_whole_over_tcp_or_edns(self):
        r = self.ask("sel._domainkey.example.org", "TXT")  # > 512 bytes without EDNS0: TC, retry over TCP
        self.assertEqual((r["rcode"], r["tc"], r["answers"]), (NOERROR, True, []), r)
        for reply in (self.ask("sel._domainkey.example.org", "TXT", tcp=True),
                      self.ask("sel._domainkey.example.org", "TXT", edns=1232)):
            self.assertFalse(reply["tc"])
            (_, _, _, strings), = reply["answers"]
            self.assertEqual([len(s) for s in strings], [255, 255, len(DKIM_KEY) - 510])
            self.assertEqual(b"".join(strings).decode(), DKIM_KEY)
        (_, _, _, strings), = self.ask("short.example.org", "TXT")["answers"]
        self.assertEqual(strings, [b"v=spf1 -all"])

    def test_cname(self):
        r = self.ask("alias.example.org", "A")
        self.assertIn(("alias.example.org", "CNAME", 0, "mx1.example.org"), r["answers"])
        self.assertIn(("mx1.example.org", "A", 0, "127.0.0.2"), r["answers"])

    def test_queries_are_logged_and_nothing_forwarded(self):
        self.ask("logged.example.org", "MX")
        self.assertIn(("MX", "logged.example.org"), self.dns.queries())
        self.assertNotIn("forwarded", self.dns.log())
        cmd = self.dns.command()
        self.assertIn("--no-resolv", cmd)
        self.assertIn("--local=/#/", cmd)
        self.assertFalse([c for c in cmd if c.startswith("--server")], cmd)

    def test_restart_with_new_records_on_the_same_port(self):
        with DnsServer([("A", "first.test", "127.0.0.5")]) as dns:
            port = dns.port
            self.assertEqual([v for *_, v in dns_query(dns, "first.test", "A")["answers"]], ["127.0.0.5"])
            dns.restart([("MX", "second.test", 7, "first.test")])
            self.assertEqual(dns.port, port)
            self.assertEqual(dns_query(dns, "first.test", "A")["rcode"], NXDOMAIN)
            self.assertEqual([v for *_, v in dns_query(dns, "second.test", "MX")["answers"]], [(7, "first.test")])


# --- SMTP helpers ------------------------------------------------------------------------------

def connect(address, port, helo="client.test"):
    s = smtplib.SMTP(address, port, local_hostname=helo, timeout=TIMEOUT)
    s.ehlo()
    return s


def hang_up(s):
    try:
        s.quit()
    except (smtplib.SMTPException, OSError):
        s.close()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


MESSAGE = (b"From: <sender@remote.test>\r\nTo: <bob@example.org>\r\nSubject: peer test\r\n\r\n"
           b"line one\r\n.starts with a dot\r\n..two dots\r\n.\r\nb\xc3\xb6dy 8bit\r\n")


class SmtpSinkTests(unittest.TestCase):

    def sink(self, address="127.0.0.2", port=None, **options):
        sink = SmtpSink(address, port or free_port([address]), **options)
        self.addCleanup(sink.stop)
        return sink.start()

    def session(self, sink, helo="client.test"):
        s = connect(sink.address, sink.port, helo)
        self.addCleanup(hang_up, s)
        return s

    def test_two_sinks_on_one_port_capture_envelope_and_bytes(self):
        port = free_port(["127.0.0.2", "127.0.0.3"])
        first, second = self.sink("127.0.0.2", port), self.sink("127.0.0.3", port)
        s = self.session(first, helo="petrel.test")
        self.assertEqual(s.mail("sender@remote.test", ["BODY=8BITMIME", "SIZE=%d" % len(MESSAGE)])[0], 250)
        self.assertEqual(s.rcpt("bob@example.org", ["NOTIFY=FAILURE,DELAY"])[0], 250)
        self.assertEqual(s.rcpt("carol@example.org")[0], 250)
        self.assertEqual(s.data(MESSAGE)[0], 250)
        self.assertEqual(s.sendmail("", ["postmaster@example.org"], b"Subject: bounce\r\n\r\nx\r\n"), {})
        t = self.session(second)
        t.sendmail("other@remote.test", ["dave@example.org"], b"Subject: second\r\n\r\ny\r\n")

        m1, m2 = first.messages()
        self.assertEqual((m1.mail_from, m1.mail_params),
                         ("sender@remote.test", ["BODY=8BITMIME", "SIZE=%d" % len(MESSAGE)]))
        self.assertEqual(m1.rcpt_to, ["bob@example.org", "carol@example.org"])
        self.assertEqual(m1.rcpt_params, [["NOTIFY=FAILURE,DELAY"], []])
        self.assertEqual((m1.helo, m1.client_proto, m1.client_addr), ("petrel.test", "ESMTP", "127.0.0.1"))
        self.assertEqual(m1.data, MESSAGE)
        self.assertEqual((m2.mail_from, m2.rcpt_to, m2.data),
                         ("", ["postmaster@example.org"], b"Subject: bounce\r\n\r\nx\r\n"))
        (m3,) = second.messages()
        self.assertEqual((m3.mail_from, m3.rcpt_to), ("other@remote.test", ["dave@example.org"]))
        self.assertIn("ehlo petrel.test", first.commands())
        self.assertEqual(first.connections(), ["127.0.0.1"])

    def test_ehlo_keywords_default_and_switched_off(self):
        s = self.session(self.sink())
        self.assertEqual(s.ehlo_resp.decode().split("\n"),
                         ["smtp-sink.test", "PIPELINING", "8BITMIME", "AUTH PLAIN LOGIN", "XCLIENT NAME HELO",
                          "XFORWARD NAME ADDR PROTO HELO", "ENHANCEDSTATUSCODES", "DSN", ""])
        for absent in ("size", "starttls", "smtputf8", "chunking"):
            self.assertFalse(s.has_extn(absent), absent)
        s = self.session(self.sink(hostname="mx.quiet.test", pipelining=False, auth=False, xclient=False,
                                   xforward=False, dsn=False, eightbitmime=False, enhanced_status_codes=False))
        self.assertEqual(s.ehlo_resp.decode().split("\n"), ["mx.quiet.test", ""])

    def test_rejections_and_disconnects(self):
        s = self.session(self.sink(hard_reject=["rcpt"]))
        self.assertFalse(s.has_extn("pipelining"))  # -f implies -p
        s.mail("a@remote.test")
        self.assertEqual(s.rcpt("b@example.org"), (500, b"5.3.0 Error: command failed"))
        s = self.session(self.sink(soft_reject="mail", soft_reply="451 4.3.2 Try again later"))
        self.assertEqual(s.mail("a@remote.test"), (451, b"4.3.2 Try again later"))
        sink = self.sink(hard_reject=["."])
        s = self.session(sink)
        s.mail("a@remote.test")
        s.rcpt("b@example.org")
        self.assertEqual(s.data(b"Subject: refused\r\n\r\nx\r\n")[0], 500)
        self.assertEqual(len(sink.messages()), 1)  # captured all the same
        s = self.session(self.sink(close_on=["mail"]))
        self.assertEqual(s.docmd("MAIL", "FROM:<a@remote.test>"), (421, b"4.0.0 Server closing connection"))
        with self.assertRaises(smtplib.SMTPServerDisconnected):
            s.noop()
        s = self.session(self.sink(disconnect_on=["rcpt"]))
        s.mail("a@remote.test")
        with self.assertRaises(smtplib.SMTPServerDisconnected):
            s.rcpt("b@example.org")
        for sink in (self.sink(hard_reject=["rcpt"]), self.sink(soft_reject=["mail"])):
            self.assertEqual(sink.messages(), [])

    def test_down_sink_has_nothing_listening(self):
        port = free_port(["127.0.0.2"])
        sink = SmtpSink("127.0.0.2", port, down=True).start()
        self.assertFalse(tcp_listening("127.0.0.2", port))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), TIMEOUT).close()
        sink.stop()

    def test_auth_line_recorded(self):
        sink = self.sink()
        s = self.session(sink)
        initial = base64.b64encode(b"\0user@example.org\0secret").decode()
        self.assertEqual(s.docmd("AUTH", "PLAIN " + initial), (250, b"2.0.0 Ok"))  # not 235: no real AUTH
        self.assertEqual(sink.auth_commands(), ["AUTH PLAIN " + initial])

    def test_transaction_in_progress_is_not_listed(self):
        sink = self.sink()
        with socket.create_connection((sink.address, sink.port), TIMEOUT) as raw:
            f = raw.makefile("rb")
            f.readline()
            for line in (b"HELO raw.test", b"MAIL FROM:<a@remote.test>", b"RCPT TO:<b@example.org>", b"DATA"):
                raw.sendall(line + b"\r\n")
                self.assertIn(f.readline()[:1], (b"2", b"3"), line)
            raw.sendall(b"Subject: half\r\n\r\nnot finished\r\n")
            time.sleep(0.2)
            self.assertEqual(sink.messages(), [])
            raw.sendall(b".\r\n")
            self.assertEqual(f.readline(), b"250 2.0.0 Ok\r\n")
            (m,) = sink.messages()
            self.assertEqual((m.helo, m.client_proto, m.data),
                             ("raw.test", "SMTP", b"Subject: half\r\n\r\nnot finished\r\n"))

    def test_only_loopback(self):
        for address in ("10.0.0.1", "0.0.0.0", "::1", "192.0.2.1"):
            with self.assertRaises(ValueError):
                SmtpSink(address, 2525)
            with self.assertRaises(ValueError):
                free_port([address])


@unittest.skipUnless(os.geteuid() == 0, "PostfixInstance needs root: `postfix` is reserved for the superuser")
class PostfixInstanceTests(unittest.TestCase):
    """One private Postfix for the class on 127.0.0.4, sharing its port with an smtp-sink."""

    @classmethod
    def setUpClass(cls):
        cls.port = free_port(["127.0.0.2", "127.0.0.4"])
        cls.postfix = PostfixInstance("127.0.0.4", cls.port, "peer.test").start()

    @classmethod
    def tearDownClass(cls):
        cls.postfix.stop()

    def send(self, rcpts, data, starttls=False, address="127.0.0.4", port=None):
        s = connect(address, port or self.port)
        self.addCleanup(hang_up, s)
        if starttls:
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=tls_context())
            s.ehlo()
        self.assertEqual(s.mail("sender@remote.test")[0], 250)
        for rcpt in rcpts:
            self.assertEqual(s.rcpt(rcpt)[0], 250, rcpt)
        self.assertEqual(s.data(data)[0], 250)
        return s

    def trace_and_rest(self, stored, original):
        self.assertTrue(stored.endswith(original), stored)
        return stored[:len(stored) - len(original)].decode()

    def test_plain_delivery_bytes_unchanged(self):
        original = b"Subject: plain %d\r\n\r\nno Date, no Message-ID: none added\r\n..dot\r\n" % os.getpid()
        self.send(["bob@peer.test"], original)
        (stored,) = [m for m in self.postfix.wait_for_messages(1, recipient="bob@peer.test") if b"plain" in m]
        trace = self.trace_and_rest(stored, original)
        self.assertTrue(trace.startswith("Return-Path: <sender@remote.test>\r\nX-Original-To: bob@peer.test\r\n"
                                         "Delivered-To: bob@peer.test\r\n"
                                         "Received: from client.test (unknown [127.0.0.1])"), trace)
        self.assertIn("with ESMTP id", trace)
        self.assertNotIn("using TLS", trace)
        self.postfix.wait_for_log(r"to=<bob@peer\.test>.*status=sent \(delivered to maildir\)")

    def test_starttls_shows_in_received(self):
        original = b"Subject: over TLS\r\n\r\nsecret\r\n"
        self.send(["tls@peer.test"], original, starttls=True)
        (stored,) = self.postfix.wait_for_messages(1, recipient="tls@peer.test")
        trace = self.trace_and_rest(stored, original)
        self.assertRegex(trace, r"\(using TLSv1\.[23] with cipher \S+")
        self.assertIn("with ESMTPS id", trace)

    def test_no_relaying(self):
        s = connect("127.0.0.4", self.port)
        self.addCleanup(hang_up, s)
        s.mail("sender@remote.test")
        code, reply = s.rcpt("someone@elsewhere.test")
        self.assertEqual(code, 554, reply)
        self.assertIn(b"Relay access denied", reply)

    def test_shares_its_port_with_a_sink(self):
        sink = SmtpSink("127.0.0.2", self.port).start()
        self.addCleanup(sink.stop)
        self.send(["x@example.org"], b"Subject: to the sink\r\n\r\nx\r\n", address="127.0.0.2")
        self.assertEqual(sink.messages()[0].rcpt_to, ["x@example.org"])
        self.assertEqual(self.postfix.messages(recipient="x@example.org"), [])

    def test_listed_users_only_and_settings(self):
        port = free_port(["127.0.0.5"])
        with PostfixInstance("127.0.0.5", port, ["users.test", "more.test"], users=["bob"],
                             settings={"smtpd_discard_ehlo_keywords": "chunking"}) as mx:
            s = connect("127.0.0.5", port)
            self.addCleanup(hang_up, s)
            self.assertFalse(s.has_extn("chunking"))
            self.assertTrue(s.has_extn("smtputf8"))
            s.mail("sender@remote.test")
            self.assertEqual(s.rcpt("alice@users.test")[0], 550)
            self.assertEqual(s.rcpt("bob@users.test")[0], 250)
            self.assertEqual(s.rcpt("bob@more.test")[0], 250)
            self.assertEqual(s.data(b"Subject: two domains\r\n\r\nx\r\n")[0], 250)
            hang_up(s)
            self.assertEqual(len(mx.wait_for_messages(2)), 2)
            self.assertEqual(len(mx.messages(recipient="BOB@users.test")), 1)
            mx.set(smtpd_discard_ehlo_keywords="chunking, smtputf8")
            deadline = time.monotonic() + TIMEOUT  # a reload reaches the smtpd processes shortly after
            while True:
                s = connect("127.0.0.5", port)
                gone = not s.has_extn("smtputf8")
                hang_up(s)
                if gone or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assertTrue(gone, "smtputf8 still offered after set()")
            pid = mx.master_pid()
        self.assertFalse(process_alive(pid))
        self.assertFalse(tcp_listening("127.0.0.5", port))


    def test_tls_required_or_not_offered(self):
        port = free_port(["127.0.0.5"])
        with PostfixInstance("127.0.0.5", port, tls="none") as mx:
            s = connect("127.0.0.5", port)
            self.assertFalse(s.has_extn("starttls"))
            hang_up(s)
        with PostfixInstance("127.0.0.5", port, tls="encrypt") as mx:
            s = connect("127.0.0.5", port)
            self.addCleanup(hang_up, s)
            self.assertTrue(s.has_extn("starttls"))
            self.assertEqual(s.mail("sender@remote.test")[0], 530)  # 5.7.0 Must issue a STARTTLS command first
            s.starttls(context=tls_context())
            s.ehlo()
            self.assertEqual(s.sendmail("sender@remote.test", ["x@peer.test"], b"Subject: t\r\n\r\nx\r\n"), {})
            self.assertIn(b"with ESMTPS", mx.wait_for_messages(1)[0])


class CleanupTests(unittest.TestCase):
    """A test process killed with SIGKILL (no atexit) leaves no peer running: the guards."""

    def test_guards_clean_up_after_sigkill(self):
        script = textwrap.dedent("""
            import os, signal, sys
            sys.path.insert(0, %r)
            from outbound_peers import DnsServer, PostfixInstance, SmtpSink, free_port
            dns = DnsServer([("A", "a.test", "127.0.0.2")]).start()
            sink = SmtpSink("127.0.0.2", free_port(["127.0.0.2"])).start()
            peers = [dns, sink]
            if os.geteuid() == 0:
                peers.append(PostfixInstance("127.0.0.6", None).start())
            pids = [dns.proc.pid, sink.proc.pid] + [p.master_pid() for p in peers[2:]]
            print(" ".join(map(str, pids)))
            print(" ".join(p.workdir for p in peers), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """ % HERE)
        env = {k: v for k, v in os.environ.items() if k != "PETREL_INTEROP_KEEP"}
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, env=env)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), 2, r.stderr.decode())
        pids, workdirs = [int(p) for p in lines[0].split()], lines[1].split()
        workdirs.append(os.path.dirname(workdirs[0]))  # the run's directory
        self.assertTrue(os.path.basename(workdirs[-1]).startswith("petrel-peers-"), workdirs)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and (any(map(process_alive, pids)) or any(map(os.path.exists, workdirs))):
            time.sleep(0.05)
        self.assertEqual([p for p in pids if process_alive(p)], [])
        self.assertEqual([w for w in workdirs if os.path.exists(w)], [])


if __name__ == "__main__":
    unittest.main()
