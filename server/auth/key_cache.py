"""Verified API keys remembered in-process, so a repeat request costs a hash and a dict lookup
instead of a store round trip.

Entries are keyed by the key's SHA-256 (the plaintext is never kept) and live `ttl_s`. What bounds
how long a revoked key or an old plan can still be honoured is the store's generation
(KeyStore.generation, bumped atomically with every revocation and plan change): the cache reads it
at most every `check_every_s`, and a request is answered from the cache only if the last read
*started* less than `check_every_s` ago, so a change made anywhere is felt on every node within
`check_every_s` plus one store round trip. When the generation moved, every entry is dropped: changes
are rare, and a refill costs one lookup per active key. Changes made through this process's own
KeyStore clear the cache at once (KeyStore.on_change).

No web framework here: the caller (the HTTP identity dependency today) passes a plaintext key.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from anyio import to_thread

from server.auth.keys import KEY_PREFIX, ApiKey, KeyStore, RedisKeyStore, hash_key

if TYPE_CHECKING:
    from server.settings import Settings

Generation = Callable[[], Awaitable[int]]


@dataclass(frozen=True)
class _Entry:
    key_hash: str
    key: ApiKey
    expires_at: float


class VerifiedKeyCache:
    def __init__(
        self,
        store: KeyStore,
        generation: Generation,
        ttl_s: float = 10.0,
        check_every_s: float = 0.5,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._read_generation = generation
        self._ttl_s = ttl_s
        self._check_every_s = check_every_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._generation: int | None = None
        self._fresh_until = float("-inf")
        self._check: asyncio.Future | None = None
        store.on_change(self.clear)

    def clear(self) -> None:
        # Rebinding rather than clearing in place: a listener may call this from another thread
        # while the loop iterates the old dict.
        self._entries = {}
        self._generation = None  # anything looked up before this moment must not be stored
        self._fresh_until = float("-inf")

    async def authenticate(self, plaintext: str) -> ApiKey | None:
        """The active key for this secret, or None; from the cache when it may answer, else the store."""
        if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > 256:
            return None
        try:
            await self._ensure_fresh()
        except Exception:
            self.clear()  # cannot tell what changed: trust nothing cached, ask the store (which may fail too)
        digest = hash_key(plaintext)
        entry = self._entries.get(digest)
        # The dict lookup already matched the digest; comparing the entry's own hash as well means a
        # mis-filed entry can never authenticate a different key.
        if entry is not None and entry.expires_at > self._clock() and hmac.compare_digest(entry.key_hash, digest):
            return entry.key
        seen = self._generation
        key = await to_thread.run_sync(self._store.authenticate, plaintext)
        if key is not None and seen is not None and seen == self._generation:
            self._remember(digest, key)
        return key

    def _remember(self, digest: str, key: ApiKey) -> None:
        if len(self._entries) >= self._max_entries:
            now = self._clock()
            self._entries = {h: e for h, e in self._entries.items() if e.expires_at > now}
            while len(self._entries) >= self._max_entries:  # all live: drop the oldest
                del self._entries[next(iter(self._entries))]
        self._entries[digest] = _Entry(digest, key, self._clock() + self._ttl_s)

    async def _ensure_fresh(self) -> None:
        if self._clock() < self._fresh_until:
            return
        # One read of the generation at a time; requests arriving meanwhile wait for the same one.
        check = self._check
        if check is None or check.done() or check.get_loop() is not asyncio.get_running_loop():
            check = self._check = asyncio.ensure_future(self._refresh())
        await asyncio.shield(check)  # a cancelled request must not cancel the others' check

    async def _refresh(self) -> None:
        started = self._clock()
        generation = await self._read_generation()
        if generation != self._generation:
            self._entries = {}
            self._generation = generation
        self._fresh_until = started + self._check_every_s


def _generation_reader(settings: Settings, store: KeyStore) -> Generation:
    if isinstance(store, RedisKeyStore):
        from server.domain.async_redis import LoopBoundRedis

        assert settings.redis_url, "a Redis key store comes from a configured Redis URL"
        redis = LoopBoundRedis(settings.redis_url)
        name = store.generation_key

        async def from_redis() -> int:
            return int(await redis.client().get(name) or 0)

        return from_redis

    async def from_sqlite() -> int:
        # One row by primary key, a few microseconds, at most twice a second: cheaper on the loop
        # than a hop to a worker thread.
        return store.generation()

    return from_sqlite


def open_key_cache(settings: Settings, store: KeyStore) -> VerifiedKeyCache:
    auth = settings.auth
    return VerifiedKeyCache(
        store,
        _generation_reader(settings, store),
        ttl_s=auth.key_cache_ttl_s,
        check_every_s=auth.key_check_interval_s,
    )
