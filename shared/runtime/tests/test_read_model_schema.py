"""An index added to a read model reaches tables made before it, on every start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from orderflow_runtime.projections import read_model_engine
from orderflow_runtime.read_model_schema import create_schema
from orderflow_runtime.settings import ServiceSettings
from pydantic import SecretStr
from sqlalchemy import Column, Engine, Index, MetaData, String, Table, inspect, select


def things(*extra: Any) -> tuple[MetaData, Table]:
    """The model's table, as one version of the code declares it."""
    metadata = MetaData()
    table = Table(
        "schema_things",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("status", String(16), nullable=False),
        *extra,
    )
    return metadata, table


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    url = None
    if request.param == "postgres":
        make_url: Callable[[], str] = request.getfixturevalue("postgres_url_factory")
        url = SecretStr(make_url())
    settings = ServiceSettings(service_name="schema", data_dir=tmp_path, database_url=url)
    return read_model_engine(settings)


def index_names(engine: Engine) -> set[str | None]:
    return {index["name"] for index in inspect(engine).get_indexes("schema_things")}


def test_an_index_added_later_is_made_on_the_rows_already_there(engine: Engine) -> None:
    # Given the table made by an older version, without the index, with rows in it
    old, old_table = things()
    create_schema(old, engine)
    with engine.begin() as conn:
        conn.execute(old_table.insert(), [{"id": str(i), "status": "shipped"} for i in range(3)])

    # When the new version, which indexes the status, starts (twice: a restart)
    new, new_table = things(Index("ix_schema_things_status", "status"))
    create_schema(new, engine)
    create_schema(new, engine)

    # Then the index is there, and so are the rows
    assert "ix_schema_things_status" in index_names(engine)
    with engine.connect() as conn:
        assert len(conn.execute(select(new_table)).all()) == 3


def test_a_replica_that_made_the_index_first_is_no_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the table without the index, and another replica that makes the index just
    # after this one found it missing
    old, _ = things()
    create_schema(old, engine)
    new, new_table = things(Index("ix_schema_things_status", "status"))
    [index] = new_table.indexes
    create = Index.create

    def rival_first(self: Index, bind: Engine, checkfirst: bool = False) -> None:
        create(self, bind)  # the other replica's
        create(self, bind)  # ours: the index exists by now

    monkeypatch.setattr(Index, "create", rival_first)

    # When this replica makes its schema, then it goes on without an error
    create_schema(new, engine)
    assert index.name in index_names(engine)
