"""The fault-injection soak, short: 200 orders while services crash, the broker restarts and
PostgreSQL hangs; then every invariant holds and every service rebuilds the state it had.

`make chaos` runs the long one (10,000 orders); both are `orderflow_devinfra.chaos`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from orderflow_devinfra.chaos import VIOLATION_FIGURES, SoakConfig, run_soak

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_a_short_soak_keeps_every_invariant(tmp_path: Path) -> None:
    report_path = tmp_path / "soak.json"
    config = SoakConfig(
        orders=200,
        workers=8,
        kill_every_s=(2.0, 4.0),
        card_probe_share=0.03,
        deadline_s=30.0,
        drain_timeout_s=180.0,
        workdir=tmp_path / "work",
        report_path=report_path,
    )

    report = run_soak(config)

    assert report.kills >= 5, report.summary()
    assert report.broker_restarts >= 1
    assert report.postgres_pauses >= 1
    assert report.orders >= 190, report.summary()
    assert {f: getattr(report, f) for f in VIOLATION_FIGURES} == dict.fromkeys(
        VIOLATION_FIGURES, 0
    ), report.summary() + "\n" + "\n".join(report.violations)
    body = json.loads(report_path.read_text())
    for key in (
        "orders",
        "kills",
        "broker_restarts",
        "lost_orders",
        "double_captures",
        "over_refunds",
        "oversold_units",
        "duplicate_notices",
        "state_mismatches",
    ):
        assert key in body
