"""A throwaway Dovecot on 127.0.0.1, the reference server the IMAP/POP3 client harness is
checked against (reference_dovecot_check.py). Not part of `make test`; needs root and
Debian's dovecot-imapd and dovecot-pop3d, which scripts/install-deps.sh does NOT install
(`apt-get install dovecot-imapd dovecot-pop3d` with a policy-rc.d that denies starting services,
then `systemctl disable dovecot` / `update-rc.d dovecot disable`: the system instance must not
run on the standard ports).

ReferenceDovecot(workdir) writes everything into workdir (0755, so that Dovecot's unprivileged
processes can reach it):
  dovecot.conf     its own configuration (no /etc/dovecot include): instance_name, base_dir
                   run/, state_dir state/, log dovecot.log; listen 127.0.0.1 only, on four free
                   high ports: IMAP (STARTTLS), IMAPS, POP3 (STLS), POP3S; ssl = yes with a
                   self-signed leaf certificate (CN mx.test, CA:FALSE) made by openssl;
                   plaintext auth allowed; users in passwd.d/<user> (a passwd-file each, PLAIN
                   scheme; see add_account); static userdb: every user is uid/gid nobody with
                   home home/<user>, mail in ~/Maildir (Maildir++, separator "/").
  rawlogs          post-login traffic of every session, per user in home/<user>/rawlog/ (the
                   rawlog_dir setting, written as the user), and pre-login traffic of plaintext
                   connections in run/login/rawlogs (login processes run with -R; TLS sessions
                   are not decrypted there).
Dovecot runs in the foreground (`dovecot -F -c dovecot.conf`) as a child of this process; stop()
(also run at exit) ends it by its pid and waits until its ports are closed.
"""

import atexit
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import imap_pop3_clients as clients

MAIL_USER = "nobody"        # the owner of every mailbox (Dovecot refuses uid 0 for mail)
LOGIN_USER = "dovenull"     # Debian's users for the login and internal processes
INTERNAL_USER = "dovecot"
DOMAIN = "example.test"

_running = []


def _stop_all():
    for server in list(_running):
        server.stop()


atexit.register(_stop_all)


def _die_with_parent():
    """In the child before exec: Linux sends it SIGTERM when this process dies, however it
    dies (even SIGKILL), so no Dovecot outlives the run."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _exit_on_sigterm():
    """SIGTERM (e.g. from `timeout`) ends the run through SystemExit, so atexit stops Dovecot."""
    import threading
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _free_ports(count):
    """count distinct free TCP ports on 127.0.0.1 (bound together, then released)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((clients.HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class ReferenceDovecot:
    def __init__(self, workdir=None, tls_name="mx.test", imap_capability=None):
        """imap_capability: Dovecot's imap_capability setting, the CAPABILITY list it announces
        (e.g. "IMAP4rev1 IDLE" to see which clients still work without UIDPLUS, LITERAL+ ...);
        None keeps Dovecot's full list."""
        if os.geteuid() != 0:
            raise RuntimeError("the reference Dovecot runs as root (it switches to %s/%s/%s)"
                               % (MAIL_USER, LOGIN_USER, INTERNAL_USER))
        for tool in ("dovecot", "openssl"):
            if shutil.which(tool) is None:
                raise RuntimeError("%s is not installed (apt-get install dovecot-imapd dovecot-pop3d openssl)" % tool)
        self.workdir = workdir or tempfile.mkdtemp(prefix="petrel-dovecot-")
        os.makedirs(self.workdir, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        self.tls_name = tls_name
        self.imap_capability = imap_capability
        self.mail_uid = pwd.getpwnam(MAIL_USER).pw_uid
        self.mail_gid = pwd.getpwnam(MAIL_USER).pw_gid
        self.config = os.path.join(self.workdir, "dovecot.conf")
        self.passwd = os.path.join(self.workdir, "passwd.d")
        self.log_path = os.path.join(self.workdir, "dovecot.log")
        self.base_dir = os.path.join(self.workdir, "run")
        self.homes = os.path.join(self.workdir, "home")
        self.cert = os.path.join(self.workdir, "cert.pem")
        self.key = os.path.join(self.workdir, "key.pem")
        self.process = None
        self.server = None
        self._accounts = 0

    # --- lifecycle ---

    def start(self):
        _exit_on_sigterm()
        os.makedirs(self.homes, exist_ok=True)
        os.chmod(self.homes, 0o755)
        os.makedirs(self.passwd, exist_ok=True)
        os.chown(self.passwd, 0, grp.getgrnam(INTERNAL_USER).gr_gid)
        os.chmod(self.passwd, 0o750)
        if not os.path.exists(self.cert):
            # A leaf certificate (CA:FALSE): mbsync accepts a pinned self-signed certificate
            # only then (see imap_client_tools).
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
                            "-subj", "/CN=" + self.tls_name, "-addext", "basicConstraints=critical,CA:FALSE",
                            "-keyout", self.key, "-out", self.cert],
                           check=True, capture_output=True, timeout=60)
            os.chmod(self.key, 0o600)
        last_error = None
        for _ in range(3):  # a port taken between choosing and binding: choose again
            ports = _free_ports(4)
            self._write_config(*ports)
            try:
                self._launch()
            except RuntimeError as e:
                last_error = e
                if "Address already in use" in str(e):
                    continue
                raise
            self.server = clients.Server(imap=ports[0], imaps=ports[1], pop3=ports[2], pop3s=ports[3],
                                         cafile=self.cert, tls_name=self.tls_name)
            return self.server
        raise last_error

    def _write_config(self, imap, imaps, pop3, pop3s):
        text = """# Reference Dovecot for the Petrel IMAP/POP3 interop harness (generated).
instance_name = petrel-reference-{pid}
protocols = imap pop3
listen = 127.0.0.1
base_dir = {base}
state_dir = {work}/state
log_path = {log}
info_log_path = {log}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu
default_login_user = {login}
default_internal_user = {internal}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={homes}/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
rawlog_dir = %h/rawlog
{capability}
service imap-login {{
  executable = imap-login -R rawlogs
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  executable = pop3-login -R rawlogs
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
""".format(pid=os.getpid(), base=self.base_dir, work=self.workdir, log=self.log_path, cert=self.cert,
           key=self.key, login=LOGIN_USER, internal=INTERNAL_USER, passwd=self.passwd,
           uid=self.mail_uid, gid=self.mail_gid, homes=self.homes, imap=imap, imaps=imaps,
           pop3=pop3, pop3s=pop3s,
           capability="imap_capability = %s" % self.imap_capability if self.imap_capability else "")
        with open(self.config, "w") as f:
            f.write(text)

    def _launch(self):
        log_start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        output = open(os.path.join(self.workdir, "dovecot.out"), "ab")
        self.process = subprocess.Popen(["dovecot", "-F", "-c", self.config], stdin=subprocess.DEVNULL,
                                        stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=_die_with_parent)
        output.close()
        _running.append(self)
        ports = re.findall(r"port = (\d+)", open(self.config).read())
        deadline = time.monotonic() + 30
        waiting = [int(p) for p in ports if p != "0"]
        while waiting:
            if self.process.poll() is not None:
                status = self.process.returncode
                self.process = None
                _running.remove(self)
                raise RuntimeError("dovecot exited with status %s:\n%s" % (status, self.log(log_start)))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("dovecot did not listen within 30 s:\n" + self.log(log_start))
            try:
                socket.create_connection((clients.HOST, waiting[0]), 1).close()
                waiting.pop(0)
            except OSError:
                time.sleep(0.1)
        # Pre-login rawlog directory, inside the login processes' chroot (created at startup).
        rawlogs = os.path.join(self.base_dir, "login", "rawlogs")
        os.makedirs(rawlogs, exist_ok=True)
        os.chown(rawlogs, pwd.getpwnam(LOGIN_USER).pw_uid, -1)
        os.chmod(rawlogs, 0o700)

    def stop(self):
        """Ends this Dovecot (SIGTERM to its master, SIGKILL after 15 s) and waits for it."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if self in _running:
            _running.remove(self)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        # Its children (login, imap, pop3, auth ...) leave with the master; wait for the ports.
        if self.server:
            deadline = time.monotonic() + 10
            for port in (self.server.imap, self.server.imaps, self.server.pop3, self.server.pop3s):
                while time.monotonic() < deadline:
                    try:
                        socket.create_connection((clients.HOST, port), 0.5).close()
                        time.sleep(0.1)
                    except OSError:
                        break

    def log(self, start=0):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                f.seek(start)
                return f.read()
        except OSError:
            return "(no log)"

    def remove(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- accounts and mail ---

    def add_account(self, name=None, password=None):
        """A new user with an empty mailbox (its home and rawlog directory made, owned by the
        mail user) and a passwd-file of its own."""
        self._accounts += 1
        if name is None:
            name = "user%d-%d" % (self._accounts, os.getpid())
        user = ("%s@%s" % (name, DOMAIN)).lower()
        password = password or "secret-%d-pw" % self._accounts
        if ":" in user or ":" in password or "\n" in password:
            raise ValueError("passwd-file fields cannot hold ':' or newlines")
        # One passwd-file per user: Dovecot rereads a changed passwd-file at most once a
        # second, so a user appended to a shared file can be missed by an immediate login.
        path = os.path.join(self.passwd, user)
        with open(path, "w", encoding="utf-8") as f:
            f.write("%s:{PLAIN}%s::::::\n" % (user, password))
        os.chown(path, 0, grp.getgrnam(INTERNAL_USER).gr_gid)
        os.chmod(path, 0o640)
        home = self.home(user)
        for directory in (home, os.path.join(home, "rawlog")):
            os.makedirs(directory, exist_ok=True)
            os.chown(directory, self.mail_uid, self.mail_gid)
            os.chmod(directory, 0o700)
        return clients.Account(user, password)

    def home(self, user):
        return os.path.join(self.homes, user)

    def mailbox_path(self, user, mailbox="INBOX"):
        root = os.path.join(self.home(user), "Maildir")
        if mailbox.upper() == "INBOX":
            return root
        return os.path.join(root, "." + mailbox.replace("/", "."))

    def deliver(self, account, data, mailbox="INBOX", flags=""):
        """Puts a message straight into the user's Maildir (as an LDA would: tmp/ then new/, or
        cur/ with flags), owned by the mail user. Dovecot assigns its UID on the next look."""
        folder = self.mailbox_path(account.user, mailbox)
        home = self.home(account.user)
        made = []
        for directory in (os.path.join(home, "Maildir"), folder):
            for sub in ("", "tmp", "new", "cur"):
                path = os.path.join(directory, sub)
                if not os.path.isdir(path):
                    os.makedirs(path)
                    made.append(path)
        if folder != os.path.join(home, "Maildir"):
            marker = os.path.join(folder, "maildirfolder")
            if not os.path.exists(marker):
                open(marker, "w").close()
                made.append(marker)
        for path in made:
            os.chown(path, self.mail_uid, self.mail_gid)
        path = clients.maildir_add(folder, data, flags)
        os.chown(path, self.mail_uid, self.mail_gid)
        return path

    def stored_messages(self, account, mailbox="INBOX"):
        """The messages in the user's Maildir on disk (the server side's own view)."""
        return clients.maildir_messages(self.mailbox_path(account.user, mailbox))

    # --- what clients sent ---

    def rawlog_commands(self, account):
        """Every line the user's sessions sent after login (IMAP lines keep their tags; literal
        data is skipped), in session order, from Dovecot's rawlog .in files."""
        directory = os.path.join(self.home(account.user), "rawlog")
        if not os.path.isdir(directory):
            return []
        commands = []
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".in"):
                continue
            with open(os.path.join(directory, name), "rb") as f:
                data = f.read()
            literal = 0
            for raw in data.split(b"\n"):
                line = re.sub(rb"^\d+\.\d+ ", b"", raw)
                if literal > 0:
                    literal -= len(line) + 1
                    continue
                text = line.rstrip(b"\r").decode("utf-8", "replace")
                if not text:
                    continue
                commands.append(text)
                match = re.search(r"\{(\d+)\+?\}$", text)
                if match:
                    literal = int(match.group(1))
        return commands
