import json
from pathlib import Path

import jsonschema
import pytest
from orderflow_events import EVENT_TYPES, IntegrationEvent
from orderflow_events.__main__ import main
from orderflow_events.compat import breaking_changes, catalog_breaking_changes
from orderflow_events.samples import sample_events
from orderflow_events.schemas import (
    REGENERATE_HINT,
    default_schema_dir,
    generated_schemas,
    load_schemas,
    stale_files,
    write_schemas,
)

COMMITTED = Path(__file__).parent.parent / "schemas"


def test_the_default_schema_dir_is_the_committed_one() -> None:
    assert default_schema_dir().resolve() == COMMITTED.resolve()


def test_schemas_are_current() -> None:
    problems = stale_files(COMMITTED)

    assert problems == [], f"committed JSON Schemas are stale ({problems}): {REGENERATE_HINT}"


def test_models_compatible_with_committed_schemas() -> None:
    committed = load_schemas(COMMITTED)

    assert sorted(committed) == sorted(EVENT_TYPES)
    assert catalog_breaking_changes(committed, generated_schemas()) == []


@pytest.mark.parametrize("event", sample_events(), ids=lambda event: event.ce_type)
def test_samples_validate_against_their_committed_schema(event: IntegrationEvent) -> None:
    schema = load_schemas(COMMITTED)[event.ce_type]

    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(json.loads(event.model_dump_json()))


def test_the_schema_shows_money_as_a_decimal_string() -> None:
    money = load_schemas(COMMITTED)["orders.placed.v1"]["$defs"]["Money"]["properties"]["amount"]
    validator = jsonschema.Draft202012Validator(money)

    assert money["type"] == "string"
    assert validator.is_valid("12.50")
    assert not validator.is_valid(12.5)
    assert not validator.is_valid("1e3")


def test_the_index_lists_every_event_type() -> None:
    index = json.loads((COMMITTED / "index.json").read_text())

    assert index["payment.authorized.v1"] == {
        "class": "PaymentAuthorized",
        "file": "payment.authorized.v1.json",
        "partition_key": "order_id",
        "source": "/services/payment",
        "topic": "payment.events",
    }
    assert sorted(index) == sorted(EVENT_TYPES)


def test_check_schemas_fails_on_stale_files_and_write_schemas_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_schemas(tmp_path)
    placed = tmp_path / "orders.placed.v1.json"
    placed.write_text(placed.read_text().replace('"title": "OrderPlaced"', '"title": "Old"'))
    (tmp_path / "orders.gone.v1.json").write_text("{}\n")

    assert main(["check-schemas", str(tmp_path)]) == 1
    assert "write-schemas" in capsys.readouterr().err
    assert main(["write-schemas", str(tmp_path)]) == 0
    assert main(["check-schemas", str(tmp_path)]) == 0
    assert not (tmp_path / "orders.gone.v1.json").exists()


def test_check_schemas_reports_breaking_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_schemas(tmp_path)
    placed = tmp_path / "orders.placed.v1.json"
    schema = json.loads(placed.read_text())
    schema["properties"]["loyalty_points"] = {"type": "integer"}
    placed.write_text(json.dumps(schema))

    assert main(["check-schemas", str(tmp_path)]) == 1
    assert "loyalty_points: property removed" in capsys.readouterr().err


def test_generation_is_deterministic() -> None:
    first = generated_schemas()
    assert json.dumps(first, sort_keys=True) == json.dumps(generated_schemas(), sort_keys=True)
    assert all(breaking_changes(schema, schema) == [] for schema in first.values())
