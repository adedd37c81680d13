import re
from pathlib import Path

import pytest
from orderflow_events import EVENT_TYPES, TOPIC_SERVICE
from orderflow_events.__main__ import main
from orderflow_events.consumers import consumers_of
from orderflow_events.reference import REGENERATE_HINT, is_current, json_type, reference_markdown
from orderflow_events.schemas import event_schema

REPO = Path(__file__).parents[3]
DOCS = REPO / "docs"
COMMITTED = DOCS / "events.md"


def _section(page: str, ce_type: str) -> str:
    start = page.index(f"\n### {ce_type}\n")
    end = page.find("\n## ", start + 1)
    following = page.find("\n### ", start + 1)
    ends = [i for i in (end, following) if i != -1]
    return page[start : min(ends)]


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_committed_reference_is_current() -> None:
    assert is_current(COMMITTED), f"{COMMITTED} is stale: {REGENERATE_HINT}"


@pytest.mark.parametrize("ce_type", sorted(EVENT_TYPES))
def test_each_event_has_its_section_with_every_field(ce_type: str) -> None:
    cls = EVENT_TYPES[ce_type]
    section = _section(reference_markdown(), ce_type)

    assert f"**{cls.__name__}**" in section
    assert f"| topic | `{cls.topic}` |" in section
    assert f"| producer | {TOPIC_SERVICE[cls.topic]} " in section
    assert f"| consumers | {', '.join(consumers_of(ce_type))} |" in section
    schema = event_schema(cls)
    for name in schema["properties"]:
        required = "yes" if name in schema["required"] else "no"
        assert re.search(rf"^\| `{name}` \| .+ \| {required}\b", section, re.M), name


def test_every_internal_link_has_its_heading_and_every_file_link_exists() -> None:
    page = reference_markdown()
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", page, re.M)}

    for target in re.findall(r"\]\(#([^)]+)\)", page):
        assert target in anchors, target
    for target in re.findall(r"\]\((?!#|https?:)([^)]+)\)", page):
        assert (DOCS / target).resolve().exists(), target


def test_the_page_lists_types_enums_headers_and_rules() -> None:
    page = reference_markdown()

    assert "### Money" in page
    assert "Enum (string): `payment_declined`, `out_of_stock`, `customer`, `expired`." in page
    for header in ("ce_id", "ce_type", "ce_source", "ce_time", "traceparent", "content-type"):
        assert f"| `{header}` |" in page
    assert "never a JSON number" in page
    assert "RFC 3339" in page
    assert "`orders.events.dlq`" in page


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"type": "string", "format": "uuid"}, "string (uuid)"),
        (
            {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]},
            "string (uuid) or null",
        ),
        ({"type": "integer", "exclusiveMinimum": 0}, "integer > 0"),
        (
            {"type": "array", "items": {"$ref": "#/$defs/StockLine"}, "minItems": 1},
            "array of [StockLine](#stockline), at least 1 item",
        ),
        ({"type": "object", "additionalProperties": {"type": "string"}}, "object of string values"),
        ({"type": "string", "minLength": 1, "maxLength": 64}, "string, 1-64 chars"),
        ({"$ref": "#/$defs/Channel"}, "[Channel](#channel): one of `email`, `sms`"),
    ],
)
def test_json_types_read_like_json(node: dict[str, object], expected: str) -> None:
    definitions = {"Channel": {"enum": ["email", "sms"], "type": "string"}}

    assert json_type(node, definitions) == expected


def test_cli_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "events.md"

    assert main(["reference"]) == 0
    assert capsys.readouterr().out == reference_markdown()
    assert main(["reference", "--out", str(out), "--check"]) == 1
    assert "write" not in capsys.readouterr().out
    assert main(["reference", "--out", str(out)]) == 0
    assert main(["reference", "--out", str(out), "--check"]) == 0
    assert main(["reference", "--check"]) == 2
