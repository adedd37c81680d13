"""JSON Schemas of the events: generated from the models, committed, checked for staleness.

One file per event type, `<ce_type>.json`, plus `index.json` (ce_type -> topic,
source, key, file). The output is deterministic: sorted keys, two-space indent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

from orderflow_events.base import EVENT_TYPES, IntegrationEvent

INDEX_FILE: Final = "index.json"
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
_EVENT_FILE: Final = re.compile(r"^[a-z]+\.[a-z0-9_]+\.v[0-9]+\.json$")
REGENERATE_HINT: Final = "run `python -m orderflow_events write-schemas` and commit the result"


def default_schema_dir() -> Path:
    """The schemas shipped inside the wheel, else `shared/events/schemas` of the repository."""
    packaged = Path(__file__).parent / "schemas"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "schemas"


def schema_file(ce_type: str) -> str:
    return f"{ce_type}.json"


def event_schema(cls: type[IntegrationEvent]) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one event type, with its CloudEvents attributes as x-*."""
    schema = cls.model_json_schema()
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = f"urn:orderflow:event:{cls.ce_type}"
    schema["x-ce-type"] = cls.ce_type
    schema["x-topic"] = cls.topic
    schema["x-source"] = cls.source
    schema["x-partition-key"] = cls.key_field
    return schema


def generated_schemas() -> dict[str, dict[str, Any]]:
    """ce_type -> JSON Schema, for every registered event type."""
    return {ce_type: event_schema(cls) for ce_type, cls in sorted(EVENT_TYPES.items())}


def index() -> dict[str, Any]:
    return {
        ce_type: {
            "class": cls.__name__,
            "file": schema_file(ce_type),
            "partition_key": cls.key_field,
            "source": cls.source,
            "topic": cls.topic,
        }
        for ce_type, cls in sorted(EVENT_TYPES.items())
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files() -> dict[str, str]:
    """File name -> exact content of every file the schema directory must hold."""
    files = {schema_file(t): render(schema) for t, schema in generated_schemas().items()}
    files[INDEX_FILE] = render(index())
    return files


def write_schemas(directory: Path | None = None) -> list[Path]:
    """Write all schema files; delete event schemas no longer generated. Returns changed paths."""
    directory = directory or default_schema_dir()
    directory.mkdir(parents=True, exist_ok=True)
    expected = generated_files()
    changed: list[Path] = []
    for name, content in expected.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            changed.append(path)
    for path in sorted(directory.glob("*.json")):
        if path.name not in expected and _EVENT_FILE.fullmatch(path.name):
            path.unlink()
            changed.append(path)
    return changed


def stale_files(directory: Path | None = None) -> list[str]:
    """Problems with the committed schema files; empty when they match the models."""
    directory = directory or default_schema_dir()
    expected = generated_files()
    problems: list[str] = []
    for name, content in expected.items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"{name}: differs from the models")
    for path in sorted(directory.glob("*.json")):
        if path.name not in expected and _EVENT_FILE.fullmatch(path.name):
            problems.append(f"{path.name}: no such event type any more")
    return problems


def load_schemas(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """ce_type -> committed JSON Schema, read from `directory` (default: the shipped ones)."""
    directory = directory or default_schema_dir()
    return {
        path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
        if _EVENT_FILE.fullmatch(path.name)
    }
