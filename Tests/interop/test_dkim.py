"""DKIM signing, checked by an outside verifier: dkimpy (PyPI; PyNaCl for ed25519-sha256),
which fetches each key's TXT record through dnspython from a real DNS server (dnsmasq) that
publishes exactly what `petrel dkim keygen` printed.

  DKIMSigning       alice submits on 587 (STARTTLS, AUTH); the queue worker signs with local.test's
                    RSA and Ed25519 keys and delivers to smtp-sink; both signatures verify, on a
                    message with folded header fields and an 8-bit body, and fail once a signed
                    part changes. Also: key rotation (inactive keys are not used), the record and
                    list commands, keys from openssl imported with their public keys intact.
  PostfixEndToEnd   the issue's end-to-end case: submitted on 587, delivered over STARTTLS to a
                    real Postfix on 127.0.0.6 (root only, as Postfix is), verified there; and
                    one cached connection carrying the mail for two domains on that MX.
"""

import base64
import json
import os
import re
import smtplib
import subprocess
import tempfile
import time
import unittest

import dkim
import dns.resolver

from outbound_peers import DnsServer, PostfixInstance, SmtpSink, free_port, is_root
from petrel_interop import BIN, HOST, TIMEOUT, Node, environment, petrel_env, tls_context
from test_outbound import DOMAIN, PASSWORD, USER, OutboundDatabase


def setUpModule():
    environment()


def message(subject, to):
    """Folded fields (To, Subject, a long References) and an 8-bit UTF-8 body with trailing
    whitespace and empty lines at the end, which relaxed canonicalization must treat alike."""
    return ("From: Alice <%s>\r\n"
            "To: Bob <bob@%s>,\r\n\tCarol <carol@%s>\r\n"
            "Subject: %s\r\n  folded onto a second line\r\n"
            "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
            "Message-ID: <%s@local.test>\r\n"
            "References: <a@local.test>\r\n <b@local.test>\r\n\t<c@local.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "Grüße aus Zürich — café ☕  \r\n"
            "\tindented line with  two  spaces\r\n"
            "\r\n\r\n" % (USER, to, to, subject, subject)).encode()


def submit(port, recipients, data):
    with smtplib.SMTP(HOST, port, local_hostname="client.test", timeout=TIMEOUT) as s:
        s.starttls(context=tls_context())
        s.login(USER, PASSWORD)
        s.sendmail(USER, recipients, data, mail_options=["BODY=8BITMIME"])


class DKIMPeers:
    """Mixin: a database with local.test, RSA and Ed25519 keys made by `petrel dkim keygen`, a
    DNS server publishing their records and MX records, and a node with delivery on."""

    mx_address = "127.0.0.2"
    peer_domain = "dkim-peer.test"

    @classmethod
    def petrel(cls, *args, check=True):
        r = subprocess.run([BIN, *args], capture_output=True, timeout=120,
                           env=petrel_env(environment().cli_config, cls.db.url))
        if check and r.returncode != 0:
            raise AssertionError("petrel %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
        return r

    @classmethod
    def keygen(cls, *args):
        return json.loads(cls.petrel("dkim", "keygen", *args, "--json").stdout)

    @classmethod
    def start_peer(cls, port):
        raise NotImplementedError

    @classmethod
    def more_delivery_settings(cls):
        return {}

    @classmethod
    def setUpClass(cls):
        environment()
        cls.db = OutboundDatabase()
        cls.keys = {"rsa": cls.keygen(DOMAIN, "--selector", "rsa1"),
                    "ed25519": cls.keygen(DOMAIN, "--algorithm", "ed25519", "--selector", "ed1"),
                    # made for a rotation: published, but not yet signing
                    "next": cls.keygen(DOMAIN, "--algorithm", "ed25519", "--selector", "next", "--inactive")}
        cls.port = free_port([cls.mx_address])
        records = [("MX", cls.peer_domain, 10, "mx." + cls.peer_domain), ("A", "mx." + cls.peer_domain, cls.mx_address),
                   # a second domain on the same MX host (connection reuse)
                   ("MX", "second-" + cls.peer_domain, 10, "mx." + cls.peer_domain)]
        records += [("TXT", k["name"], k["record"]) for k in cls.keys.values()]
        cls.dns = DnsServer(records)
        cls.dns.start()
        cls.peer = cls.start_peer(cls.port)
        delivery = {"enabled": "true", "nameservers": '"127.0.0.1:%d"' % cls.dns.port, "port": cls.port,
                    "poll_interval": 1, "retry_schedule": '"1h"', "connect_timeout": 5}
        delivery.update(cls.more_delivery_settings())
        cls.node = Node(cls.__name__, database_url=cls.db.url, delivery=delivery)
        cls.node.start()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.peer.stop()
        cls.dns.stop()

    def dnsfunc(self, name, timeout=5):
        """dkimpy's key lookup, through dnspython, asking only the test's dnsmasq."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.dns.port
        name = name.decode() if isinstance(name, bytes) else name
        answer = resolver.resolve(name.rstrip("."), "TXT", lifetime=timeout)
        return b"".join(b"".join(rr.strings) for rr in answer)

    def signatures(self, data):
        """(a=, s=, verified) for each DKIM-Signature of data, checked by dkimpy."""
        found = []
        fields = [v for (k, v) in dkim.rfc822_parse(data)[0] if k.lower() == b"dkim-signature"]
        for index, value in enumerate(fields):
            tags = dkim.util.parse_tag_value(value)
            try:
                verified = dkim.DKIM(data).verify(idx=index, dnsfunc=self.dnsfunc)
            except dkim.ValidationError:   # e.g. "body hash mismatch": dkimpy raises for some failures
                verified = False
            found.append((tags[b"a"].decode(), tags[b"s"].decode(), verified))
        return sorted(found)

    def assert_signed(self, data, selectors):
        self.assertEqual(self.signatures(data), sorted(
            [("rsa-sha256" if s.startswith("rsa") else "ed25519-sha256", s, True) for s in selectors]),
            data[:3000].decode(errors="replace"))


class DKIMSigning(DKIMPeers, unittest.TestCase):
    @classmethod
    def start_peer(cls, port):
        return SmtpSink(cls.mx_address, port).start()

    def deliver(self, subject):
        submit(self.node.ports["submission"], ["bob@" + self.peer_domain], message(subject, self.peer_domain))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            got = [m for m in self.peer.messages() if subject.encode() in m.data]
            if got:
                return got[0]
            time.sleep(0.2)
        self.fail("%s not delivered; node log:\n%s" % (subject, self.node.log()[-4000:]))

    def test_both_signatures_verify_with_dkimpy(self):
        got = self.deliver("dkim-both")
        self.assertEqual(got.mail_from, USER)
        self.assertIn("BODY=8BITMIME", got.mail_params)
        self.assertIn("Grüße aus Zürich".encode(), got.data)
        self.assert_signed(got.data, ["rsa1", "ed1"])
        # The verifier really checks: a changed body, or a changed signed field, fails both.
        head, body = got.data.split(b"\r\n\r\n", 1)
        for changed in (head + b"\r\n\r\n" + body.replace("café".encode(), b"cafe"),
                        head.replace(b"Subject: dkim-both", b"Subject: dkim-BOTH") + b"\r\n\r\n" + body,
                        # an added From field: oversigned, so it breaks the signatures
                        b"From: mallory@evil.test\r\n" + got.data):
            self.assertEqual([v for (_, _, v) in self.signatures(changed)], [False, False])
        # Refolding and whitespace changes, which relaxed canonicalization is for, keep them valid.
        refolded = head.replace(b"Subject: dkim-both\r\n  folded", b"Subject:   dkim-both   folded") \
            + b"\r\n\r\n" + body.replace(b"\xe2\x98\x95  \r\n", b"\xe2\x98\x95\r\n")
        self.assertEqual([v for (_, _, v) in self.signatures(refolded)], [True, True])

    def test_rotation_uses_the_newest_active_key(self):
        self.petrel("dkim", "activate", DOMAIN, "next")
        try:
            got = self.deliver("dkim-rotation")
            self.assert_signed(got.data, ["rsa1", "next"])
        finally:
            self.petrel("dkim", "deactivate", DOMAIN, "next")
        got = self.deliver("dkim-rotation-back")
        self.assert_signed(got.data, ["rsa1", "ed1"])

    def test_record_and_list_commands(self):
        text = self.petrel("dkim", "record", DOMAIN, "rsa1").stdout.decode()
        self.assertIn("rsa1._domainkey.local.test. IN TXT (", text)
        strings = [line.split('"')[1] for line in text.splitlines() if '"' in line]
        self.assertTrue(all(len(s) <= 255 for s in strings), strings)
        self.assertEqual("".join(strings), self.keys["rsa"]["record"])
        self.assertTrue(self.keys["rsa"]["record"].startswith("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"))
        listed = json.loads(self.petrel("dkim", "list", DOMAIN, "--json").stdout)
        self.assertEqual([(k["selector"], k["algorithm"], k["bits"], k["active"]) for k in listed],
                         [("rsa1", "rsa-sha256", 2048, True), ("ed1", "ed25519-sha256", 256, True),
                          ("next", "ed25519-sha256", 256, False)])
        self.assertNotIn("PRIVATE", self.petrel("dkim", "list").stdout.decode())
        r = self.petrel("dkim", "keygen", DOMAIN, "--selector", "rsa1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already has a key with selector rsa1", r.stderr.decode())
        r = self.petrel("dkim", "keygen", "nowhere.test", check=False)
        self.assertIn("domain nowhere.test does not exist", r.stderr.decode())
        r = self.petrel("dkim", "keygen", DOMAIN, "--selector", "bad_selector", check=False)
        self.assertIn("is not a selector", r.stderr.decode())

    def test_keys_from_openssl_are_imported_with_their_public_keys(self):
        self.petrel("domain", "add", "imported.test")
        with tempfile.TemporaryDirectory() as tmp:
            for algorithm, command in (("ed25519", ["genpkey", "-algorithm", "ed25519"]),
                                       ("rsa", ["genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"]),
                                       ("rsa1024", ["genrsa", "-traditional"])):
                key = os.path.join(tmp, algorithm + ".pem")
                bits = ["1024"] if algorithm == "rsa1024" else []
                subprocess.run(["openssl", *command, "-out", key, *bits], check=True, capture_output=True)
                der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                                     check=True, capture_output=True).stdout
                r = self.petrel("dkim", "import", "imported.test", algorithm, "--key", key, "--json")
                record = json.loads(r.stdout)["record"]
                # RSA publishes the SubjectPublicKeyInfo; Ed25519 the bare 32 octets (RFC 8463).
                expected = der[-32:] if algorithm == "ed25519" else der
                self.assertEqual(record.split("p=", 1)[1], base64.b64encode(expected).decode(), algorithm)
                self.assertEqual("RFC 8301" in r.stderr.decode(), algorithm == "rsa1024")
            junk = os.path.join(tmp, "junk.pem")
            with open(junk, "w") as f:
                f.write("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            r = self.petrel("dkim", "import", "imported.test", "junk", "--key", junk, check=False)
            self.assertEqual(r.returncode, 1)
        self.petrel("domain", "remove", "imported.test", "--force")


@unittest.skipUnless(is_root(), "PostfixInstance needs root: `postfix` is reserved for the superuser")
class PostfixEndToEnd(DKIMPeers, unittest.TestCase):
    mx_address = "127.0.0.6"
    peer_domain = "peer.test"

    @classmethod
    def start_peer(cls, port):
        return PostfixInstance(cls.mx_address, port, domain=[cls.peer_domain, "second-" + cls.peer_domain],
                               tls="may").start()

    def test_one_connection_carries_mail_for_two_domains_on_one_mx(self):
        submit(self.node.ports["submission"], ["dan@peer.test", "dan@second-peer.test"], message("reuse", "peer.test"))
        self.assertEqual(len(self.peer.wait_for_messages(1, recipient="dan@second-peer.test")), 1)
        self.assertEqual(len(self.peer.messages(recipient="dan@peer.test")), 1)
        # smtpd's summary of each session: the second transaction came on the first one's
        # connection, after an RSET; the idle connection was then closed with QUIT.
        sessions = lambda: [dict(re.findall(r"(\w+)=(\d+)", line)) for line in self.peer.log().splitlines()
                            if "disconnect from" in line]
        self.peer.wait_for_log(r"disconnect from .* mail=[2-9]")
        reused = [s for s in sessions() if int(s.get("mail", 0)) >= 2]
        self.assertTrue(reused, self.peer.log()[-3000:])
        for s in reused:
            self.assertEqual(int(s["rset"]), int(s["mail"]) - 1, s)
            self.assertEqual(s.get("quit"), "1", s)
            self.assertEqual(s.get("starttls"), "1", s)

    def test_submitted_on_587_reaches_postfix_over_starttls_dkim_signed(self):
        submit(self.node.ports["submission"], ["bob@peer.test", "carol@peer.test"], message("e2e-postfix", "peer.test"))
        for recipient in ("bob@peer.test", "carol@peer.test"):
            [data] = self.peer.wait_for_messages(1, timeout=TIMEOUT, recipient=recipient)
            head = data.split(b"\r\n\r\n", 1)[0].decode()
            self.assertIn("Return-Path: <%s>" % USER, head)
            # Postfix's own Received line: Petrel came over TLS, with ESMTPS.
            received = head.split("Received: ", 2)[1]
            self.assertIn("(using TLSv1.3 with cipher", received)
            self.assertIn("with ESMTPS", received)
            self.assertIn("Grüße aus Zürich".encode(), data)
            self.assert_signed(data, ["rsa1", "ed1"])


@unittest.skipUnless(is_root(), "PostfixInstance needs root: `postfix` is reserved for the superuser")
class PostfixRelayRequiredTLS(DKIMPeers, unittest.TestCase):
    """Everything through a relay host with relay_tls: encrypt; the relay (Postfix with
    smtpd_tls_security_level = encrypt) refuses mail without TLS, so delivery proves it."""

    mx_address = "127.0.0.7"
    peer_domain = "relayed.test"

    @classmethod
    def start_peer(cls, port):
        return PostfixInstance(cls.mx_address, port, domain=cls.peer_domain, tls="encrypt").start()

    @classmethod
    def more_delivery_settings(cls):
        return {"relay_host": '"[%s]:%d"' % (cls.mx_address, cls.port), "relay_tls": "encrypt"}

    def test_delivered_through_the_relay_over_required_tls(self):
        submit(self.node.ports["submission"], ["eve@relayed.test"], message("relay-tls", "relayed.test"))
        [data] = self.peer.wait_for_messages(1, timeout=TIMEOUT, recipient="eve@relayed.test")
        received = data.split(b"\r\n\r\n", 1)[0].decode().split("Received: ", 2)[1]
        self.assertIn("(using TLSv1.3 with cipher", received)
        self.assertIn("with ESMTPS", received)
        self.assert_signed(data, ["rsa1", "ed1"])


if __name__ == "__main__":
    unittest.main()
