"""The read models' JSON columns on PostgreSQL are written by orjson (`dump_json_column`):
the same JSON as the stdlib's `json.dumps` for every value, the same values refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from orderflow_runtime.bulk import COPY_FROM_ROWS, insert_rows
from orderflow_runtime.projections import dump_json_column, read_model_engine
from orderflow_runtime.settings import ServiceSettings
from pydantic import SecretStr
from sqlalchemy import JSON, Column, Integer, MetaData, Table, select, text


class Colour(StrEnum):
    BLUE = "blue"


@dataclass
class Point:
    x: int


VALUES: list[Any] = [
    None,
    {"size": "M", "colour": "blue"},
    ["https://img.example.com/1.jpg", 2, 3.5, True, None],
    {"ü": "\u2603", "nested": {"list": [{"a": 1}]}},
    {1: "int key", "2": "str key"},
    2**70,  # beyond 64 bits: orjson refuses it, json.dumps writes it
    {"enum": Colour.BLUE},
    -0.0,
    1e300,
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_value_reads_back_as_json_dumps_writes_it(value: Any) -> None:
    assert json.loads(dump_json_column(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize(
    "value", [datetime(2026, 11, 25, tzinfo=UTC), Point(1), Decimal("9.90"), {"at": Point(2)}]
)
def test_what_json_dumps_refuses_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        dump_json_column(value)


@pytest.mark.integration
def test_postgres_read_models_write_json_columns_with_it(
    postgres_url_factory: Callable[[], str],
) -> None:
    settings = ServiceSettings(service_name="jsons", database_url=SecretStr(postgres_url_factory()))
    engine = read_model_engine(settings)
    tables = MetaData()
    docs = Table("t_docs", tables, Column("id", Integer, primary_key=True), Column("doc", JSON))
    tables.create_all(engine)
    inserted = [{"id": n, "doc": value} for n, value in enumerate(VALUES)]
    copied = [{"id": 100 + n, "doc": value} for n, value in enumerate(VALUES * COPY_FROM_ROWS)]
    with engine.begin() as conn:
        conn.execute(docs.insert(), inserted)
        insert_rows(conn, docs, copied)
    with engine.connect() as conn:
        stored = dict(conn.execute(select(docs.c.id, docs.c.doc)).all())
        texts = dict(conn.execute(text("SELECT id, doc::text FROM t_docs")).all())
    for row in inserted + copied:
        assert stored[row["id"]] == json.loads(json.dumps(row["doc"])), row
    assert texts[1] == texts[101] == '{"size":"M","colour":"blue"}'  # orjson's, both ways
    engine.dispose()
