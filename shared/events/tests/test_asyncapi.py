import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from orderflow_events import (
    ALL_TOPICS,
    EVENT_TYPES,
    TOPIC_SERVICE,
    IntegrationEvent,
    headers_dict,
    to_record,
)
from orderflow_events.__main__ import main
from orderflow_events.asyncapi import (
    REGENERATE_HINT,
    asyncapi_document,
    is_current,
    render,
)
from orderflow_events.consumers import CONSUMERS, OPERATORS
from orderflow_events.docs import package_version, to_yaml
from orderflow_events.samples import T0, sample_events
from referencing import Registry
from referencing.jsonschema import DRAFT7

REPO = Path(__file__).parents[3]
COMMITTED = REPO / "docs" / "asyncapi.yaml"
DATA = Path(__file__).parent / "data"
ASYNCAPI_SCHEMA = DATA / "asyncapi-3.0.0.schema.json"
ASYNCAPI_SCHEMA_SHA256 = "abe96881dbfaad495ccbb6bd8d3fb43ca18a13b9d7564849ccb66f39d5e5b20f"
DOC_URI = "urn:test:asyncapi"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


@pytest.fixture(scope="module")
def asyncapi_validator() -> jsonschema.Draft7Validator:
    content = ASYNCAPI_SCHEMA.read_bytes()
    assert hashlib.sha256(content).hexdigest() == ASYNCAPI_SCHEMA_SHA256, "see data/README.md"
    schema = json.loads(content)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _validator(document: dict[str, Any], pointer: str) -> jsonschema.Draft7Validator:
    """Validates against the schema at `pointer` inside the AsyncAPI document."""
    registry: Registry[Any] = Registry().with_resource(DOC_URI, DRAFT7.create_resource(document))
    return jsonschema.Draft7Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=registry)


def test_committed_asyncapi_document_is_current() -> None:
    assert is_current(COMMITTED), f"{COMMITTED} is stale: {REGENERATE_HINT}"


def test_the_committed_document_is_valid_asyncapi_3(
    asyncapi_validator: jsonschema.Draft7Validator,
) -> None:
    committed = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))

    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in asyncapi_validator.iter_errors(committed)
    ]
    assert errors == []
    assert committed["asyncapi"] == "3.0.0"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["operations", "cart.send.orders.events", "action"], "publish"),  # AsyncAPI 2 style
        (["components", "messages", "orders.placed.v1", "messageId"], "x"),  # 2.x field
        (["components", "schemas", "orders.placed.v1", "type"], 5),  # a broken payload schema
        (["servers", "kafka", "protocol"], None),  # required
        (["info"], None),  # required
    ],
)
def test_the_asyncapi_schema_rejects_broken_documents(
    asyncapi_validator: jsonschema.Draft7Validator,
    document: dict[str, Any],
    path: list[str],
    value: Any,
) -> None:
    broken = copy.deepcopy(document)
    node = broken
    for part in path[:-1]:
        node = node[part]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value

    assert not asyncapi_validator.is_valid(broken)


def test_the_document_has_a_channel_and_a_send_operation_per_topic(
    document: dict[str, Any],
) -> None:
    assert document["info"]["version"] == package_version()
    assert document["servers"]["kafka"]["protocol"] == "kafka"
    assert "{bootstrap}" in document["servers"]["kafka"]["host"]
    for topic in ALL_TOPICS:
        channel = document["channels"][topic]
        types = {t for t, cls in EVENT_TYPES.items() if cls.topic == topic}
        operation = document["operations"][f"{TOPIC_SERVICE[topic]}.send.{topic}"]

        assert channel["address"] == topic
        assert set(channel["messages"]) == types
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{topic}"}
        assert {ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]} == types
    dlq = document["channels"]["deadLetters"]
    assert dlq["address"] == "{topic}.dlq"
    assert dlq["parameters"]["topic"]["enum"] == list(ALL_TOPICS)


@pytest.mark.parametrize("ce_type", sorted(EVENT_TYPES))
def test_each_event_type_is_a_message(document: dict[str, Any], ce_type: str) -> None:
    cls = EVENT_TYPES[ce_type]
    message = document["components"]["messages"][ce_type]
    headers = message["headers"]["allOf"][1]["properties"]

    assert message["name"] == ce_type
    assert message["title"] == cls.__name__
    assert message["contentType"] == "application/json"
    assert message["payload"] == {"$ref": f"#/components/schemas/{ce_type}"}
    assert headers["ce_type"]["const"] == ce_type
    assert headers["ce_source"]["const"] == cls.source
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    assert message["summary"]


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    resolver = Registry().with_resource(DOC_URI, DRAFT7.create_resource(document)).resolver()
    assert len(refs) > 100
    for ref in refs:
        assert ref.startswith("#/"), ref
        resolver.lookup(f"{DOC_URI}{ref}")  # raises if it does not resolve


@pytest.mark.parametrize("event", sample_events(), ids=lambda event: event.ce_type)
def test_real_records_match_their_message(
    document: dict[str, Any], event: IntegrationEvent
) -> None:
    pointer = f"/components/messages/{event.ce_type}"
    message = document["components"]["messages"][event.ce_type]
    record = to_record(event, event_id="0b8e6f3e-5a31-4a0e-9a43-7c1d2f0c0099", time=T0)
    headers, payload = headers_dict(record.headers), json.loads(record.value)

    _validator(document, f"{pointer}/headers").validate(headers)
    _validator(document, f"{pointer}/payload").validate(payload)
    _validator(document, f"{pointer}/bindings/kafka/key").validate(record.key.decode())
    for example in message["examples"]:
        _validator(document, f"{pointer}/headers").validate(example["headers"])
        _validator(document, f"{pointer}/payload").validate(example["payload"])
    wrong_type = {**headers, "ce_type": "orders.placed.v9"}
    assert not _validator(document, f"{pointer}/headers").is_valid(wrong_type)
    assert not _validator(document, f"{pointer}/headers").is_valid(
        {k: v for k, v in headers.items() if k != "ce_id"}
    )


def test_payload_schemas_are_the_generated_json_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    placed = schemas["orders.placed.v1"]

    assert placed["properties"]["total"] == {
        "$ref": "#/components/schemas/Money",
        "description": "Amount to authorise: subtotal + shipping_fee + tax.",
    }
    assert schemas["Money"]["properties"]["amount"]["type"] == "string"
    assert "$defs" not in placed
    assert "$id" not in placed
    validator = _validator(document, "/components/schemas/Money")
    assert validator.is_valid({"amount": "12.50", "currency": "EUR"})
    assert not validator.is_valid({"amount": 12.5, "currency": "EUR"})


def test_rendering_is_deterministic_and_round_trips(document: dict[str, Any]) -> None:
    text = render()

    assert text == render()
    assert yaml.safe_load(text) == document
    assert json.loads(render("json")) == document


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "No",
        "null",
        "1.0",
        "3",
        "",
        " leading",
        "a: b",
        "# comment",
        "{braces}",
        "- dash",
        "'quote",
        'say "hi"',
        "tab\there",
        "two\nlines",
        "trailing \nspace",
        "ends with newline\n",
        "\nstarts with newline",
        "unicode ≥ é",
        "$ref",
        "@at",
        "*star",
        "&amp",
        "!bang",
        "%percent",
        "back\\slash",
    ],
)
def test_the_yaml_writer_keeps_every_string_a_string(value: str) -> None:
    data = {value: value, "list": [value, {value: [value]}, [value]], "n": 1, "t": True}

    assert yaml.safe_load(to_yaml(data)) == data


def test_the_yaml_writer_handles_empty_containers_and_nulls() -> None:
    data = {"a": {}, "b": [], "c": None, "d": [{}, [], None, False], "e": [{"x": {"y": []}}]}

    assert yaml.safe_load(to_yaml(data)) == data


def test_the_consumers_table_covers_every_event_type() -> None:
    services = set(TOPIC_SERVICE.values())

    assert set(CONSUMERS) == set(EVENT_TYPES)
    for ce_type, consumers in CONSUMERS.items():
        assert consumers, ce_type
        assert set(consumers) <= services | {OPERATORS}, ce_type
        assert TOPIC_SERVICE[EVENT_TYPES[ce_type].topic] not in consumers, ce_type


def test_cli_prints_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "asyncapi.yaml"

    assert main(["asyncapi"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["asyncapi"] == "3.0.0"
    assert main(["asyncapi", "--out", str(out), "--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert main(["asyncapi", "--out", str(out)]) == 0
    assert main(["asyncapi", "--out", str(out), "--check"]) == 0
    out.write_text(out.read_text().replace("orderflow events", "old"))
    assert main(["asyncapi", "--out", str(out), "--check"]) == 1
    assert main(["asyncapi", "--out", str(tmp_path / "asyncapi.json")]) == 0
    assert json.loads((tmp_path / "asyncapi.json").read_text()) == asyncapi_document()
