"""Wake-ups when a task changes, so callers can wait for a task's end (or its next progress) without
polling the store.

Embedded: the SQLite store calls back in-process after each committed change (the workers are threads
of this process). Distributed: every write to the Redis store publishes the task id on one channel in
the same transaction; each API process keeps one subscription and wakes its local waiters. Either way
a wake-up only says "look again": the store stays the truth, and a waiter also looks again after a
fallback interval, so a lost message (Redis restarted) costs latency, never a wrong answer.

Distributed, the same messages keep the API process's cache of task records for status polls
(server/domain/task_cache.py) correct: each drops its task's entry before waking the waiters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncIterator

from server.domain.task_cache import TaskReadCache

log = logging.getLogger(__name__)


class Changes:
    """One waiter's view: `await changes.next(timeout)` returns True when the task changed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def notify_threadsafe(self) -> None:
        self._loop.call_soon_threadsafe(self._event.set)

    async def next(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True


class TaskEvents:
    """Registry of local waiters by task id, fed by `notify(task_id)` from any thread."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[Changes]] = defaultdict(set)
        self._lock = threading.Lock()

    def notify(self, task_id: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(task_id, ()))
        for changes in waiters:
            changes.notify_threadsafe()

    @contextlib.asynccontextmanager
    async def changes(self, task_id: str) -> AsyncIterator[Changes]:
        """Subscribe before reading the task's state, so a change between the read and the wait
        is not missed."""
        changes = Changes(asyncio.get_running_loop())
        with self._lock:
            self._waiters[task_id].add(changes)
        try:
            yield changes
        finally:
            with self._lock:
                waiters = self._waiters.get(task_id)
                if waiters is not None:
                    waiters.discard(changes)
                    if not waiters:
                        del self._waiters[task_id]

    async def start(self) -> None:
        """Nothing to start in-process; RedisTaskEvents subscribes here."""

    async def stop(self) -> None:
        pass


class RedisTaskEvents(TaskEvents):
    """TaskEvents fed by the Redis store's change channel (one subscription per API process)."""

    POLL_S = 1.0  # how long one read of the subscription waits; also bounds how long stop() takes

    def __init__(self, redis_url: str, channel: str, cache: TaskReadCache | None = None) -> None:
        super().__init__()
        self._url = redis_url
        self._channel = channel
        self._cache = cache  # the task store's read cache: live only while this subscription is
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        # A flag the loop checks after every bounded read, not only a cancellation: a cancel that
        # lands inside the Redis client's own reconnect handling must never hang a shutdown.
        self._stopping = True
        if self._cache is not None:
            self._cache.suspend()
        listener, self._listener = self._listener, None
        if listener is None:
            return
        _, pending = await asyncio.wait({listener}, timeout=self.POLL_S * 3)
        for task in pending:
            task.cancel()
            await asyncio.wait({task}, timeout=self.POLL_S)

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        while not self._stopping:  # reconnect after a Redis outage; waiters meanwhile fall back to polling
            client = aioredis.Redis.from_url(self._url, socket_connect_timeout=2)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                while not self._stopping:
                    message = await pubsub.get_message(timeout=self.POLL_S)
                    if message is not None:
                        self._received(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("task change subscription lost (%s); retrying in 1 s", exc)
                if self._cache is not None:
                    self._cache.suspend()  # polls read Redis until the next confirmation
                await asyncio.sleep(1.0)
            finally:
                for closing in (pubsub.aclose(), client.aclose()):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(closing, timeout=2)

    def _received(self, message: dict[str, object]) -> None:
        kind, data = message.get("type"), message.get("data")
        if kind == "subscribe" and not self._stopping:
            # Confirmed, the first time and after each reconnect redis-py makes by itself (it
            # subscribes again): messages from the gap are lost, so the cache starts afresh.
            if self._cache is not None:
                self._cache.subscribed()
        elif kind == "message" and isinstance(data, bytes):
            task_id = data.decode()
            if self._cache is not None:
                self._cache.invalidate(task_id)
            self.notify(task_id)
