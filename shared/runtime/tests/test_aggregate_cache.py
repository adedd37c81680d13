"""The aggregate cache never goes back to an older version (see aggregate_cache)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from orderflow_runtime.aggregate_cache import NewestVersionCache


@dataclass
class Copy:
    version: int


def test_a_put_of_an_older_version_keeps_the_newer_one() -> None:
    cache = NewestVersionCache(10)
    cache.put("a", Copy(5))

    cache.put("a", Copy(4))  # a load that read the store before version 5 was saved

    assert cache.get("a") == Copy(5)
    cache.put("a", Copy(6))
    assert cache.get("a") == Copy(6)


def test_after_an_eviction_only_a_version_at_least_as_new_is_put() -> None:
    # Given version 5 cached, then evicted (a failed save forgets it)
    cache = NewestVersionCache(10)
    cache.put("a", Copy(5))
    assert cache.get("a", evict=True) == Copy(5)

    # When a load that read version 4 (before the eviction) puts it
    cache.put("a", Copy(4))

    # Then it is not cached; a reload of version 5 or newer is, and lifts the floor
    with pytest.raises(KeyError):
        cache.get("a")
    cache.put("a", Copy(5))
    assert cache.get("a") == Copy(5)
    cache.get("a", evict=True)
    cache.put("a", Copy(7))
    cache.put("a", Copy(6))
    assert cache.get("a") == Copy(7)


def test_the_eviction_floors_are_bounded_by_the_cache_size() -> None:
    cache = NewestVersionCache(2)
    for key in "abc":
        cache.put(key, Copy(3))
        cache.get(key, evict=True)

    cache.put("a", Copy(1))  # the oldest floor was dropped: a plain miss-then-put again
    cache.put("c", Copy(1))

    assert cache.get("a") == Copy(1)
    with pytest.raises(KeyError):
        cache.get("c")


def test_a_full_cache_still_drops_the_least_recently_used_aggregate() -> None:
    cache = NewestVersionCache(2)
    cache.put("a", Copy(1))
    cache.put("b", Copy(1))
    cache.get("a")
    cache.put("c", Copy(1))

    with pytest.raises(KeyError):
        cache.get("b")
    assert (cache.get("a"), cache.get("c")) == (Copy(1), Copy(1))
