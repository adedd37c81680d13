"""HTTP fuzzing: schemathesis against every service's OpenAPI document, with the admin key.

Every operation of every service gets generated requests (valid and invalid per its
schema; a modest number each so that the file runs in under two minutes): none may
answer a 5xx. Failures are collected over all operations and reported together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from orderflow_devinfra.shop import Shop
from orderflow_devinfra.shopping import list_product, receive_stock
from schemathesis.generation.modes import GenerationMode

pytestmark = pytest.mark.timeout(300)

EXAMPLES = 30
"""Per operation, valid and invalid requests mixed (about 60 operations in all)."""


@pytest.fixture
def shop(
    kafka_bootstrap: str, database_url_factory: Callable[[], str], tmp_path: Path
) -> Iterator[Shop]:
    shop = Shop(kafka_bootstrap, database_url_factory, tmp_path)
    try:
        shop.start_all()
        yield shop
    finally:
        shop.stop_all()


def fuzz(
    base_url: str, headers: dict[str, str], sent: list[str], operations: list[str]
) -> list[str]:
    """Every 5xx (or broken connection) the generated requests provoke: one line each.

    `operations` gets the label of every operation of the document, `sent` one label
    per request answered.
    """
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)
        _fuzz_operation(operation, base_url, headers, failures, sent)()
    return failures


def _fuzz_operation(
    operation: Any, base_url: str, headers: dict[str, str], failures: list[str], sent: list[str]
) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
    )
    def run(case: Any) -> None:
        try:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
        except Exception as error:  # a dropped connection is as bad as a 500
            failures.append(f"{operation.label}: {type(error).__name__} {error}"[:600])
            return
        sent.append(operation.label)
        if response.status_code >= 500:
            failures.append(
                f"{operation.label}: {response.status_code} {response.text[:300]} "
                f"<- {case.as_curl_command(headers=headers)[:600]}"
            )

    return run  # type: ignore[no-any-return]


def test_no_request_makes_any_service_fail(shop: Shop) -> None:
    # Given a shop with a product and stock, so that lookups also hit existing things
    list_product(shop, "FUZZ-1", "10.00")
    receive_stock(shop, "FUZZ-1", 5)

    failures: list[str] = []
    sent: list[str] = []
    operations: list[str] = []
    for service, running in shop.services.items():
        found = fuzz(running.url, running.admin_headers, sent, operations)
        failures += [f"{service} {line}" for line in found]

    for name, running in shop.services.items():
        assert running.process.running, f"{name} died:\n{running.process.log_tail()}"
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:30])
    assert len(operations) >= 50, operations
    assert set(operations) <= set(sent), f"never answered: {set(operations) - set(sent)}"
    assert len(sent) >= 10 * len(operations), f"only {len(sent)} requests sent"
