"""SlapdInstance: a private, throwaway OpenLDAP slapd (Debian 12: 2.5, built with GnuTLS) as the
directory server of the LDAP interop tests. It listens on 127.0.0.1 only (ldap:// with StartTLS
and ldaps://, two free ports), never contacts anything, and never touches the system's slapd:
no /etc/ldap/slapd.d, no /var/lib/ldap, no system service (Debian's package may have configured
nothing at all: scripts/install-deps.sh preseeds slapd/no_configuration).

Everything lives in its own temporary directory (.workdir, inside the run's directory
$TMPDIR/petrel-peers-XXXX, see outbound_peer_base; removed at exit unless PETREL_INTEROP_KEEP=1):
  ca.pem, ca.key       a self-signed CA (EC P-256, openssl; CN "Petrel LDAP test CA")
  server.pem, .key     the server's certificate, signed by that CA: CN localhost,
                       subjectAltName IP:127.0.0.1 and DNS:localhost, serverAuth
  petrel.schema        the custom schema (below)
  slapd.conf           the configuration (below); slapd -f, no cn=config
  data.ldif            the entries, loaded with slapadd before the first start
  data/                the mdb database
  slapd.log            slapd's debug output (-d LEVEL, "stats" by default: every connection,
                       bind, search with its filter, and result; see log(), search_filters())
  slapd.pid, .args     written by slapd

The directory (suffix dc=ldap,dc=test, rootdn cn=admin,dc=ldap,dc=test / admin-secret):
  dc=ldap,dc=test
    ou=people      inetOrgPerson + petrelMailRecipient entries, uid=<local part>:
                     alice@ldap.test   uid alice,  alice-secret, displayName "Alice Smith",
                                       mailAlternateAddress a.smith@ldap.test, mailQuota 1000000
                     bob@ldap.test     uid bob,    bob-secret
                     nopass@ldap.test  uid nopass, no userPassword at all
                     star@ldap.test    uid star,   star-secret (for injection tests: a login of
                                       "*@ldap.test" or "star*" must not reach it by wildcard)
    ou=services    cn=petrel (applicationProcess + simpleSecurityObject), service-secret: the
                   account Petrel binds as to search
  Passwords are stored as {SSHA} hashes made by slappasswd.

Schema: core, cosine, inetorgperson, nis from /etc/ldap/schema, and petrel.schema:
  mailAlternateAddress  2.16.840.1.113730.3.1.13, IA5String, caseIgnoreIA5Match /
                        caseIgnoreIA5SubstringsMatch (the OID misc.schema gives mailLocalAddress:
                        never load both)
  mailQuota             1.3.6.1.4.1.32473.1.1.1, INTEGER, SINGLE-VALUE
  petrelMailRecipient   1.3.6.1.4.1.32473.1.2.1, AUXILIARY, MAY ( mailAlternateAddress $ mailQuota )
  (1.3.6.1.4.1.32473 is the enterprise number RFC 5612 reserves for documentation.)

Access control (the root DN bypasses it):
  userPassword   by anonymous auth, by self write, by * none: a simple bind works (a bind is
                 always evaluated as anonymous, a rebind too); only the entry itself can read
                 (write implies read) and change its hash, not the service account
  everything     by the service DN read, by self read, by * none: an anonymous search finds
                 no entry at all (not even the suffix)

Client tools (ldapsearch, ldapwhoami ... of ldap-utils) use libldap's configuration:
/etc/ldap/ldap.conf (Debian's sets TLS_CACERT to the system bundle, which does not hold this
CA) and LDAP* environment variables. client_env(ca=True) gives an environment with every LDAP*
variable of ours dropped and LDAPTLS_CACERT=ca_file, LDAPTLS_REQCERT=demand; ca=False leaves the
CA out (so certificate checks fail). LDAPNOINIT cannot isolate further: it also turns off the
LDAPTLS_* variables.

Lifecycle: start() prepares the directory on first use (certificates, configuration, slapadd;
about 0.3 s), then runs `slapd -f slapd.conf -h "ldap://127.0.0.1:P/ ldaps://127.0.0.1:Q/"
-d LEVEL` in the foreground as our child (with -d, slapd 2.5 never detaches, whatever the level;
-d 0 would also silence its error messages, hence "stats"), and waits until an ldapsearch bound as
the service DN answers. stop() ends it (SIGTERM, SIGKILL after a timeout) and waits until both
ports are closed; start() again runs it on the SAME ports with the same data (a directory that
goes away mid-test and comes back). pause()/resume() freeze it with SIGSTOP/SIGCONT: connections
are still accepted by the kernel but nothing is answered (a hanging directory, for timeouts).
close() stops it and removes its directory. Whatever is still running at exit is stopped
(outbound_peer_base: atexit, SIGTERM, the guard process).

Root or not: slapd runs as whoever starts it (no -u/-g): as root it reads the root-owned files it
was given, as a normal user its own; ports are above 1024 either way. Nothing of it needs the
openldap user.

Example:
    with SlapdInstance() as ldap:
        ... point Petrel at ldap.uri (StartTLS with ldap.ca_file) or ldap.ldaps_uri, bind DN
            ldap.service_dn / ldap.service_password, base ldap.people_dn ...
        ldap.search("(mail=alice@ldap.test)", ["mailQuota"])   # as the service DN
        ldap.set_password("bob@ldap.test", "new-secret")
        ldap.search_filters()   # the filters Petrel sent, as slapd logged them

Tools: /usr/sbin/slapd, slapadd, slappasswd (slapd), ldapsearch, ldapmodify (ldap-utils),
openssl; scripts/install-deps.sh test installs them. Standard library only.
"""

import base64
import os
import re
import shutil
import signal
import subprocess

from outbound_peer_base import (TIMEOUT, Peer, free_port, make_workdir, read_text, register,
                                tcp_listening, unregister, wait_until)

__all__ = ["SlapdInstance", "TIMEOUT"]

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SLAPPASSWD = "/usr/sbin/slappasswd"
LDAPSEARCH = "/usr/bin/ldapsearch"
LDAPMODIFY = "/usr/bin/ldapmodify"
OPENSSL = "/usr/bin/openssl"
PROBE_FILTER = "(!(description=petrel-peer-probe))"   # the start-up probe's, left out of search_filters()
SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"

PETREL_SCHEMA = """\
# Petrel's LDAP interop test schema (generated by ldap_peer.py).
attributetype ( 2.16.840.1.113730.3.1.13 NAME 'mailAlternateAddress'
    DESC 'another RFC 822 address of the entry'
    EQUALITY caseIgnoreIA5Match
    SUBSTR caseIgnoreIA5SubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )

attributetype ( 1.3.6.1.4.1.32473.1.1.1 NAME 'mailQuota'
    DESC 'mailbox quota in bytes'
    EQUALITY integerMatch
    ORDERING integerOrderingMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.27
    SINGLE-VALUE )

objectclass ( 1.3.6.1.4.1.32473.1.2.1 NAME 'petrelMailRecipient'
    DESC 'a mail recipient of Petrel'
    SUP top AUXILIARY
    MAY ( mailAlternateAddress $ mailQuota ) )
"""

SLAPD_CONF = """\
# Throwaway slapd for Petrel's LDAP interop tests (generated by ldap_peer.py).
include {schema_dir}/core.schema
include {schema_dir}/cosine.schema
include {schema_dir}/inetorgperson.schema
include {schema_dir}/nis.schema
include {workdir}/petrel.schema

pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args

modulepath {module_dir}
moduleload back_mdb

TLSCACertificateFile {workdir}/ca.pem
TLSCertificateFile {workdir}/server.pem
TLSCertificateKeyFile {workdir}/server.key

database mdb
maxsize 67108864
suffix "{base_dn}"
rootdn "{root_dn}"
rootpw {root_hash}
directory {workdir}/data
index objectClass eq
index mail,mailAlternateAddress,uid eq,sub

access to attrs=userPassword
    by anonymous auth
    by self write
    by * none

access to *
    by dn.exact="{service_dn}" read
    by self read
    by * none
"""


def _ldif_value(name, value):
    """One LDIF line; base64 (name:: ) for values LDIF cannot carry as they are."""
    text = str(value)
    if text == "" or text[0] in " :<" or text[-1] == " " or any(ord(c) < 32 or ord(c) > 126 for c in text):
        return "%s:: %s" % (name, base64.b64encode(text.encode()).decode())
    return "%s: %s" % (name, text)


def _ldap_escape_dn_value(value):
    """A value as an RDN value (RFC 4514) — enough for the plain uids used here."""
    out = ""
    for i, c in enumerate(value):
        if c in ',+"\\<>;=' or (c in " #" and i == 0) or (c == " " and i == len(value) - 1):
            out += "\\" + c
        else:
            out += c
    return out


class SlapdInstance(Peer):
    """See the module docstring.
        SlapdInstance(port=None, ldaps_port=None, log_level="stats", extra_people=())
    port, ldaps_port  None picks free ports on 127.0.0.1 (kept across stop()/start())
    log_level         slapd's -d level ("stats", "any", "0" ...; "0" logs not even errors)
    extra_people      more people entries, dicts with "mail", "uid", "password" (None: no
                      userPassword) and any more attributes {name: value or [values]}
    Attributes: uri, ldaps_uri, port, ldaps_port, address, ca_file, base_dn, people_dn,
    services_dn, service_dn, service_password, root_dn, root_password, users ({mail: password
    or None}), workdir, log_path.
    Methods: start(), stop(), close(), pause(), resume(), running(), user_dn(mail),
    client_env(ca), ldap_tool(...), search(...), modify(ldif), set_password(mail, password),
    log(), search_filters(), bind_dns().
    """

    address = "127.0.0.1"
    base_dn = "dc=ldap,dc=test"
    people_dn = "ou=people,dc=ldap,dc=test"
    services_dn = "ou=services,dc=ldap,dc=test"
    service_dn = "cn=petrel,ou=services,dc=ldap,dc=test"
    service_password = "service-secret"
    root_dn = "cn=admin,dc=ldap,dc=test"
    root_password = "admin-secret"

    PEOPLE = [
        {"mail": "alice@ldap.test", "uid": "alice", "password": "alice-secret", "cn": "Alice Smith",
         "sn": "Smith", "givenName": "Alice", "displayName": "Alice Smith",
         "mailAlternateAddress": "a.smith@ldap.test", "mailQuota": 1000000},
        {"mail": "bob@ldap.test", "uid": "bob", "password": "bob-secret", "cn": "Bob Jones", "sn": "Jones"},
        {"mail": "nopass@ldap.test", "uid": "nopass", "password": None, "cn": "No Password", "sn": "Password"},
        {"mail": "star@ldap.test", "uid": "star", "password": "star-secret", "cn": "Star Wildcard",
         "sn": "Wildcard"},
    ]

    def __init__(self, port=None, ldaps_port=None, log_level="stats", extra_people=()):
        self.port = port
        self.ldaps_port = ldaps_port
        self.log_level = str(log_level)
        self.people = [dict(p) for p in self.PEOPLE] + [dict(p) for p in extra_people]
        self.users = {p["mail"]: p.get("password") for p in self.people}
        self.workdir = make_workdir("slapd-")
        self.ca_file = os.path.join(self.workdir, "ca.pem")
        self.cert_file = os.path.join(self.workdir, "server.pem")
        self.key_file = os.path.join(self.workdir, "server.key")
        self.conf_path = os.path.join(self.workdir, "slapd.conf")
        self.ldif_path = os.path.join(self.workdir, "data.ldif")
        self.data_dir = os.path.join(self.workdir, "data")
        self.log_path = os.path.join(self.workdir, "slapd.log")
        self.pid_file = os.path.join(self.workdir, "slapd.pid")
        self.proc = None
        self.prepared = False
        self.paused = False

    def __repr__(self):
        return "SlapdInstance(%s:%s, %s)" % (self.address, self.port, self.ldaps_port)

    @property
    def uri(self):
        return "ldap://%s:%d" % (self.address, self.port)

    @property
    def ldaps_uri(self):
        return "ldaps://%s:%d" % (self.address, self.ldaps_port)

    def user_dn(self, mail):
        """The DN of the person with this mail address (KeyError if none)."""
        for person in self.people:
            if person["mail"] == mail:
                return "uid=%s,%s" % (_ldap_escape_dn_value(person["uid"]), self.people_dn)
        raise KeyError(mail)

    # --- preparation ---

    def _run(self, cmd, what, **kw):
        r = subprocess.run(cmd, capture_output=True, timeout=60, **kw)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s\n%s" % (what, r.returncode, " ".join(cmd),
                                                           (r.stdout + r.stderr).decode("utf-8", "replace")))
        return r.stdout.decode("utf-8", "replace")

    def hash_password(self, password):
        """An {SSHA} hash of password, made by slappasswd."""
        return self._run([SLAPPASSWD, "-n", "-h", "{SSHA}", "-s", password], "slappasswd").strip()

    def _make_certificates(self):
        w = self.workdir
        ca_key = os.path.join(w, "ca.key")
        csr = os.path.join(w, "server.csr")
        ext = os.path.join(w, "server.ext")
        self._run([OPENSSL, "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                   "-nodes", "-keyout", ca_key, "-out", self.ca_file, "-sha256", "-days", "30",
                   "-subj", "/O=Petrel interop tests/CN=Petrel LDAP test CA",
                   "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign"], "making the test CA")
        self._run([OPENSSL, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                   "-nodes", "-keyout", self.key_file, "-out", csr, "-subj", "/O=Petrel interop tests/CN=localhost"],
                  "making the server key")
        with open(ext, "w") as f:
            f.write("basicConstraints = critical,CA:FALSE\n"
                    "keyUsage = critical,digitalSignature,keyEncipherment,keyAgreement\n"
                    "extendedKeyUsage = serverAuth\n"
                    "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
                    "subjectKeyIdentifier = hash\n"
                    "authorityKeyIdentifier = keyid\n")
        self._run([OPENSSL, "x509", "-req", "-in", csr, "-CA", self.ca_file, "-CAkey", ca_key,
                   "-set_serial", "0x%s" % os.urandom(8).hex(), "-days", "30", "-sha256",
                   "-extfile", ext, "-out", self.cert_file], "signing the server certificate")
        for path in (ca_key, self.key_file):
            os.chmod(path, 0o600)
        os.chmod(self.ca_file, 0o644)
        os.chmod(self.cert_file, 0o644)

    def _entries(self):
        """The LDIF of the whole directory."""
        blocks = [
            ["dn: " + self.base_dn, "objectClass: dcObject", "objectClass: organization", "dc: ldap",
             "o: Petrel LDAP interop tests"],
            ["dn: " + self.people_dn, "objectClass: organizationalUnit", "ou: people"],
            ["dn: " + self.services_dn, "objectClass: organizationalUnit", "ou: services"],
            ["dn: " + self.service_dn, "objectClass: applicationProcess", "objectClass: simpleSecurityObject",
             "cn: petrel", "description: the account Petrel binds as",
             "userPassword: " + self.hash_password(self.service_password)],
        ]
        for person in self.people:
            lines = ["dn: " + self.user_dn(person["mail"]), "objectClass: inetOrgPerson",
                     "objectClass: petrelMailRecipient"]
            attrs = {"uid": person["uid"], "mail": person["mail"], "cn": person.get("cn", person["uid"]),
                     "sn": person.get("sn", person["uid"])}
            for name, value in person.items():
                if name not in ("password", "uid", "mail", "cn", "sn"):
                    attrs[name] = value
            for name, value in attrs.items():
                for v in (value if isinstance(value, (list, tuple)) else [value]):
                    lines.append(_ldif_value(name, v))
            if person.get("password") is not None:
                lines.append("userPassword: " + self.hash_password(person["password"]))
            blocks.append(lines)
        return "\n\n".join("\n".join(b) for b in blocks) + "\n"

    def _prepare(self):
        for tool in (SLAPD, SLAPADD, SLAPPASSWD, LDAPSEARCH, LDAPMODIFY, OPENSSL):
            if not os.access(tool, os.X_OK):
                raise RuntimeError("%s is missing (scripts/install-deps.sh test: slapd, ldap-utils, openssl)" % tool)
        self._make_certificates()
        with open(os.path.join(self.workdir, "petrel.schema"), "w") as f:
            f.write(PETREL_SCHEMA)
        with open(self.conf_path, "w") as f:
            f.write(SLAPD_CONF.format(schema_dir=SCHEMA_DIR, module_dir=MODULE_DIR, workdir=self.workdir,
                                      base_dn=self.base_dn, root_dn=self.root_dn,
                                      root_hash=self.hash_password(self.root_password),
                                      service_dn=self.service_dn))
        os.chmod(self.conf_path, 0o600)
        with open(self.ldif_path, "w") as f:
            f.write(self._entries())
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        self._run([SLAPADD, "-q", "-f", self.conf_path, "-l", self.ldif_path], "slapadd")
        self.prepared = True

    # --- lifecycle ---

    def command(self):
        return [SLAPD, "-f", self.conf_path, "-h", "%s/ %s/" % (self.uri, self.ldaps_uri), "-d", self.log_level]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=TIMEOUT):
        """Prepares the directory on first use, starts slapd and waits until it answers an
        ldapsearch bound as the service DN."""
        if self.proc is not None:
            return self
        if self.port is None or self.ldaps_port is None:
            taken = {self.port, self.ldaps_port}
            while self.port is None or self.ldaps_port is None:
                port = free_port([self.address])
                if port in taken:
                    continue
                taken.add(port)
                if self.port is None:
                    self.port = port
                else:
                    self.ldaps_port = port
        if not self.prepared:
            self._prepare()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.paused = False
        register(self, kill_pids=[self.proc.pid])
        try:
            wait_until(lambda: tcp_listening(self.address, self.port) and tcp_listening(self.address, self.ldaps_port),
                       timeout, "slapd listening on %s:%d and :%d" % (self.address, self.port, self.ldaps_port),
                       alive=lambda: self.proc.poll() is None, details=lambda: self.log()[-4000:])
            wait_until(self._answers, timeout, "slapd answering an ldapsearch on %s" % self.uri,
                       alive=lambda: self.proc.poll() is None, details=lambda: self.log()[-4000:])
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self):
        try:
            r = self.ldap_tool(LDAPSEARCH, "-b", self.base_dn, "-s", "base", PROBE_FILTER, "1.1",
                               bind_dn=self.service_dn, password=self.service_password, timeout=5)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    def stop(self, timeout=TIMEOUT):
        """Ends slapd (SIGTERM: it closes the database cleanly; SIGKILL after timeout) and
        waits until both ports are closed."""
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                if proc.poll() is None:
                    if self.paused:
                        proc.send_signal(signal.SIGCONT)
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout)
                self.paused = False
                wait_until(lambda: not tcp_listening(self.address, self.port)
                           and not tcp_listening(self.address, self.ldaps_port),
                           timeout, "slapd's ports %d and %d closed" % (self.port, self.ldaps_port))
            finally:
                unregister(self)

    def close(self):
        """Stops slapd and removes its directory (certificates, data, log)."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.prepared = False

    def pause(self):
        """SIGSTOP: slapd keeps its ports (the kernel still completes connections) but answers
        nothing until resume()."""
        if self.running() and not self.paused:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.running() and self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False

    # --- clients ---

    def client_env(self, ca=True, reqcert="demand"):
        """An environment for libldap clients (ldap-utils): no inherited LDAP* variables,
        LDAPTLS_REQCERT=reqcert, and LDAPTLS_CACERT=ca_file when ca is true."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LDAP")}
        env["LDAPTLS_REQCERT"] = reqcert
        if ca:
            env["LDAPTLS_CACERT"] = self.ca_file
        return env

    def ldap_tool(self, tool, *args, bind_dn=None, password=None, uri=None, starttls=False, ca=True,
                  env=None, input=None, timeout=10):
        """Runs an ldap-utils tool (a path or a name such as "ldapwhoami") with -x -H uri
        (default: the ldap:// one), -D/-w when bind_dn is given, -ZZ when starttls, and timeout
        seconds both to connect (-o nettimeout) and for each result (LDAPTIMEOUT); returns the
        CompletedProcess (text). env: the environment (default client_env(ca))."""
        if os.sep not in tool:
            tool = os.path.join("/usr/bin", tool)
        cmd = [tool, "-x", "-H", uri or self.uri, "-o", "nettimeout=%d" % max(1, int(timeout))]
        if bind_dn is not None:
            cmd += ["-D", bind_dn, "-w", password if password is not None else ""]
        if starttls:
            cmd.append("-ZZ")
        cmd += list(args)
        env = dict(env if env is not None else self.client_env(ca=ca))
        env.setdefault("LDAPTIMEOUT", str(max(1, int(timeout))))   # libldap's wait for each result
        return subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout + 5, env=env)

    def search(self, filter="(objectClass=*)", attrs=(), base=None, scope="sub", bind_dn=None, password=None,
               uri=None, starttls=False, ca=True, check=True):
        """ldapsearch, bound as the service DN unless bind_dn is given ("" for anonymous);
        returns [(dn, {attribute: [values]})] in slapd's order. check: raise RuntimeError on
        a nonzero exit (32 "No such object" is an empty result, not an error)."""
        if bind_dn is None:
            bind_dn, password = self.service_dn, self.service_password
        r = self.ldap_tool(LDAPSEARCH, "-LLL", "-o", "ldif-wrap=no", "-b", self.base_dn if base is None else base, "-s", scope,
                           filter, *attrs, bind_dn=bind_dn or None, password=password, uri=uri,
                           starttls=starttls, ca=ca)
        if check and r.returncode not in (0, 32):
            raise RuntimeError("ldapsearch %s failed (%d): %s" % (filter, r.returncode, r.stderr))
        return self.parse_ldif(r.stdout)

    @staticmethod
    def parse_ldif(text):
        """[(dn, {attribute: [values]})] from unwrapped LDIF (ldapsearch -LLL -o ldif-wrap=no);
        base64 values (name:: ) are decoded (as UTF-8 where possible, else kept as bytes)."""
        entries = []
        for block in re.split(r"\n\s*\n", text.strip()):
            dn, attrs = None, {}
            for line in block.splitlines():
                if not line or line.startswith("#"):
                    continue
                name, _, value = line.partition(":")
                if value.startswith(":"):
                    raw = base64.b64decode(value[1:].strip())
                    try:
                        value = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        value = raw
                else:
                    value = value[1:] if value.startswith(" ") else value
                if name.lower() == "dn":
                    dn = value
                else:
                    attrs.setdefault(name, []).append(value)
            if dn is not None:
                entries.append((dn, attrs))
        return entries

    def modify(self, ldif):
        """Applies LDIF change records with ldapmodify, bound as the root DN (no ACL applies)."""
        r = self.ldap_tool(LDAPMODIFY, bind_dn=self.root_dn, password=self.root_password, input=ldif)
        if r.returncode != 0:
            raise RuntimeError("ldapmodify failed (%d): %s\n%s" % (r.returncode, r.stderr, ldif))
        return r.stdout

    def set_password(self, mail, password):
        """Replaces the person's userPassword with an {SSHA} hash of password (None removes it);
        users is updated."""
        dn = self.user_dn(mail)
        if password is None:
            change = "dn: %s\nchangetype: modify\ndelete: userPassword\n" % dn
            if self.users.get(mail) is None:
                change = None
        else:
            change = "dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: %s\n" % (
                dn, self.hash_password(password))
        if change:
            self.modify(change)
        self.users[mail] = password
        for person in self.people:
            if person["mail"] == mail:
                person["password"] = password

    # --- what it saw ---

    def log(self):
        """slapd's debug output so far (all runs of this instance)."""
        return read_text(self.log_path)

    def search_filters(self):
        """Every search filter slapd received, in order, as it logs them (-d stats): the
        normalized string form, e.g. "(mail=alice@ldap.test)", with an escaped "*" shown as
        \\2A. The start-up probes' searches are left out."""
        found = re.findall(r' SRCH base="[^"]*" scope=\d+ deref=\d+ filter="(.*)"$', self.log(), re.M)
        return [f for f in found if f != PROBE_FILTER]

    def bind_dns(self):
        """The DN of every simple bind slapd received, in order ("" for anonymous)."""
        return re.findall(r' BIND dn="(.*)" method=128$', self.log(), re.M)
