"""A unit of work over a service's store: one transaction for many records' effects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking

from orderflow_runtime.store import EventStoreApplication

A = TypeVar("A")


class UnitOfWork:
    """Loads each aggregate once, collects what handlers change, and saves it all at once.

    Handlers call `get`/`find`/`add`; the inbox calls `commit` with the positions of
    the records the batch covered, so effects and positions commit together.
    """

    def __init__(self, app: EventStoreApplication) -> None:
        self.app = app
        self._aggregates: dict[UUID | str, Any] = {}

    def get(self, aggregate_id: UUID | str, kind: type[A]) -> A:
        """The aggregate, as changed so far in this unit of work; raises if missing."""
        aggregate = self._aggregates.get(aggregate_id)
        if aggregate is None:
            aggregate = self.app.repository.get(aggregate_id)
            self._aggregates[aggregate_id] = aggregate
        if not isinstance(aggregate, kind):
            raise TypeError(f"{aggregate_id} is a {type(aggregate).__name__}, not {kind.__name__}")
        return aggregate

    def find(self, aggregate_id: UUID | str, kind: type[A]) -> A | None:
        """Like `get`, but None when the aggregate does not exist."""
        try:
            return self.get(aggregate_id, kind)
        except AggregateNotFoundError:
            return None

    def add(self, aggregate: Any) -> None:
        """Register a new aggregate (or one loaded elsewhere) to be saved."""
        self._aggregates[aggregate.id] = aggregate

    def commit(self, trackings: Sequence[Tracking] = ()) -> None:
        self.app.save(*self._aggregates.values(), trackings=list(trackings))
        self._aggregates.clear()
