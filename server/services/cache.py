"""A small response cache: in-process (embedded mode) or Redis (distributed: shared by API nodes).

Entries are JSON-safe values with a TTL. Invalidation is by key: callers put a generation token
in the key (e.g. the voice store's), so a change anywhere makes every node miss at once.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis import Redis


class Cache(Protocol):
    def get(self, key: str) -> Any | None: ...

    def set(self, key: str, value: Any, ttl_s: float) -> None: ...


class MemoryCache:
    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or hit[0] < time.monotonic():
                self._entries.pop(key, None)
                return None
            self._entries.move_to_end(key)
            return hit[1]

    def set(self, key: str, value: Any, ttl_s: float) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class RedisCache:
    def __init__(self, client: Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = f"{prefix}cache:"

    def get(self, key: str) -> Any | None:
        try:
            raw = self._redis.get(self._prefix + key)
        except Exception:
            return None  # a cache outage must not fail the request: compute instead
        return json.loads(raw) if raw else None

    def set(self, key: str, value: Any, ttl_s: float) -> None:
        with contextlib.suppress(Exception):  # a cache outage only costs the next request a miss
            self._redis.set(self._prefix + key, json.dumps(value), px=int(ttl_s * 1000))
