"""Read models of one table with a row per key, projected a batch at a time.

Most read models keep a row per aggregate (a notice, an order, a stock item) that each
of its events changes. Projecting event by event costs a SQL statement or two per
event; a `KeyedRowsModel` loads the batch's rows in one query, lets each
event change its row in memory, in order (`apply`), and writes back the changed rows
with one bulk insert (COPY on PostgreSQL) and one executemany UPDATE (on PostgreSQL, when
many stored rows changed, one DELETE and the COPY instead). The result is the same as
applying the events one by one.

In a worker of a parallel rebuild (`filling_empty_tables`) the model remembers the keys
it wrote and loads only those: any other key has no row yet, since the tables started
empty and no other process writes this share's rows.
"""

from __future__ import annotations

import contextlib
import functools
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from sqlalchemy import Connection, Table, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from orderflow_runtime.bulk import COPY_FROM_ROWS, insert_rows
from orderflow_runtime.projections import ReadModel

Row = dict[str, Any]
_IN_CHUNK = 500  # keys per `IN (...)`: well under SQLite's parameter limit
REMEMBERED_KEYS = 500_000
"""Keys a model filling empty tables remembers (500,000 keys of 36 characters take 59 MB,
measured); past them it forgets them all and loads every key of a batch, as a live model
does."""


@functools.cache
def _column_names(table: Table) -> tuple[str, ...]:
    """`table`'s column names, listed once: `Table.columns.keys()` builds a list a call
    (an `empty_row` of the notices table took 2.9 µs with it, 1.6 µs without, measured
    here; a rebuild takes one for each new row)."""
    return tuple(table.columns.keys())


class KeyedRowsModel(ReadModel):
    """`table` has a single-column primary key; `key_of` names an event's row."""

    table: ClassVar[Table]
    _written: set[str] | None = None
    """While filling empty tables: every key written so far (None: not filling, or too
    many keys to remember)."""

    @abstractmethod
    def key_of(self, domain_event: Any) -> str | None:
        """The key of the row `domain_event` changes; None: the model ignores it."""

    @abstractmethod
    def apply(self, key: str, row: Row | None, domain_event: Any) -> Row | None:
        """The row `key` after `domain_event`: `row` changed in place or a new dict holding
        every column (`row` is None when there is none yet); None when the event changes
        nothing (applied before, or about a row that does not exist)."""

    @classmethod
    def empty_row(cls) -> Row:
        """Every column of the table, None: a start for `apply` to fill."""
        return dict.fromkeys(_column_names(cls.table))

    def project(self, domain_event: Any, conn: Connection) -> None:
        self.project_batch([domain_event], conn)

    @contextlib.contextmanager
    def filling_empty_tables(self) -> Iterator[None]:
        self._written = set()
        try:
            yield
        finally:
            self._written = None

    def project_batch(self, domain_events: Sequence[Any], conn: Connection) -> None:
        table = self.table
        (key_column,) = table.primary_key.columns
        keyed = [(key, e) for e in domain_events if (key := self.key_of(e)) is not None]
        keys = list(dict.fromkeys(key for key, _ in keyed))
        written = self._written
        if written is not None:
            keys = [key for key in keys if key in written]  # no row yet for the others
        rows: dict[str, Row] = {
            r._mapping[key_column.name]: dict(r._mapping) for r in self._load(conn, keys)
        }
        stored = set(rows)
        changed: dict[str, None] = {}
        for key, domain_event in keyed:
            row = self.apply(key, rows.get(key), domain_event)
            if row is not None:
                rows[key] = row
                changed[key] = None
        new = [rows[key] for key in changed if key not in stored]
        updated = [key for key in changed if key in stored]
        if written is not None:
            written.update(changed)  # before the writes: were they to fail, a key too many
            # would only be loaded for nothing (a key missing would lose its row's update)
            if len(written) > REMEMBERED_KEYS:
                self._written = None
        if conn.dialect.name == "postgresql" and len(new) + len(updated) >= COPY_FROM_ROWS:
            # Many rows (a rebuild's batch): the stored ones that changed are deleted in one
            # statement and copied back with the new ones, rather than updated one by one.
            if updated:
                conn.execute(self._delete_keys, {"keys": updated})
            insert_rows(conn, table, new + [rows[key] for key in updated])
            return
        insert_rows(conn, table, new)
        if updated:
            values = self._values
            conn.execute(
                self._update_row,
                [
                    {"b_key": key, **{f"v_{name}": rows[key][name] for name in values}}
                    for key in updated
                ],
            )

    def _load(self, conn: Connection, keys: list[str]) -> Iterator[Any]:
        """The stored rows of `keys`: on PostgreSQL in one query with the keys as one
        array (`= ANY(...)`: a quarter of the time of an `IN` of 500 parameters), else
        by `IN` in chunks."""
        if not keys:
            return
        if conn.dialect.name == "postgresql":
            yield from conn.execute(self._select_keys_array, {"keys": keys})
            return
        for start in range(0, len(keys), _IN_CHUNK):
            yield from conn.execute(self._select_keys_in, {"keys": keys[start : start + _IN_CHUNK]})

    # The statements are built once per read model: building one costs more than running it.

    @functools.cached_property
    def _select_keys_array(self) -> Any:
        (key_column,) = self.table.primary_key.columns
        return select(self.table).where(key_column == any_(self._keys_array()))

    @functools.cached_property
    def _select_keys_in(self) -> Any:
        (key_column,) = self.table.primary_key.columns
        return select(self.table).where(key_column.in_(bindparam("keys", expanding=True)))

    @functools.cached_property
    def _delete_keys(self) -> Any:
        (key_column,) = self.table.primary_key.columns
        return self.table.delete().where(key_column == any_(self._keys_array()))

    def _keys_array(self) -> Any:
        """A PostgreSQL array parameter `keys` of the key column's type."""
        (key_column,) = self.table.primary_key.columns
        return bindparam("keys", type_=ARRAY(key_column.type))

    @functools.cached_property
    def _values(self) -> list[str]:
        return [c.name for c in self.table.columns if not c.primary_key]

    @functools.cached_property
    def _update_row(self) -> Any:
        (key_column,) = self.table.primary_key.columns
        return (
            self.table.update()
            .where(key_column == bindparam("b_key"))
            .values({name: bindparam(f"v_{name}") for name in self._values})
        )
