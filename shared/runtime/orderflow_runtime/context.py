"""Causation metadata carried from an incoming event (or request) to the events it causes.

The inbox (or an HTTP handler) sets the context; every domain event an aggregate
triggers while it is set is stamped with it; the relay reads the stamp back to fill
the CloudEvents `correlationid`, `causationid` and `traceparent` of what it publishes.
The stamp is stored with the event (the mapper stores the event's `__dict__`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate

from orderflow_runtime.state_copy import copy_state


@dataclass(frozen=True)
class EventContext:
    causation_id: str | None = None
    correlation_id: str | None = None
    traceparent: str | None = None


_NO_CONTEXT = EventContext()
_current: ContextVar[EventContext | None] = ContextVar("orderflow_event_context", default=None)
_ATTR = "_orderflow_cause"  # unlikely to clash with a field of a domain event


@contextmanager
def event_context(context: EventContext) -> Iterator[None]:
    """Stamp every domain event triggered inside the block with `context`."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def current_context() -> EventContext:
    return _current.get() or _NO_CONTEXT


def stamp(domain_event: object) -> None:
    context = _current.get()
    if context is not None and context != _NO_CONTEXT:
        object.__setattr__(
            domain_event,
            _ATTR,
            {
                "causation_id": context.causation_id,
                "correlation_id": context.correlation_id,
                "traceparent": context.traceparent,
            },
        )


def context_of(domain_event: object) -> EventContext:
    """The causation stamp of a stored domain event (empty when it has none)."""
    stamp_ = getattr(domain_event, _ATTR, None)
    if not stamp_:
        return EventContext()
    return EventContext(**stamp_)


class TracedAggregate(Aggregate):
    """Aggregate base class whose events remember what caused them, and which copies
    itself quickly (the repository copies a cached aggregate for each command)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        copied.__dict__.update(copy_state(self.__dict__, memo))
        return copied

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        super().trigger_event(event_class, **kwargs)
        stamp(self._pending_events[-1])

    @classmethod
    def _create(cls, event_class: Any, *, id: UUID | None = None, **kwargs: Any) -> Self:
        aggregate = super()._create(event_class, id=id, **kwargs)
        stamp(aggregate._pending_events[-1])
        return aggregate
