"""SaslauthdInstance: a private, throwaway Cyrus saslauthd (Debian 12: sasl2-bin 2.1.28) for the
SASL interop tests, checking passwords with its `rimap` mechanism against an IMAP server on
127.0.0.1 (usually ImapLoginServer, below). It never contacts anything else, and never touches
the system's saslauthd (/var/run/saslauthd, /etc/default/saslauthd, the service).

saslauthd runs in the foreground as our child:
    /usr/sbin/saslauthd -d -a rimap -O 127.0.0.1/PORT -m WORKDIR -n THREADS [-r]
  -d        no detaching; its log (every request and its outcome, with the reason of a failure)
            goes to stderr, kept in WORKDIR/saslauthd.log (log()); -d also implies -V
  -O        rimap's option is "host" or "host/port": the part after the slash is a port number
            or a service name (getaddrinfo; without it, the "imap" service, port 143). This is
            `man saslauthd`, checked against auth_rimap.c of 2.1.28.
  -m        its run directory, holding mux (the socket clients connect to: mux_path),
            mux.accept (the accept lock) and saslauthd.pid.lock; saslauthd removes them at exit
  -n        worker processes (the master serves too); they share its process group
  -r        (concat_realm=True, the default) put the realm back on the login: "alice" with
            realm "ldap.test" reaches the IMAP server as "alice@ldap.test" (see below)
No credential cache (-c is not given): a changed password counts at once.

What rimap does per request (auth_rimap.c, 2.1.28): connects, reads the greeting (it must start
"* OK"; "* NO"/"* BYE" mean unavailable), sends
    saslauthd LOGIN "<login>" "<password>"
(both quoted, with \\ and " escaped by a backslash: no literals, so a CR or LF in either is sent
raw), reads until a line tagged "saslauthd" ("saslauthd OK" = success, "saslauthd NO" =
rejected; untagged "* CAPABILITY" lines may come first, any other untagged line or "BAD" makes
it "Unexpected response"), then sends "saslauthd LOGOUT" and closes without waiting.

What a libsasl2 server application (Petrel) needs to use it: the options, in its SASL config
file (<app>.conf in its sasl config path) or from its SASL_CB_GETOPT callback:
    pwcheck_method: saslauthd
    saslauthd_path: <mux_path>          the socket FILE itself (WORKDIR/mux), not -m's directory
    mech_list: PLAIN LOGIN
Only the plaintext mechanisms can work: saslauthd checks a password, it has no secrets for
CRAM-MD5, DIGEST-MD5 or SCRAM, which must stay out of mech_list. The PLAIN and LOGIN plugins
are in libsasl2-modules (Recommends of libsasl2-2, so not pulled in by --no-install-recommends;
scripts/install-deps.sh test installs it).
Realms: libsasl2 (lib/checkpw.c, saslauthd_verify_password) splits the authentication id at its
LAST "@" and sends login and realm separately ("alice@ldap.test" -> login "alice", realm
"ldap.test"); an id without "@" goes with the application's user_realm (sasl_server_new),
possibly empty. saslauthd without -r hands rimap the login alone ("alice"); with -r it hands
"login@realm" when the realm is not empty. testsaslauthd -u alice@ldap.test (no -r) sends the
whole address as the login with an empty realm, which reaches rimap unchanged either way.

ImapLoginServer(users): a tiny threaded IMAP server on 127.0.0.1 for rimap to ask: greeting
"* OK", CAPABILITY, LOGIN (OK for a listed user/password pair, else NO), NOOP, LOGOUT; every
LOGIN is recorded (logins()).

Example:
    with ImapLoginServer({"alice@ldap.test": "alice-secret"}) as imap, \\
            SaslauthdInstance(imap.port) as sasl:
        ... Petrel with pwcheck_method saslauthd, saslauthd_path sasl.mux_path ...
        sasl.check("alice@ldap.test", "alice-secret")   # testsaslauthd: (True, '0: OK "Success."')
        imap.logins()                                   # [("alice@ldap.test", "alice-secret", True)]

Tools: /usr/sbin/saslauthd, /usr/sbin/testsaslauthd (sasl2-bin); scripts/install-deps.sh test
installs them. Root or not: saslauthd needs no privilege for rimap and runs as whoever starts
it. Standard library only; Linux only (/proc/net/unix).
"""

import os
import re
import shutil
import signal
import socketserver
import subprocess
import threading

from outbound_peer_base import (TIMEOUT, Peer, check_loopback, free_port, make_workdir,
                                process_group_members, read_text, register, unregister, wait_until)

__all__ = ["SaslauthdInstance", "ImapLoginServer", "TIMEOUT"]

SASLAUTHD = "/usr/sbin/saslauthd"
TESTSASLAUTHD = "/usr/sbin/testsaslauthd"
SUN_PATH_MAX = 107   # sizeof(sockaddr_un.sun_path) - 1 on Linux


def unix_listening(path):
    """Whether a listening Unix socket is bound to path (read from /proc/net/unix: no
    connection is made, so saslauthd sees no stray request)."""
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                fields = line.split()
                # Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = __SO_ACCEPTCON
                if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                    return True
    except OSError:
        pass
    return False


class SaslauthdInstance(Peer):
    """See the module docstring.
        SaslauthdInstance(imap_port, imap_host="127.0.0.1", concat_realm=True, threads=2,
                          service="imap")
    imap_port, imap_host  where rimap sends its LOGIN (127.0.0.0/8 only)
    concat_realm          -r: "login@realm" reaches the IMAP server
    threads               -n: worker processes
    service               the default service name check() sends (rimap ignores it)
    Attributes: mux_path (the socket file: saslauthd_path), run_dir (-m), workdir, log_path,
    imap_host, imap_port, proc.
    Methods: start(), stop(), close(), running(), sasl_options(), check(user, password,
    realm=None, service=None), log(), auth_results(), command().
    """

    def __init__(self, imap_port, imap_host="127.0.0.1", concat_realm=True, threads=2, service="imap"):
        self.imap_host = check_loopback(imap_host)
        self.imap_port = int(imap_port)
        self.concat_realm = concat_realm
        self.threads = int(threads)
        self.service = service
        self.workdir = make_workdir("saslauthd-")
        self.run_dir = os.path.join(self.workdir, "run")
        self.mux_path = os.path.join(self.run_dir, "mux")
        self.log_path = os.path.join(self.workdir, "saslauthd.log")
        if len(self.mux_path) > SUN_PATH_MAX:
            raise RuntimeError("the socket path %s is too long for a Unix socket: set a shorter TMPDIR"
                               % self.mux_path)
        self.proc = None

    def __repr__(self):
        return "SaslauthdInstance(rimap %s/%d, %s)" % (self.imap_host, self.imap_port, self.mux_path)

    def command(self):
        cmd = [SASLAUTHD, "-d", "-a", "rimap", "-O", "%s/%d" % (self.imap_host, self.imap_port),
               "-m", self.run_dir, "-n", str(self.threads)]
        if self.concat_realm:
            cmd.append("-r")
        return cmd

    def sasl_options(self):
        """The libsasl2 options a server application needs to check passwords here."""
        return {"pwcheck_method": "saslauthd", "saslauthd_path": self.mux_path, "mech_list": "PLAIN LOGIN"}

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=TIMEOUT):
        """Starts saslauthd and waits until its socket listens."""
        if self.proc is not None:
            return self
        for tool in (SASLAUTHD, TESTSASLAUTHD):
            if not os.access(tool, os.X_OK):
                raise RuntimeError("%s is missing (scripts/install-deps.sh test: sasl2-bin)" % tool)
        os.makedirs(self.run_dir, mode=0o755, exist_ok=True)
        os.chmod(self.run_dir, 0o755)   # clients of another user must reach mux
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        # Its own session: the master and its workers form the process group led by its pid.
        register(self, commands=["kill -9 -%d 2>/dev/null" % self.proc.pid])   # dash: no "--"
        try:
            wait_until(lambda: unix_listening(self.mux_path), timeout, "saslauthd listening on %s" % self.mux_path,
                       alive=lambda: self.proc.poll() is None, details=self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout=TIMEOUT):
        """SIGTERM to saslauthd's process group (the master removes its socket and lock files
        and ends its workers), SIGKILL to whatever is left after timeout; waits for them all."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            pgid = proc.pid
            if proc.poll() is None:
                try:
                    os.killpg(pgid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            try:
                wait_until(lambda: not process_group_members(pgid), timeout,
                           "saslauthd's processes (group %d) exiting" % pgid)
            except RuntimeError:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout)
                wait_until(lambda: not process_group_members(pgid), timeout,
                           "saslauthd's processes (group %d) killed" % pgid)
            proc.wait(timeout)
        finally:
            unregister(self)

    def close(self):
        """Stops saslauthd and removes its directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def check(self, user, password, realm=None, service=None, timeout=TIMEOUT):
        """Asks saslauthd with testsaslauthd; returns (accepted, its output line), e.g.
        (True, '0: OK "Success."') or (False, '0: NO "authentication failed"')."""
        cmd = [TESTSASLAUTHD, "-u", user, "-p", password, "-f", self.mux_path, "-s", service or self.service]
        if realm is not None:
            cmd += ["-r", realm]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        output = (r.stdout + r.stderr).strip()
        return r.returncode == 0 and output.startswith("0: OK"), output

    def log(self):
        """saslauthd's output (-d): start-up, and one line per request, e.g.
        "auth success: [user=alice@ldap.test] [service=imap] [realm=ldap.test] [mech=rimap]" or
        "auth failure: [user=...] [service=...] [realm=...] [mech=rimap] [reason=...]", where
        user is the login as handed to rimap (with -r, login@realm)."""
        return read_text(self.log_path)

    def auth_results(self):
        """(accepted, user, realm, reason) of every request so far, from log(); reason is ""
        for a success, e.g. "remote server rejected your credentials" for a failure."""
        results = []
        for m in re.finditer(r"auth (success|failure): \[user=(.*?)\] \[service=.*?\] \[realm=(.*?)\] "
                             r"\[mech=\w+\](?: \[reason=(.*)\])?$", self.log(), re.M):
            results.append((m.group(1) == "success", m.group(2), m.group(3), m.group(4) or ""))
        return results


# --- a tiny IMAP server for rimap --------------------------------------------------------------

def _imap_args(text):
    """The arguments of an IMAP command line: atoms and quoted strings (with \\ escapes);
    None when it holds anything else (a literal, an unterminated string)."""
    args, i = [], 0
    while i < len(text):
        c = text[i]
        if c == " ":
            i += 1
        elif c == '"':
            value, i = "", i + 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                value += text[i]
                i += 1
            if i >= len(text):
                return None
            args.append(value)
            i += 1
        elif c in "{(":
            return None
        else:
            end = text.find(" ", i)
            end = len(text) if end < 0 else end
            args.append(text[i:end])
            i = end
    return args


class ImapLoginServer(Peer):
    """A minimal IMAP4rev1 server on address:port (127.0.0.x only) that only knows how to log
    in, for saslauthd's rimap (and nothing else) to ask. Threaded: one thread per connection.
        users       {login: password}: LOGIN answers "<tag> OK LOGIN completed" for a listed
                    pair (exact, case-sensitive), else "<tag> NO [AUTHENTICATIONFAILED] ..."
        greeting    the first line (default "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready");
                    "* BYE ..." or "* NO ..." make rimap report the server unavailable
        untagged_capability  also send "* CAPABILITY ..." before the tagged LOGIN reply (as
                    some servers do; rimap accepts it)
        delay       seconds to wait before each LOGIN reply
    Commands: CAPABILITY, NOOP, LOGIN user pass (atoms or quoted strings), LOGOUT; anything
    else gets "<tag> BAD". logins() lists (user, password, accepted) of every LOGIN, in order;
    users can be changed while it runs (set_password()).
    """

    CAPABILITY = "IMAP4rev1 AUTH=PLAIN"

    def __init__(self, users, address="127.0.0.1", port=None, greeting=None, untagged_capability=False,
                 delay=0):
        self.address = check_loopback(address)
        self.port = port
        self.users = dict(users)
        self.greeting = greeting or "* OK [CAPABILITY %s] Petrel test IMAP login server ready" % self.CAPABILITY
        self.untagged_capability = untagged_capability
        self.delay = delay
        self.lock = threading.Lock()
        self._logins = []
        self.server = None
        self.thread = None

    def __repr__(self):
        return "ImapLoginServer(%s:%s)" % (self.address, self.port)

    def set_password(self, user, password):
        """password None removes the user."""
        with self.lock:
            if password is None:
                self.users.pop(user, None)
            else:
                self.users[user] = password

    def logins(self):
        with self.lock:
            return list(self._logins)

    def _check(self, user, password):
        with self.lock:
            accepted = user in self.users and self.users[user] == password
            self._logins.append((user, password, accepted))
        return accepted

    def start(self, timeout=TIMEOUT):
        if self.server is not None:
            return self
        if self.port is None:
            self.port = free_port([self.address])
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 60

            def send(self, line):
                self.wfile.write(line.encode("utf-8", "surrogateescape") + b"\r\n")
                self.wfile.flush()

            def handle(self):
                try:
                    self.serve()
                except OSError:   # the client went away (rimap closes right after LOGOUT)
                    pass

            def serve(self):
                self.send(peer.greeting)
                if not peer.greeting.startswith("* OK"):
                    return
                while True:
                    raw = self.rfile.readline(65536)
                    if not raw:
                        return
                    line = raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
                    tag, _, rest = line.partition(" ")
                    command, _, arguments = rest.partition(" ")
                    command = command.upper()
                    if not tag or not command:
                        self.send("* BAD empty command")
                    elif command == "CAPABILITY":
                        self.send("* CAPABILITY " + peer.CAPABILITY)
                        self.send(tag + " OK CAPABILITY completed")
                    elif command == "NOOP":
                        self.send(tag + " OK NOOP completed")
                    elif command == "LOGOUT":
                        self.send("* BYE logging out")
                        self.send(tag + " OK LOGOUT completed")
                        return
                    elif command == "LOGIN":
                        args = _imap_args(arguments)
                        if args is None or len(args) != 2:
                            self.send(tag + " BAD LOGIN takes a user name and a password")
                            continue
                        accepted = peer._check(args[0], args[1])
                        if peer.delay:
                            threading.Event().wait(peer.delay)
                        if peer.untagged_capability:
                            self.send("* CAPABILITY " + peer.CAPABILITY)
                        if accepted:
                            self.send(tag + " OK LOGIN completed")
                        else:
                            self.send(tag + " NO [AUTHENTICATIONFAILED] Invalid credentials")
                    else:
                        self.send(tag + " BAD unknown command")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((self.address, self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=repr(self), daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout=TIMEOUT):
        server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self.thread.join(timeout)
