"""The `orderflow` command as a user runs it: a separate process, on the embedded defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_pipe_pushes_every_order_through_the_chassis(kafka_bootstrap: str) -> None:
    orderflow = Path(sys.executable).parent / "orderflow"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    result = subprocess.run(
        [str(orderflow), "pipe", "--orders", "300", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["orders"] == 300
    assert summary["published"] == 300
    assert summary["applied"] == 300


def test_demo_runs_the_whole_shop(kafka_bootstrap: str) -> None:
    orderflow = Path(sys.executable).parent / "orderflow"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    result = subprocess.run(
        [str(orderflow), "demo", "--orders", "30", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    final = {"delivered", "cancelled", "partially_returned", "returned"}
    assert summary["orders"] == 30
    assert set(summary["states"]) <= final, summary
    assert sum(summary["states"].values()) == 30
    assert {"delivered", "cancelled"} <= set(summary["states"]), "a mix of outcomes"
    assert sum(summary["cancel_reasons"].values()) == summary["states"]["cancelled"]
    assert summary["emails"] >= 2 * 30  # at least a confirmation and one more notice each
