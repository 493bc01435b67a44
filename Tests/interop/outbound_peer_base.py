"""What the outbound-delivery test peers (outbound_peers.py, outbound_postfix.py) share: loopback
checks, free ports, waiting for a listening socket, temporary directories, and the clean-up that
runs however the test process ends.

Every peer's temporary directory is made inside one directory of the run, petrel-peers-XXXX
under $TMPDIR (0755: the peers' unprivileged users must reach into it).

Clean-up, in three layers:
  - stop() on each peer (tests call it, or use the peer as a context manager);
  - an atexit handler stops every peer still running and removes the run's directory (kept
    when PETREL_INTEROP_KEEP=1); SIGTERM is turned into SystemExit so that it runs then too;
  - a guard: a small `sh` in its own session, started with the run's directory, that waits for
    end-of-file on a pipe only this process holds. If this process dies without running
    atexit (SIGKILL, a crash), the pipe closes and the guard runs the run directory's
    cleanup.sh (which this process keeps up to date with the commands that end the peers
    running at that moment: kill the pid, `postfix stop` ...), then removes the directory.
    A child's PR_SET_PDEATHSIG would not do: Linux clears it when dnsmasq or smtp-sink switch
    to the unprivileged user, and Postfix's master is not our child at all.
Standard library only; Linux only (/proc).
"""

import atexit
import ipaddress
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 20  # seconds: the default for any wait of a peer


def keep():
    return os.environ.get("PETREL_INTEROP_KEEP") == "1"


def is_root():
    return os.geteuid() == 0


def check_loopback(address):
    """The address as a string; raises ValueError unless it is an IPv4 loopback address
    (127.0.0.0/8): no peer ever listens anywhere else."""
    ip = ipaddress.ip_address(address)
    if ip.version != 4 or not ip.is_loopback:
        raise ValueError("test peers listen on 127.0.0.0/8 only, not %s" % address)
    return str(ip)


def free_port(addresses=("127.0.0.1",), udp=False, tries=100):
    """A TCP port number free on every one of addresses at once (and for UDP too when udp is
    true), found by binding them all, then released. Several peers on 127.0.0.2, 127.0.0.3 ...
    can then listen on this one port, as Petrel's client connects to every MX on one port.
    Like any port found free beforehand, it can be taken by someone else before the peer
    binds it: the peer then fails to start, loudly."""
    addresses = [check_loopback(a) for a in addresses]
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp else [])
    for _ in range(tries):
        sockets = []
        try:
            first = socket.socket(socket.AF_INET, kinds[0])
            sockets.append(first)
            first.bind((addresses[0], 0))
            port = first.getsockname()[1]
            for kind in kinds:
                for address in addresses:
                    if kind == kinds[0] and address == addresses[0]:
                        continue
                    s = socket.socket(socket.AF_INET, kind)
                    sockets.append(s)
                    s.bind((address, port))
            return port
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no port free on all of %s after %d tries" % (", ".join(addresses), tries))


def _proc_net_entries(name):
    """(local address, local port, state) of each socket in /proc/net/<name> (tcp or udp)."""
    entries = []
    try:
        with open("/proc/net/" + name) as f:
            next(f)
            for line in f:
                fields = line.split()
                host, port = fields[1].split(":")
                address = socket.inet_ntoa(struct.pack("=I", int(host, 16)))
                entries.append((address, int(port, 16), fields[3]))
    except OSError:
        pass
    return entries


def tcp_listening(address, port):
    """Whether some socket listens on address:port (read from /proc/net/tcp: no connection is
    made, so the peer sees no stray session)."""
    return any(a in (address, "0.0.0.0") and p == port and state == "0A"
               for a, p, state in _proc_net_entries("tcp"))


def wait_until(condition, timeout, what, alive=None, details=lambda: ""):
    """Polls condition() every 20 ms until it is true; raises RuntimeError with details() when
    timeout seconds pass first, or as soon as alive() turns false."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if alive is not None and not alive():
            raise RuntimeError("%s: the process exited first\n%s" % (what, details()))
        if time.monotonic() > deadline:
            raise RuntimeError("%s: not within %s s\n%s" % (what, timeout, details()))
        time.sleep(0.02)


def process_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def process_group_members(pgid):
    """The pids of the live (not zombie) processes in process group pgid."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(name))
    return members


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def make_workdir(prefix):
    """A new temporary directory (0755) inside the run's directory."""
    path = tempfile.mkdtemp(prefix=prefix, dir=_run_dir())
    os.chmod(path, 0o755)
    return path


def chown_to(path, user):
    """As root, gives path to user (a name): the peer drops to that user and writes there."""
    if is_root():
        import pwd
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


class _Guard:
    """Runs the shell snippet `script` if this process dies without disarming it first (see the
    module docstring)."""

    def __init__(self, script):
        self.proc = subprocess.Popen(["/bin/sh", "-c", "read _ignored; " + script],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def disarm(self):
        if self.proc is not None:
            proc, self.proc = self.proc, None
            proc.kill()
            proc.wait(TIMEOUT)
            proc.stdin.close()


_run = {"dir": None, "guard": None}
running = {}     # peer -> the shell commands that end it (for cleanup.sh)


def _run_dir():
    """The run's directory, made with its guard on first use."""
    if _run["dir"] is None:
        path = tempfile.mkdtemp(prefix="petrel-peers-")
        os.chmod(path, 0o755)
        _run["dir"] = path
        script = "[ -f {q}/cleanup.sh ] && sh {q}/cleanup.sh".format(q=shlex.quote(path))
        if not keep():
            script += "; rm -rf -- %s" % shlex.quote(path)
        _run["guard"] = _Guard(script + "; exit 0")
        _exit_on_sigterm()
    return _run["dir"]


def _write_cleanup_script():
    lines = ["# Run by the guard if the test process dies without stopping these peers."]
    for peer, commands in running.items():
        lines.append("# %r" % (peer,))
        lines += commands
    path = os.path.join(_run_dir(), "cleanup.sh")
    with open(path + ".new", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".new", path)


def register(peer, kill_pids=(), kill_group_of_pid_file=None, commands=()):
    """Records a started peer: stopped at exit, and ended by the guard (commands, SIGKILL to
    each pid, SIGKILL to the process group led by the pid in the first line of the file
    kill_group_of_pid_file) if this process dies first."""
    lines = list(commands)
    lines += ["kill -9 %d 2>/dev/null" % pid for pid in kill_pids]
    if kill_group_of_pid_file:
        lines.append("pid=$(sed -n '1s/[^0-9]//gp' %s 2>/dev/null); [ -n \"$pid\" ] && kill -9 -$pid 2>/dev/null"
                     % shlex.quote(kill_group_of_pid_file))
    running[peer] = lines
    _write_cleanup_script()


def unregister(peer):
    if running.pop(peer, None) is not None:
        _write_cleanup_script()


def _cleanup():
    for peer in list(reversed(list(running))):
        try:
            peer.stop()
        except Exception as e:  # keep cleaning the others
            print("outbound peers: stopping %r failed: %s" % (peer, e), file=sys.stderr)
    if _run["guard"] is not None:
        _run["guard"].disarm()
    if _run["dir"] is not None:
        if keep():
            print("\noutbound peers: kept %s" % _run["dir"])
        else:
            shutil.rmtree(_run["dir"], ignore_errors=True)


atexit.register(_cleanup)


def _exit_on_sigterm():
    """SIGTERM (e.g. from `timeout`) ends the run through SystemExit, so atexit stops the peers."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


class Peer:
    """Context manager support: `with SmtpSink(...) as sink:` starts it and stops it."""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
