"""Child processes that cannot outlive us.

Every server (the Kafka JVM, the postmaster) runs in its own session, so a Ctrl-C in the
terminal reaches only Python, which then stops the servers in order (context managers,
atexit). For the cases where Python gets no chance to clean up (SIGKILL, a crash,
``os._exit``), each LocalKafka/LocalPostgres has a tiny watchdog process holding the read
end of a pipe whose write end only we hold. We tell it which pid to watch; when we die, the
kernel closes the pipe, the watchdog reads EOF, stops that server (graceful signal, then
SIGKILL, whole process tree) and removes the temp dir. This works whichever thread started
the server, unlike ``PR_SET_PDEATHSIG``, and survives restarts (same watchdog, new pid).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

_WATCHDOG = r"""
import os, shutil, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
sig, grace, cleanup = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
pid = 0
try:
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "watch":
            pid = int(arg)
        elif cmd == "unwatch":
            pid = 0
        elif cmd == "detach":
            sys.exit(0)
except Exception:
    pass
def stat(p):
    try:
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
def alive(p):
    st = stat(p)
    return st is not None and st[0] != "Z"
def tree(root):
    kids = {}
    for e in os.listdir("/proc"):
        st = e.isdigit() and stat(e)
        if st:
            kids.setdefault(int(st[1]), []).append(int(e))
    out, todo = [root], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out
def send(pids, s):
    for p in pids:
        try: os.kill(p, s)
        except OSError: pass
try:
    if pid and alive(pid):
        send(tree(pid), signal.SIGCONT)
        send([pid], sig)
        end = time.monotonic() + grace
        while alive(pid) and time.monotonic() < end:
            time.sleep(0.1)
        send(tree(pid), signal.SIGKILL)
        try: os.killpg(pid, signal.SIGKILL)
        except OSError: pass
        end = time.monotonic() + 5
        while alive(pid) and time.monotonic() < end:
            time.sleep(0.05)
finally:
    if cleanup:
        shutil.rmtree(cleanup, ignore_errors=True)
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def descendants(pid: int) -> list[int]:
    """All descendants of ``pid``, read from /proc (they may sit in other process groups)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Watchdog:
    """Reaps the watched server and removes ``cleanup_dir`` if this Python process dies.

    ``close()`` detaches it: after an orderly shutdown the owner has cleaned up itself.
    """

    def __init__(self, cleanup_dir: Path | None, term_signal: int, grace: float) -> None:
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [
                sys.executable,
                "-S",
                "-c",
                _WATCHDOG,
                str(int(term_signal)),
                str(grace),
                str(cleanup_dir or ""),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _send(self, line: str) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.write(line.encode() + b"\n")
                self._proc.stdin.flush()

    def watch(self, pid: int) -> None:
        self._send(f"watch {pid}")

    def unwatch(self) -> None:
        self._send("unwatch")

    def close(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.write(b"detach\n")
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Server:
    """One run of a server process, in its own session, output appended to ``log_path``."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        term_signal: int = signal.SIGTERM,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.term_signal = term_signal
        self._watchdog = watchdog
        with open(log_path, "ab") as log:
            self.proc: subprocess.Popen[bytes] = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        self.pid = self.proc.pid
        if watchdog is not None:
            watchdog.watch(self.pid)

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal_tree(self, sig: int, *, children_first: bool = False) -> None:
        """Send ``sig`` to the process and all its descendants."""
        pids = [self.pid, *descendants(self.pid)]
        if children_first:
            pids.reverse()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def stop(self, timeout: float) -> None:
        """Graceful signal, wait up to ``timeout`` seconds, then SIGKILL. Idempotent."""
        if self.running():
            # A paused (SIGSTOPped) server must run again to shut down.
            self.signal_tree(signal.SIGCONT, children_first=True)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, self.term_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the process and its descendants; wait for it. Idempotent."""
        if self.running():
            self.signal_tree(signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        if self._watchdog is not None:
            self._watchdog.unwatch()
            self._watchdog = None


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def wait_until(deadline: float, interval: float = 0.1) -> bool:
    """Sleep one interval; False once the deadline has passed."""
    if time.monotonic() >= deadline:
        return False
    time.sleep(interval)
    return True
