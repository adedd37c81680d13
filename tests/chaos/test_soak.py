"""The fault-injection soak, short: 200 orders while services crash, the broker
restarts and PostgreSQL hangs; then every invariant holds, every service rebuilds the
state it had, and no card number or secret is anywhere.

Some customers first type card numbers into every free-text field: each attempt must be
refused, and afterwards a scan of every table of every service database, every record
of every topic and every log written finds no card number (13-19 digits passing Luhn)
and no secret (admin key, database password, carrier webhook key) in any log.

`make chaos` runs the long one (10,000 orders); both are `orderflow_devinfra.chaos`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from orderflow_devinfra import cardscan
from orderflow_devinfra.chaos import VIOLATION_FIGURES, Soak, SoakConfig, run_soak
from orderflow_devinfra.kafka_admin import list_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPORT_KEYS = (
    "orders",
    "kills",
    "broker_restarts",
    "lost_orders",
    "double_captures",
    "over_refunds",
    "oversold_units",
    "duplicate_notices",
    "state_mismatches",
)


def test_a_short_soak_keeps_every_invariant_and_leaks_no_card_number(tmp_path: Path) -> None:
    report_path = tmp_path / "soak.json"
    config = SoakConfig(
        orders=200,
        workers=16,
        kill_every_s=(2.0, 4.0),
        card_probe_share=0.1,
        deadline_s=30.0,
        drain_timeout_s=180.0,
        workdir=tmp_path / "work",
        report_path=report_path,
    )
    scan = cardscan.ScanReport()
    leaks: list[cardscan.Finding] = []

    def scan_everything(soak: Soak) -> None:
        cardscan.scan_databases(soak.database_urls.values(), scan)
        topics = asyncio.run(list_topics(soak.kafka.bootstrap_servers))
        asyncio.run(cardscan.scan_topics(soak.kafka.bootstrap_servers, topics, scan))
        cardscan.scan_logs(soak.log_paths, scan)
        leaks.extend(cardscan.find_secrets(soak.log_paths, soak.secrets))

    report = run_soak(config, after=scan_everything)

    assert report.kills >= 5, report.summary()
    assert report.broker_restarts >= 1
    assert report.postgres_pauses >= 1
    assert report.orders >= 190, report.summary()
    assert {f: getattr(report, f) for f in VIOLATION_FIGURES} == dict.fromkeys(
        VIOLATION_FIGURES, 0
    ), report.summary() + "\n" + "\n".join(report.violations)
    assert len(report.read_models_verified) >= 4, report.summary()  # rebuilt == live
    body = json.loads(report_path.read_text())
    assert set(REPORT_KEYS) <= set(body)
    # ... and the card numbers typed in were refused and are nowhere
    assert report.card_probes >= 100, report.summary()
    assert report.card_probes_accepted == 0, "\n".join(report.violations)
    assert scan.scanned["rows"] > 1000, scan.summary()
    assert scan.scanned["records"] > 1000, scan.summary()
    assert scan.scanned["log_lines"] > 100, scan.summary()
    assert scan.findings == [], scan.summary()
    assert leaks == [], leaks
