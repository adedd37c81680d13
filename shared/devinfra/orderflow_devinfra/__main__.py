"""``python -m orderflow_devinfra up|fetch``.

``up``: start Kafka and PostgreSQL (see :mod:`orderflow_devinfra.infra` for the choice),
print ``KAFKA_BOOTSTRAP_SERVERS=...`` and ``DATABASE_URL=...`` (``eval``-able), stay up
until Ctrl-C or SIGTERM.

``fetch``: download the Kafka jars into the cache (and install PostgreSQL when missing and
root), nothing started: a CI warm-up step.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from orderflow_devinfra.infra import Infrastructure, InfrastructureUnavailable
from orderflow_devinfra.kafka_local import KafkaUnavailable, fetch_kafka, find_java
from orderflow_devinfra.postgres_local import PostgresUnavailable, ensure_pg_bin


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def cmd_up(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    started = time.monotonic()
    infra = Infrastructure(
        kafka=not args.no_kafka, postgres=not args.no_postgres, postgres_fast=args.fast
    )
    try:
        with infra:
            if infra.kafka_kind:
                print(f"KAFKA_BOOTSTRAP_SERVERS={infra.kafka_bootstrap}")
            if infra.postgres_kind:
                print(f"DATABASE_URL={infra.database_url}")
            print(
                f"# {infra.kind}, up in {time.monotonic() - started:.1f}s; Ctrl-C to stop",
                file=sys.stderr,
            )
            if infra.local_kafka is not None:
                print(f"# broker log: {infra.local_kafka.log_path}", file=sys.stderr)
            if infra.local_postgres is not None:
                print(f"# postgres log: {infra.local_postgres.log_path}", file=sys.stderr)
            sys.stdout.flush()
            while True:
                signal.pause()
    except InfrastructureUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("# stopped", file=sys.stderr)
        return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    try:
        find_java()
        lib = fetch_kafka(quiet=not args.verbose)
        print(f"kafka jars: {lib}")
        if not args.kafka_only:
            print(f"postgresql: {ensure_pg_bin(install=True)}")
    except (KafkaUnavailable, PostgresUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orderflow_devinfra")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Kafka + PostgreSQL and stay up until Ctrl-C")
    up.add_argument("--fast", action="store_true", help="PostgreSQL without fsync (tests)")
    up.add_argument("--no-kafka", action="store_true")
    up.add_argument("--no-postgres", action="store_true")
    up.set_defaults(func=cmd_up)
    fetch = sub.add_parser("fetch", help="download the Kafka jars (and install PostgreSQL)")
    fetch.add_argument("--kafka-only", action="store_true")
    fetch.add_argument("-v", "--verbose", action="store_true")
    fetch.set_defaults(func=cmd_fetch)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
