"""A deep copy of aggregate state that does not copy what cannot change.

eventsourcing hands out a deep copy of a cached aggregate for every command, so that
a command failing half-way cannot corrupt the cache. `copy.deepcopy` rebuilds every
UUID and datetime through `__reduce_ex__`: py-spy put copying at an eighth of the
cart's CPU at full load. `copy_state` shares immutable values, copies dicts and lists
itself (shared references stay shared, as with `deepcopy`) and hands anything else to
`copy.deepcopy`. Dict keys are shared: a key is hashable, so it does not change.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

_IMMUTABLE: frozenset[type] = frozenset(
    {str, int, float, bool, bytes, type(None), Decimal, UUID, datetime, date, time, timedelta}
)


def copy_state(value: Any, memo: dict[int, Any]) -> Any:
    """`copy.deepcopy(value, memo)`, faster for the types aggregate state is made of."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        copied = memo.get(id(value))
        if copied is None:
            copied = memo[id(value)] = {}
            for key, item in value.items():
                copied[key] = item if type(item) in _IMMUTABLE else copy_state(item, memo)
            _keep_alive(value, memo)
        return copied
    if kind is list:
        copied = memo.get(id(value))
        if copied is None:
            copied = memo[id(value)] = []
            copied.extend(
                item if type(item) in _IMMUTABLE else copy_state(item, memo) for item in value
            )
            _keep_alive(value, memo)
        return copied
    if isinstance(value, Enum):
        return value
    return copy.deepcopy(value, memo)


def _keep_alive(value: Any, memo: dict[int, Any]) -> None:
    """Hold `value` as long as `memo`, as `copy.deepcopy` does: while the copy runs, no
    other object can be given its id (and so be taken for its copy)."""
    memo.setdefault(id(memo), []).append(value)
