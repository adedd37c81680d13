"""Services as separate OS processes, the way they are deployed, for demos and tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO


class ServiceProcess:
    """One `python -m <module> ...` child with its own environment and log file.

    `kill()` is SIGKILL (a crash), `stop()` is SIGTERM then SIGKILL after a grace
    period (a deploy). The child is in its own process group so that nothing it
    starts outlives it.
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
    ) -> None:
        self.name = name
        self.args = [sys.executable, "-m", *args]
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0

    def start(self) -> ServiceProcess:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log_start = self._log.tell()
        self._process = subprocess.Popen(
            self.args,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        self._signal(signal.SIGKILL)
        self._reap(timeout=10)

    def stop(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM, wait for a graceful exit, SIGKILL after `grace_s`; returns the exit code."""
        if not self.running:
            return self._reap(timeout=0)
        self._signal(signal.SIGTERM)
        try:
            return self._reap(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def log_since_start(self) -> str:
        """What this run of the process logged (the log file is shared across restarts)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_until(self, condition: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Poll `condition`; fail with the log tail if the child dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if not self.running:
                raise AssertionError(
                    f"{self.name} exited while waiting for {what}:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{self.log_tail()}")

    def _signal(self, sig: signal.Signals) -> None:
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, sig)

    def _reap(self, timeout: float) -> int | None:
        if self._process is None:
            return None
        code = self._process.wait(timeout=timeout) if timeout else self._process.poll()
        if self._log is not None and code is not None:
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
