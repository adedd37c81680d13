"""The unit of work: one copy of each aggregate, one transaction for all it changed."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking
from orderflow_runtime.probe import PlacedOrder, ProbeSink, Tally, sample_order
from orderflow_runtime.uow import UnitOfWork


def test_get_twice_returns_the_same_object_with_its_changes(sink: ProbeSink) -> None:
    sink.save(Tally(1))
    uow = UnitOfWork(sink)

    first = uow.get(Tally.create_id(1), Tally)
    first.count_one("e1", "o1", 1)
    second = uow.get(Tally.create_id(1), Tally)

    assert second is first
    assert second.count == 1


def test_find_is_none_for_a_missing_aggregate_and_get_raises(sink: ProbeSink) -> None:
    uow = UnitOfWork(sink)

    assert uow.find(Tally.create_id(5), Tally) is None
    with pytest.raises(AggregateNotFoundError):
        uow.get(Tally.create_id(5), Tally)


def test_get_with_the_wrong_kind_raises_type_error(sink: ProbeSink) -> None:
    order = PlacedOrder(sample_order(uuid.uuid4()).model_dump(mode="json"))
    sink.save(order)
    uow = UnitOfWork(sink)

    with pytest.raises(TypeError, match="is a PlacedOrder, not Tally"):
        uow.get(order.id, Tally)
    with pytest.raises(TypeError):
        uow.find(order.id, Tally)


def test_commit_saves_everything_in_one_transaction_with_the_positions(sink: ProbeSink) -> None:
    # Given a unit of work that changed a loaded tally and added two new ones
    sink.save(Tally(1))
    uow = UnitOfWork(sink)
    uow.get(Tally.create_id(1), Tally).count_one("e1", "o1", 3)
    uow.add(Tally(2))
    added = Tally(3)
    added.count_one("e2", "o2", 4)
    uow.add(added)

    # When it commits with two positions
    uow.commit([Tracking("orders.events:0", 3), Tracking("orders.events:1", 4)])

    # Then all changes and both positions are stored
    assert sink.max_notification_id() == 1 + 4
    assert sink.repository.get(Tally.create_id(1)).count == 1
    assert sink.repository.get(Tally.create_id(3)).count == 1
    assert sink.position("orders.events:0") == 3
    assert sink.position("orders.events:1") == 4


def test_a_rejected_commit_stores_none_of_its_changes(sink: ProbeSink) -> None:
    # Given a position already past the one this unit of work reached
    sink.save(trackings=[Tracking("orders.events:0", 10)])
    uow = UnitOfWork(sink)
    uow.add(Tally(1))
    uow.add(Tally(2))

    # When it commits
    with pytest.raises(IntegrityError):
        uow.commit([Tracking("orders.events:0", 10)])

    # Then neither tally was stored
    assert sink.max_notification_id() == 0
    assert UnitOfWork(sink).find(Tally.create_id(1), Tally) is None


def test_after_commit_the_next_get_loads_the_saved_state(sink: ProbeSink) -> None:
    uow = UnitOfWork(sink)
    tally = Tally(1)
    uow.add(tally)
    uow.commit()

    reloaded = uow.get(tally.id, Tally)

    assert reloaded is not tally  # a fresh copy from the store's cache, not the one committed
    assert reloaded.version == 1
