"""Task records held in the API process for status polls in the distributed mode, so that a poll of
an unchanged task costs a dict lookup instead of a Redis round trip.

Correct across nodes because every write to the Redis store publishes the task's id on the change
channel in the same transaction (redis_store.py), and the API process's one subscription
(RedisTaskEvents) drops the entry when the id arrives:

- A task finished, canceled or advanced on any node or worker is seen as soon as its message
  arrives; a write by this process drops the entry as soon as it lands (read your own writes).
- A read in flight when its task's message arrives is not kept: the message drops the flight with
  the entry, so a value read just before a write is never cached after that write's message.
- The cache is used only while the subscription is confirmed, and every confirmation (the first,
  and each one after redis-py reconnects by itself) empties it: messages may have been lost in the
  gap.
- An entry is served at most `max_age_s` after its read began, whatever its status: a message lost
  any other way (a connection dead without an error) leaves a stale status for at most that long.
- Concurrent misses of one task share one read; a task that does not exist is never cached.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from server.domain.tasks import Task

Fetch = Callable[[], Awaitable[Task | None]]


class TaskReadCache:
    MAX_AGE_S = 0.5
    MAX_ENTRIES = 10_000

    def __init__(
        self,
        max_age_s: float = MAX_AGE_S,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age_s = max_age_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, Task]] = {}  # id -> (when its read began, the task)
        self._flights: dict[str, asyncio.Task[Task | None]] = {}
        self._lock = threading.Lock()  # writes land in worker threads; reads and messages on the loop
        self._live = False

    @property
    def live(self) -> bool:
        return self._live

    def __len__(self) -> int:
        return len(self._entries)

    def subscribed(self) -> None:
        """The change subscription is (again) confirmed: start afresh and serve from the cache (unless
        `max_age_s` is 0: off)."""
        with self._lock:
            self._entries.clear()
            self._flights.clear()
            self._live = self._max_age_s > 0

    def suspend(self) -> None:
        """The subscription is lost or stopped: every read goes to the store until it is back."""
        with self._lock:
            self._live = False
            self._entries.clear()
            self._flights.clear()

    def invalidate(self, task_id: str) -> None:
        """The task changed (its message arrived, or this process wrote it)."""
        with self._lock:
            self._entries.pop(task_id, None)
            self._flights.pop(task_id, None)

    async def get(self, task_id: str, fetch: Fetch) -> Task | None:
        if not self._live:
            return await fetch()
        entry = self._entries.get(task_id)
        if entry is not None and self._clock() - entry[0] < self._max_age_s:
            return entry[1]
        loop = asyncio.get_running_loop()
        with self._lock:
            flight = self._flights.get(task_id)
            if flight is None or flight.get_loop() is not loop:
                flight = loop.create_task(self._fill(task_id, fetch, self._clock()))
                flight.add_done_callback(_retrieve)
                self._flights[task_id] = flight
        # Shielded: a caller that goes away does not cancel the read the others wait for.
        return await asyncio.shield(flight)

    async def _fill(self, task_id: str, fetch: Fetch, began: float) -> Task | None:
        me = asyncio.current_task()
        try:
            task = await fetch()
        except BaseException:
            with self._lock:
                if self._flights.get(task_id) is me:
                    del self._flights[task_id]
            raise
        with self._lock:
            if self._flights.get(task_id) is me:  # no message (or reset) since the read began
                del self._flights[task_id]
                if task is not None and self._live:
                    self._entries.pop(task_id, None)  # re-inserted last: eviction takes the oldest
                    self._entries[task_id] = (began, task)
                    while len(self._entries) > self._max_entries:
                        del self._entries[next(iter(self._entries))]
        return task


def _retrieve(flight: asyncio.Task[Task | None]) -> None:
    # Every waiter may have gone away: mark the outcome as seen, so asyncio logs nothing.
    if not flight.cancelled():
        flight.exception()
