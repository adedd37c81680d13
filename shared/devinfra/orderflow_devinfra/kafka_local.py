"""A real single-node Kafka broker (KRaft) run from Maven Central jars, no Docker needed.

The jars are fetched once by Maven (``tools/kafka/pom.xml``) into a cache dir outside the
repo, ``$ORDERFLOW_CACHE_DIR/kafka-<version>/lib`` (default ``~/.cache/orderflow``); a
marker file records a completed fetch of that exact pom. Each ``LocalKafka`` then formats a
throwaway storage dir in a temp dir and runs ``kafka.Kafka`` as a child JVM on 127.0.0.1.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

from orderflow_devinfra._proc import Server, Watchdog, free_port, port_open, tail

DEFAULT_KAFKA_VERSION = "4.1.2"
READY_LINE = "Kafka Server started"
JVM_FLAGS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
_MARKER = ".fetch-complete"

LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="STDOUT" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.server.KafkaRaftServer" level="INFO"/>
    <Root level="WARN">
      <AppenderRef ref="STDOUT"/>
    </Root>
  </Loggers>
</Configuration>
"""


class KafkaUnavailable(RuntimeError):  # noqa: N818 - like InfrastructureUnavailable
    """The local broker cannot be fetched or started; the message says what is missing."""


# --------------------------------------------------------------------------- jars


def cache_root() -> Path:
    env = os.environ.get("ORDERFLOW_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "orderflow"


def find_pom() -> Path | None:
    """``tools/kafka/pom.xml`` of this repo: $ORDERFLOW_KAFKA_POM, else found upwards."""
    env = os.environ.get("ORDERFLOW_KAFKA_POM")
    if env:
        return Path(env)
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for d in (start, *start.parents):
            pom = d / "tools" / "kafka" / "pom.xml"
            if pom.is_file():
                return pom
    return None


def pom_kafka_version(pom: Path | None) -> str:
    if pom is None:
        return DEFAULT_KAFKA_VERSION
    m = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", pom.read_text())
    return m.group(1) if m else DEFAULT_KAFKA_VERSION


def kafka_home(version: str) -> Path:
    return cache_root() / f"kafka-{version}"


def _fetch_stamp(pom: Path | None, version: str) -> str:
    body = pom.read_bytes() if pom is not None else b""
    return f"{version} {hashlib.sha256(body).hexdigest()}"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def fetch_kafka(version: str | None = None, *, quiet: bool = True) -> Path:
    """The broker's lib dir, fetched by Maven unless a completed fetch is cached.

    Safe to call concurrently (file lock); the fetch goes to a side dir renamed in place.
    """
    pom = find_pom()
    version = version or pom_kafka_version(pom)
    home = kafka_home(version)
    lib = home / "lib"
    marker = home / _MARKER
    with _file_lock(home / ".lock"):
        if marker.is_file() and any(lib.glob("kafka_2.13-*.jar")):
            recorded = marker.read_text().strip()
            # Without the pom (installed elsewhere) any completed fetch will do.
            if pom is None or recorded == _fetch_stamp(pom, version):
                return lib
        if pom is None:
            raise KafkaUnavailable(
                f"Kafka {version} jars are not cached in {lib} and tools/kafka/pom.xml was not "
                "found (set ORDERFLOW_KAFKA_POM or run from the orderflow repo)"
            )
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaUnavailable(
                f"Kafka {version} jars are not cached in {lib} and Maven is missing: "
                "install it (apt-get install -y maven) or fetch once where it exists"
            )
        partial = home / f"lib.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        argv = [
            mvn,
            *(["-q"] if quiet else []),
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
            f"-Dkafka.version={version}",
        ]
        started = time.monotonic()
        res = subprocess.run(argv, capture_output=True, text=True, check=False)
        if res.returncode != 0 or not any(partial.glob("kafka_2.13-*.jar")):
            shutil.rmtree(partial, ignore_errors=True)
            out = "\n".join((res.stdout + res.stderr).strip().splitlines()[-30:])
            raise KafkaUnavailable(
                f"Maven could not fetch Kafka {version} (exit {res.returncode}); "
                f"is Maven Central reachable?\n$ {' '.join(argv)}\n{out}"
            )
        shutil.rmtree(lib, ignore_errors=True)
        marker.unlink(missing_ok=True)
        partial.rename(lib)
        marker.write_text(_fetch_stamp(pom, version) + "\n")
        if not quiet:
            print(f"fetched Kafka {version} into {lib} in {time.monotonic() - started:.1f}s")
        return lib


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailable(
            "java is missing: the local Kafka broker needs a Java 17+ runtime "
            "(apt-get install -y openjdk-17-jre-headless)"
        )
    return java


def new_cluster_id() -> str:
    """16 random bytes, base64url without padding, never starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


# --------------------------------------------------------------------------- broker

_live: set[LocalKafka] = set()
_live_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    with _live_lock:
        brokers = list(_live)
    for broker in brokers:
        with contextlib.suppress(Exception):
            broker.close()


class LocalKafka:
    """A single-node KRaft broker on 127.0.0.1 in a temp dir.

    ``start()`` returns the bootstrap address; ``stop()``/``kill()`` end the JVM but keep
    ports and data so that ``start()``/``restart()`` bring the same broker back;
    ``close()`` (also on ``with`` exit and at interpreter exit) stops it and removes the dir.
    """

    def __init__(
        self,
        *,
        version: str | None = None,
        num_partitions: int = 4,
        extra_config: Mapping[str, str] | None = None,
        start_timeout: float = 90.0,
        stop_timeout: float = 30.0,
        heap: str = "512m",
    ) -> None:
        self.version = version or pom_kafka_version(find_pom())
        self.num_partitions = num_partitions
        self.extra_config = dict(extra_config or {})
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.heap = heap
        self.port = 0
        self.controller_port = 0
        self.cluster_id = new_cluster_id()
        self.workdir: Path | None = None
        self.start_seconds: float | None = None
        self._server: Server | None = None
        self._watchdog: Watchdog | None = None

    # -- public API ----------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        if not self.port:
            raise RuntimeError("LocalKafka has not been started")
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("LocalKafka has not been started")
        return self.workdir / "broker.log"

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running()

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server is not None and self.running else None

    def start(self) -> str:
        """Start (or start again after stop/kill) and wait until ready; the bootstrap."""
        if self.running:
            return self.bootstrap_servers
        started = time.monotonic()
        try:
            lib = fetch_kafka(self.version)
            java = find_java()
            first = self.workdir is None
            if first:
                self.workdir = Path(tempfile.mkdtemp(prefix="orderflow-kafka-"))
                self._watchdog = Watchdog(self.workdir, signal.SIGTERM, self.stop_timeout)
                with _live_lock:
                    _live.add(self)
            attempts = 3 if first else 1
            for attempt in range(attempts):
                if first:
                    self.port, self.controller_port = free_port(), free_port()
                self._write_config()
                if not (self.data_dir / "meta.properties").exists():
                    self._format(java, lib)
                try:
                    self._launch(java, lib)
                    break
                except KafkaUnavailable:
                    bind_clash = "Address already in use" in tail(self.log_path, 80)
                    if not (bind_clash and attempt + 1 < attempts):
                        raise
        except BaseException:
            self._end_server(graceful=False)
            raise
        self.start_seconds = time.monotonic() - started
        return self.bootstrap_servers

    def stop(self) -> None:
        """SIGTERM (controlled shutdown), SIGKILL after ``stop_timeout``; data kept."""
        self._end_server(graceful=True)

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would; data kept for ``start()``."""
        self._end_server(graceful=False)

    def restart(self) -> str:
        """Stop and start again on the same ports with the same data."""
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

    def __enter__(self) -> LocalKafka:
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

    @property
    def data_dir(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "data"

    def _properties(self) -> dict[str, str]:
        assert self.workdir is not None
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": str(self.num_partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            "group.initial.rebalance.delay.ms": "0",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "share.coordinator.state.topic.num.partitions": "1",
            # After a crash (kill()), the restarted broker cannot register until the
            # controller lets its previous session expire: 9 s by default.
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
        }
        props.update(self.extra_config)
        return props

    def _write_config(self) -> None:
        assert self.workdir is not None
        lines = [f"{k}={v}" for k, v in self._properties().items()]
        (self.workdir / "server.properties").write_text("\n".join(lines) + "\n")
        (self.workdir / "log4j2.xml").write_text(LOG4J2_XML)

    def _java_argv(self, java: str, lib: Path, main: str) -> list[str]:
        assert self.workdir is not None
        flags = [f for f in JVM_FLAGS if not f.startswith("-Xmx")] + [f"-Xmx{self.heap}"]
        return [
            java,
            *flags,
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.workdir / 'logs'}",
            "-cp",
            f"{lib}/*",
            main,
        ]

    def _format(self, java: str, lib: Path) -> None:
        assert self.workdir is not None
        argv = [
            *self._java_argv(java, lib, "kafka.tools.StorageTool"),
            "format",
            "-t",
            self.cluster_id,
            "-c",
            str(self.workdir / "server.properties"),
            "--ignore-formatted",
        ]
        res = subprocess.run(
            argv, capture_output=True, text=True, check=False, cwd=self.workdir, timeout=120
        )
        with open(self.log_path, "a") as log:
            log.write(res.stdout + res.stderr)
        if res.returncode != 0:
            raise KafkaUnavailable(
                f"formatting the Kafka storage failed (exit {res.returncode})"
                f"{_java_hint(res.stdout + res.stderr)}:\n{tail(self.log_path)}"
            )

    def _launch(self, java: str, lib: Path) -> None:
        assert self.workdir is not None
        log_path = self.log_path
        offset = log_path.stat().st_size if log_path.exists() else 0
        self._server = Server(
            [*self._java_argv(java, lib, "kafka.Kafka"), str(self.workdir / "server.properties")],
            log_path=log_path,
            cwd=self.workdir,
            term_signal=signal.SIGTERM,
            watchdog=self._watchdog,
        )
        deadline = time.monotonic() + self.start_timeout
        ready = False
        while time.monotonic() < deadline:
            if not ready:
                with open(log_path, "rb") as fh:
                    fh.seek(offset)
                    ready = READY_LINE.encode() in fh.read()
            if ready and port_open(self.port):
                return
            if not self._server.running():
                code = self._server.proc.returncode
                self._end_server(graceful=False)
                raise KafkaUnavailable(
                    f"the Kafka broker exited with code {code} while starting"
                    f"{_java_hint(tail(log_path, 200))}; log {log_path}:\n{tail(log_path)}"
                )
            time.sleep(0.1)
        self._end_server(graceful=False)
        raise KafkaUnavailable(
            f"the Kafka broker was not ready within {self.start_timeout:.0f}s "
            f"(no '{READY_LINE}' and port {self.port}); log {log_path}:\n{tail(log_path)}"
        )

    def _end_server(self, *, graceful: bool) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if graceful:
            server.stop(self.stop_timeout)
        else:
            server.kill()


def _java_hint(output: str) -> str:
    if "UnsupportedClassVersionError" in output:
        return " (this Kafka needs Java 17 or newer)"
    if "ClassNotFoundException" in output or "NoClassDefFoundError" in output:
        return " (incomplete jar cache? delete it to fetch again)"
    return ""
