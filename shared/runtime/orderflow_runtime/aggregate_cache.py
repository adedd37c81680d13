"""The aggregate cache, which never goes back to an older version of an aggregate.

eventsourcing's `Repository.get` reads an uncached aggregate from the store and then
puts it in the cache; a save puts the saved aggregate. Neither holds a lock across
the read and the put, so a load that read version 4 while another thread saved
version 5 can put its copy last. The cache is trusted (no fast-forward query per
load), so the process then shows version 4 until a write to the aggregate conflicts,
or until it restarts: an order's shipment read as "shipped" long after its delivery
was stored (seen in the soak test, after a restart of fulfillment).

`NewestVersionCache` refuses to put a version older than the one it holds, or than
the one it held when the aggregate was evicted (`forget` after a failed save).
"""

from __future__ import annotations

import threading
from typing import Any

from eventsourcing.application import LRUCache


class NewestVersionCache(LRUCache[Any, Any]):
    """An LRU cache of aggregates whose `put` never goes back to an older version."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        # Reentrant: `put` and `get` hold it across their check and the base class's call.
        self.lock = threading.RLock()  # type: ignore[assignment]
        self._evicted: dict[Any, int] = {}
        """The version each evicted aggregate had: a load that read less is not put."""

    def get(self, key: Any, *, evict: bool = False) -> Any:
        with self.lock:
            value = super().get(key, evict=evict)
            if evict:
                self._evicted[key] = _version(value)
                if len(self._evicted) > self.maxsize:
                    del self._evicted[next(iter(self._evicted))]  # the oldest eviction
            return value

    def put(self, key: Any, value: Any | None) -> Any | None:
        with self.lock:
            if value is not None:
                link = self.cache.get(key)
                held = _version(link[self.RESULT]) if link is not None else -1
                if _version(value) < max(held, self._evicted.get(key, -1)):
                    return None, None  # a load that read before a newer save: drop it
                self._evicted.pop(key, None)
            return super().put(key, value)


def _version(aggregate: Any) -> int:
    version = getattr(aggregate, "version", None)
    return version if isinstance(version, int) else -1
