"""The causation stamp survives the store, and only events triggered inside a context get it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from orderflow_runtime.context import EventContext, context_of, current_context, event_context
from orderflow_runtime.probe import ProbeSink, Tally

CAUSE = EventContext(
    causation_id="6c0e7a43-58c5-4d63-9f5e-0c1f2d3a4b01",
    correlation_id="0b7f9f1c-2222-4c1e-8f00-0c1f2d3a4b02",
    traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
)
INNER = EventContext(causation_id="6c0e7a43-58c5-4d63-9f5e-0c1f2d3a4b03", correlation_id="inner")


def stored_events(app: ProbeSink, aggregate_id: UUID) -> list[Any]:
    """The aggregate's events as read back from the store (a fresh app: no cache involved)."""
    reader = ProbeSink(app.settings)
    try:
        return list(reader.repository.event_store.get(aggregate_id))
    finally:
        reader.close()


def test_events_triggered_inside_a_context_carry_its_stamp_after_a_reload(sink: ProbeSink) -> None:
    # Given a tally created and counted inside a context, then counted outside any
    with event_context(CAUSE):
        tally = Tally(1)
        tally.count_one("e1", "o1", 1)
    tally.count_one("e2", "o2", 2)

    # When it is saved and its events are read back from the store
    sink.save(tally)
    opened, counted_inside, counted_outside = stored_events(sink, tally.id)

    # Then the two events of the context carry its stamp, the third none
    assert context_of(opened) == CAUSE
    assert context_of(counted_inside) == CAUSE
    assert context_of(counted_outside) == EventContext()


def test_nested_contexts_stamp_the_innermost_and_restore_the_outer(sink: ProbeSink) -> None:
    # Given events triggered in an outer context, an inner one, and the outer again
    tally = Tally(2)
    with event_context(CAUSE):
        tally.count_one("e1", "o1", 1)
        with event_context(INNER):
            assert current_context() == INNER
            tally.count_one("e2", "o2", 2)
        assert current_context() == CAUSE
        tally.count_one("e3", "o3", 3)
    assert current_context() == EventContext()

    # When they are stored and read back
    sink.save(tally)
    _opened, *counted = stored_events(sink, tally.id)

    # Then each carries the context that was current when it was triggered
    assert [context_of(e) for e in counted] == [CAUSE, INNER, CAUSE]


def test_a_context_is_restored_when_its_block_raises(sink: ProbeSink) -> None:
    # When a block raises inside a context
    with pytest.raises(RuntimeError), event_context(CAUSE):
        raise RuntimeError("boom")

    # Then the context is gone afterwards, and new events carry no stamp
    assert current_context() == EventContext()
    tally = Tally(3)
    sink.save(tally)
    assert context_of(stored_events(sink, tally.id)[0]) == EventContext()


def test_an_empty_context_stamps_nothing(sink: ProbeSink) -> None:
    with event_context(EventContext()):
        tally = Tally(4)
    sink.save(tally)
    assert not hasattr(stored_events(sink, tally.id)[0], "caused_by")
