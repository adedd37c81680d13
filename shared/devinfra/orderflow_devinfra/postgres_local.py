"""A throwaway PostgreSQL server in a temp dir, from the machine's own binaries.

Finds ``initdb``/``postgres`` (``$ORDERFLOW_PG_BIN``, PATH, /usr/lib/postgresql/*/bin),
installs Debian's ``postgresql`` with apt-get when they are missing and we are root, and
runs the postmaster as our child (as the ``postgres`` OS user when we are root) on
127.0.0.1 with a free port and trust authentication; its unix socket stays in the temp dir.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from orderflow_devinfra._proc import Server, Watchdog, free_port, tail

READY_LINE = "database system is ready to accept connections"


class PostgresUnavailable(RuntimeError):  # noqa: N818 - like InfrastructureUnavailable
    """PostgreSQL cannot be found, installed or started; the message says why."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``, newest version first."""
    env = os.environ.get("ORDERFLOW_PG_BIN")
    if env:
        return Path(env)
    on_path = shutil.which("initdb")
    if on_path and (Path(on_path).parent / "postgres").exists():
        return Path(on_path).parent
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=_version_key,
        reverse=True,
    )
    return found[0] if found else None


def install_postgres() -> None:
    """``apt-get install postgresql`` (Debian/Ubuntu, as root)."""
    if os.geteuid() != 0:
        raise PostgresUnavailable(
            "PostgreSQL binaries (initdb, postgres) are missing and we are not root: "
            "install them (sudo apt-get install -y postgresql) or set ORDERFLOW_PG_BIN"
        )
    if shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            "PostgreSQL binaries (initdb, postgres) are missing and there is no apt-get: "
            "install PostgreSQL and set ORDERFLOW_PG_BIN to its bin dir"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
    ):
        res = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            out = "\n".join((res.stdout + res.stderr).strip().splitlines()[-20:])
            raise PostgresUnavailable(
                f"installing PostgreSQL failed: {' '.join(argv)} exited {res.returncode} "
                f"(are the Debian package mirrors reachable?)\n{out}"
            )


def ensure_pg_bin(install: bool = True) -> Path:
    pg_bin = find_pg_bin()
    if pg_bin is None and install:
        install_postgres()
        pg_bin = find_pg_bin()
    if pg_bin is None:
        raise PostgresUnavailable(
            "PostgreSQL binaries (initdb, postgres) not found on PATH nor in "
            "/usr/lib/postgresql/*/bin; install postgresql or set ORDERFLOW_PG_BIN"
        )
    return pg_bin


_live: set[LocalPostgres] = set()
_live_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    with _live_lock:
        servers = list(_live)
    for server in servers:
        with contextlib.suppress(Exception):
            server.close()


class LocalPostgres:
    """A PostgreSQL server on 127.0.0.1 in a temp dir, user ``postgres``, trust auth.

    ``fast=True`` turns off fsync, synchronous_commit and full_page_writes (tests only:
    benchmarks keep the defaults). ``pause()``/``resume()`` SIGSTOP/SIGCONT the postmaster
    and all its backends, as a hung database would look to clients.
    """

    def __init__(
        self,
        *,
        fast: bool = False,
        max_connections: int = 200,
        extra_config: dict[str, str] | None = None,
        install: bool = True,
        start_timeout: float = 60.0,
        stop_timeout: float = 20.0,
    ) -> None:
        self.fast = fast
        self.max_connections = max_connections
        self.extra_config = dict(extra_config or {})
        self.install = install
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.port = 0
        self.workdir: Path | None = None
        self.start_seconds: float | None = None
        self._server: Server | None = None
        self._watchdog: Watchdog | None = None
        self._paused = False

    # -- public API ----------------------------------------------------------

    @property
    def url(self) -> str:
        """Admin URL (database ``postgres``)."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        if not self.port:
            raise RuntimeError("LocalPostgres has not been started")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running()

    @property
    def pid(self) -> int | None:
        """The postmaster's pid."""
        return self._server.pid if self._server is not None and self.running else None

    @property
    def log_path(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("LocalPostgres has not been started")
        return self.workdir / "postgres.log"

    def start(self) -> str:
        """initdb (first time), start, wait until it accepts connections; the admin URL."""
        if self.running:
            return self.url
        started = time.monotonic()
        try:
            pg_bin = ensure_pg_bin(self.install)
            user = self._os_user()
            if self.workdir is None:
                self.workdir = Path(tempfile.mkdtemp(prefix="orderflow-pg-"))
                self._watchdog = Watchdog(self.workdir, signal.SIGINT, self.stop_timeout)
                with _live_lock:
                    _live.add(self)
                (self.workdir / "sock").mkdir()
                if user is not None:
                    pw = pwd.getpwnam(user)
                    for p in (self.workdir, self.workdir / "sock"):
                        os.chown(p, pw.pw_uid, pw.pw_gid)
                self._initdb(pg_bin, user)
                self.port = free_port()
            self._launch(pg_bin, user)
        except BaseException:
            self._end_server(graceful=False)
            raise
        self.start_seconds = time.monotonic() - started
        return self.url

    def create_database(self, name: str) -> str:
        """Create an empty database; its URL."""
        return create_database(self.url, name)

    def drop_database(self, name: str) -> None:
        drop_database(self.url, name)

    def pause(self) -> None:
        """SIGSTOP the postmaster and every backend: connections hang, nothing errors."""
        if self._server is None or not self.running:
            raise RuntimeError("LocalPostgres is not running")
        self._server.signal_tree(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        if self._server is not None and self._paused:
            self._server.signal_tree(signal.SIGCONT, children_first=True)
        self._paused = False

    def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL after ``stop_timeout``; data kept for start()."""
        self._end_server(graceful=True)

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends; data kept (crash recovery on start)."""
        self._end_server(graceful=False)

    def restart(self) -> str:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and remove the temp dir. Idempotent."""
        self.stop()
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        with _live_lock:
            _live.discard(self)

    def __enter__(self) -> LocalPostgres:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals -------------------------------------------------------------

    @staticmethod
    def _os_user() -> str | None:
        """``postgres`` when we are root (the server refuses to run as root), else None."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root but there is no 'postgres' OS user to run the server as "
                "(apt-get install postgresql creates it; or run as a normal user)"
            ) from None
        return "postgres"

    def _initdb(self, pg_bin: Path, user: str | None) -> None:
        assert self.workdir is not None
        argv = [
            str(pg_bin / "initdb"),
            "-D",
            str(self.workdir / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",  # initdb's own flush only; the server's fsync setting is separate
        ]
        res = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.workdir,
            user=user,
            group=user,
            extra_groups=[] if user else None,
            timeout=120,
        )
        if res.returncode != 0:
            raise PostgresUnavailable(
                f"initdb failed (exit {res.returncode}):\n{res.stdout}{res.stderr}"
            )

    def _settings(self) -> dict[str, str]:
        assert self.workdir is not None
        settings = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.workdir / "sock"),
            "max_connections": str(self.max_connections),
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        if self.fast:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        settings.update(self.extra_config)
        return settings

    def _launch(self, pg_bin: Path, user: str | None) -> None:
        assert self.workdir is not None
        log_path = self.log_path
        offset = log_path.stat().st_size if log_path.exists() else 0
        argv = [str(pg_bin / "postgres"), "-D", str(self.workdir / "data")]
        for key, value in self._settings().items():
            argv += ["-c", f"{key}={value}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        self._server = Server(
            argv,
            log_path=log_path,
            cwd=self.workdir,
            env=env,
            user=user,
            term_signal=signal.SIGINT,
            watchdog=self._watchdog,
        )
        if user is not None:
            # The server (running as postgres) appends to the log we opened as root: fine,
            # it inherits the open file. Let the owner read it later too.
            with contextlib.suppress(OSError):
                os.chmod(log_path, 0o644)
        deadline = time.monotonic() + self.start_timeout
        ready = False
        while time.monotonic() < deadline:
            if not ready:
                with open(log_path, "rb") as fh:
                    fh.seek(offset)
                    ready = READY_LINE.encode() in fh.read()
            if ready:
                try:
                    _connect(self.url, timeout=2).close()
                    return
                except psycopg.Error:  # not yet: retried until the deadline
                    pass
            if not self._server.running():
                code = self._server.proc.returncode
                self._end_server(graceful=False)
                raise PostgresUnavailable(
                    f"PostgreSQL exited with code {code} while starting; "
                    f"log {log_path}:\n{tail(log_path)}"
                )
            time.sleep(0.05)
        self._end_server(graceful=False)
        raise PostgresUnavailable(
            f"PostgreSQL was not ready within {self.start_timeout:.0f}s; "
            f"log {log_path}:\n{tail(log_path)}"
        )

    def _end_server(self, *, graceful: bool) -> None:
        server, self._server = self._server, None
        self._paused = False
        if server is None:
            return
        if graceful:
            server.stop(self.stop_timeout)
        else:
            server.kill()


def _check_identifier(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")


def normalize_url(url: str) -> str:
    """``postgresql+psycopg://`` and ``postgres://`` (SQLAlchemy, Heroku) to ``postgresql://``."""
    scheme, sep, rest = url.partition("://")
    if sep and (scheme.startswith("postgresql+") or scheme == "postgres"):
        return "postgresql://" + rest
    return url


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead (query string kept)."""
    parts = urlsplit(normalize_url(url))
    return urlunsplit(parts._replace(path="/" + name))


def _connect(url: str, timeout: float = 10.0) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        normalize_url(url), autocommit=True, connect_timeout=max(1, round(timeout))
    )


def create_database(admin_url: str, name: str) -> str:
    """Create the empty database ``name`` on the server of ``admin_url``; its URL."""
    _check_identifier(name)
    with _connect(admin_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop ``name`` if it exists, disconnecting its sessions (PostgreSQL 13+)."""
    _check_identifier(name)
    with _connect(admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
