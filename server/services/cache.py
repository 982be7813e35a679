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

    from server.domain.async_redis import LoopBoundRedis


class Cache(Protocol):
    def get(self, key: str) -> Any | None: ...

    async def aget(self, key: str) -> Any | None:
        """`get` awaited on the event loop (no thread hop): the cached request path."""

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

    async def aget(self, key: str) -> Any | None:
        return self.get(key)  # a dict read under a lock held for microseconds

    def set(self, key: str, value: Any, ttl_s: float) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class TieredCache:
    """An in-process cache in front of a shared one (distributed mode): a hit costs a dict lookup
    instead of a Redis round trip and a JSON parse. Safe because keys carry their generation (a
    change anywhere makes a new key, so no node serves an old one); what the TTL bounds (the
    catalog's task counts) may be served up to `local_ttl_s` longer than the shared entry lives."""

    def __init__(self, shared: Cache, local_ttl_s: float = 5.0, max_entries: int = 1024) -> None:
        self._shared = shared
        self._local = MemoryCache(max_entries)
        self._local_ttl_s = local_ttl_s

    def get(self, key: str) -> Any | None:
        if (value := self._local.get(key)) is not None:
            return value
        if (value := self._shared.get(key)) is not None:
            self._local.set(key, value, self._local_ttl_s)
        return value

    async def aget(self, key: str) -> Any | None:
        if (value := self._local.get(key)) is not None:
            return value
        if (value := await self._shared.aget(key)) is not None:
            self._local.set(key, value, self._local_ttl_s)
        return value

    def set(self, key: str, value: Any, ttl_s: float) -> None:
        self._shared.set(key, value, ttl_s)
        self._local.set(key, value, min(ttl_s, self._local_ttl_s))


class RedisCache:
    def __init__(self, client: Redis, prefix: str, async_redis: LoopBoundRedis | None = None) -> None:
        self._redis = client
        self._prefix = f"{prefix}cache:"
        self._async_redis = async_redis  # a LoopBoundRedis, for aget

    def get(self, key: str) -> Any | None:
        try:
            raw = self._redis.get(self._prefix + key)
        except Exception:
            return None  # a cache outage must not fail the request: compute instead
        return json.loads(raw) if raw else None

    async def aget(self, key: str) -> Any | None:
        if self._async_redis is None:
            return self.get(key)
        try:
            raw = await self._async_redis.client().get(self._prefix + key)
        except Exception:
            return None
        return json.loads(raw) if raw else None

    def set(self, key: str, value: Any, ttl_s: float) -> None:
        with contextlib.suppress(Exception):  # a cache outage only costs the next request a miss
            self._redis.set(self._prefix + key, json.dumps(value), px=int(ttl_s * 1000))
