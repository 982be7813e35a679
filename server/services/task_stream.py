"""A running task's partial output, from the worker that makes it to any front-end that follows it.

Protocol-neutral: an item is (seq, kind, data bytes, small meta dict). The TTS job publishes
`audio` items (the task's own format, encoded, in order: joined they are a playable stream); the STT
job publishes `segment` items (meta: id, start, end, text) as Whisper decodes them. A front-end
(the OpenAI routes, /v1/tts/{id}/audio, a Wyoming server) turns them into its wire format.

Worker side (`StreamPublisher`): `reset(task_id)` when an attempt starts, `publish(...)` per piece,
`end(task_id)` before the outcome is stored, so whoever sees the task ended has seen every item.
API side: `async for item in streams.follow(task_id, is_over)`: from the first item (a late
follower gets everything still kept), ending at the end marker, or when `is_over()` says the task
ended without one (a worker that died), after draining what is there.

Embedded (`LocalTaskStream`): in memory, the workers being threads of this process. Distributed
(`RedisTaskStream`): one Redis Stream per task (`<prefix>stream:<task_id>`): ordered, capped at
`max_items` entries (XADD MAXLEN ~), expiring `retain_s` after the end (or the time limit after the
last item, if the worker died), readable from every API node. A follower that finds items already
trimmed away gets `StreamTruncated` (check `StreamItem.seq`): the whole result is in the task's
artifacts once it has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from redis import Redis
    from redis.typing import EncodableT, FieldT

    from server.settings import Settings

log = logging.getLogger(__name__)

AUDIO = "audio"
SEGMENT = "segment"
_END = "end"

IsOver = Callable[[], Awaitable[bool]]
Meta = dict[str, Any]  # an item's small JSON-safe description


@dataclass(frozen=True)
class StreamItem:
    seq: int  # 0, 1, 2… within the task's current attempt
    kind: str
    data: bytes = b""
    meta: Meta = field(default_factory=dict)


class StreamTruncated(Exception):
    """Items the follower has not seen were dropped (the stream's cap): the stream is incomplete."""


class StreamPublisher(Protocol):
    def reset(self, task_id: str) -> None: ...

    def publish(self, task_id: str, kind: str, data: bytes = b"", meta: Meta | None = None) -> None: ...

    def end(self, task_id: str) -> None: ...


class TaskStream(StreamPublisher, Protocol):
    def follow(self, task_id: str, is_over: IsOver, poll_s: float = 2.0) -> AsyncIterator[StreamItem]: ...


class _Log:
    def __init__(self, max_items: int) -> None:
        self.items: deque[StreamItem] = deque(maxlen=max_items)
        self.next_seq = 0
        self.ended_at: float | None = None
        self.waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def wake(self) -> None:
        for loop, event in list(self.waiters):
            with contextlib.suppress(RuntimeError):  # a loop that has closed
                loop.call_soon_threadsafe(event.set)


class LocalTaskStream:
    """In-process streams for the embedded mode; publish from any thread, follow from asyncio."""

    def __init__(self, max_items: int = 10_000, retain_s: float = 300.0) -> None:
        self._max_items = max_items
        self._retain_s = retain_s
        self._logs: dict[str, _Log] = {}
        self._lock = threading.Lock()

    def reset(self, task_id: str) -> None:
        with self._lock:
            self._sweep()
            old = self._logs.pop(task_id, None)
            log = self._logs[task_id] = _Log(self._max_items)
            if old is not None:
                log.waiters = old.waiters
        log.wake()

    def publish(self, task_id: str, kind: str, data: bytes = b"", meta: Meta | None = None) -> None:
        with self._lock:
            log = self._log(task_id)
            log.items.append(StreamItem(log.next_seq, kind, bytes(data), dict(meta or {})))
            log.next_seq += 1
        log.wake()

    def end(self, task_id: str) -> None:
        with self._lock:
            log = self._log(task_id)
            log.ended_at = time.monotonic()
        log.wake()

    async def follow(self, task_id: str, is_over: IsOver, poll_s: float = 2.0) -> AsyncIterator[StreamItem]:
        event, seq = asyncio.Event(), 0
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            self._log(task_id).waiters.add(waiter)
        try:
            while True:
                event.clear()
                with self._lock:
                    log = self._log(task_id)
                    log.waiters.add(waiter)  # again: reset() may have replaced the log
                    fresh = [item for item in log.items if item.seq >= seq]
                    ended = log.ended_at is not None
                if fresh and fresh[0].seq > seq:
                    raise StreamTruncated(f"items {seq}..{fresh[0].seq - 1} of task {task_id} were dropped")
                for item in fresh:
                    yield item
                    seq = item.seq + 1
                if ended:
                    return
                if fresh:
                    continue
                try:
                    await asyncio.wait_for(event.wait(), poll_s)
                except TimeoutError:
                    if await is_over():
                        with self._lock:
                            rest = [item for item in self._log(task_id).items if item.seq >= seq]
                        for item in rest:
                            yield item
                        return
        finally:
            with self._lock:
                if (current := self._logs.get(task_id)) is not None:
                    current.waiters.discard(waiter)

    def _log(self, task_id: str) -> _Log:
        log = self._logs.get(task_id)
        if log is None:
            log = self._logs[task_id] = _Log(self._max_items)
        return log

    def _sweep(self) -> None:
        cutoff = time.monotonic() - self._retain_s
        for task_id in [t for t, log in self._logs.items() if log.ended_at is not None and log.ended_at < cutoff]:
            del self._logs[task_id]


class RedisTaskStream:
    """One Redis Stream per task. Publishing uses the worker's synchronous client; following uses
    redis.asyncio (XREAD BLOCK), one connection pool per API process."""

    def __init__(
        self,
        client: Redis,
        redis_url: str,
        prefix: str,
        max_items: int = 10_000,
        retain_s: float = 300.0,
        live_s: float = 3600,
    ) -> None:
        self._client = client
        self._url = redis_url
        self._prefix = prefix
        self._max_items = max_items
        self._retain_s = int(retain_s)
        self._live_s = int(live_s)
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()
        self._async: aioredis.Redis | None = None

    def key(self, task_id: str) -> str:
        return f"{self._prefix}stream:{task_id}"

    def reset(self, task_id: str) -> None:
        with self._lock:
            self._seq[task_id] = 0
        self._advisory(task_id, lambda: self._client.delete(self.key(task_id)))

    def publish(self, task_id: str, kind: str, data: bytes = b"", meta: Meta | None = None) -> None:
        with self._lock:
            seq = self._seq.get(task_id, 0)
            self._seq[task_id] = seq + 1
        fields: dict[FieldT, EncodableT] = {"s": seq, "k": kind, "d": bytes(data), "m": json.dumps(meta or {})}
        pipe = self._client.pipeline(transaction=False)
        pipe.xadd(self.key(task_id), fields, maxlen=self._max_items, approximate=True)
        pipe.expire(self.key(task_id), self._live_s)
        self._advisory(task_id, pipe.execute)

    def end(self, task_id: str) -> None:
        with self._lock:
            seq = self._seq.pop(task_id, 0)
        pipe = self._client.pipeline(transaction=False)
        pipe.xadd(self.key(task_id), {"s": seq, "k": _END, "d": b"", "m": "{}"})
        pipe.expire(self.key(task_id), self._retain_s)
        self._advisory(task_id, pipe.execute)

    @staticmethod
    def _advisory(task_id: str, write: Callable[[], object]) -> None:
        """Partial output is advisory, like progress: a Redis blip must not fail the task. A lost
        item leaves a gap in `seq`, so its followers get StreamTruncated and read the stored result
        once the task has ended; a lost end marker, and they stop when `is_over()` says it ended."""
        from redis.exceptions import RedisError

        try:
            write()
        except RedisError as exc:
            log.warning("task %s: partial output not published (%s)", task_id, exc)

    async def follow(self, task_id: str, is_over: IsOver, poll_s: float = 2.0) -> AsyncIterator[StreamItem]:
        client, key = self._async_client(), self.key(task_id)
        last_id, seq = "0-0", 0
        draining = False
        while True:
            block = None if draining else int(poll_s * 1000)
            reply = await client.xread({key: last_id}, count=256, block=block)
            entries = _entries(reply)
            for entry_id, fields in entries:
                last_id = entry_id
                item = _decode(fields)
                if item.kind == _END:
                    return
                if item.seq < seq:  # the stream was reset (a new attempt): start over
                    raise StreamTruncated(f"task {task_id} restarted its output")
                if item.seq > seq:
                    raise StreamTruncated(f"items {seq}..{item.seq - 1} of task {task_id} were dropped")
                seq = item.seq + 1
                yield item
            if draining:
                return
            if not entries and await is_over():
                draining = True  # ended without an end marker (a worker died): take what is there

    def _async_client(self) -> aioredis.Redis:
        if self._async is None:
            import redis.asyncio as aioredis

            self._async = aioredis.Redis.from_url(self._url, socket_connect_timeout=2, health_check_interval=15)
        return self._async

    async def close(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None


def _entries(reply: object) -> list[tuple[Any, dict[Any, Any]]]:
    """XREAD's entries of the one stream read: [[key, [(id, fields), …]]] (RESP2) or {key: […]} (RESP3)."""
    if isinstance(reply, dict) and reply:
        return list(next(iter(reply.values())))
    if isinstance(reply, list) and reply:
        return list(reply[0][1])
    return []


def _decode(fields: dict[Any, Any]) -> StreamItem:
    get = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}.get
    kind = get("k", b"").decode()
    return StreamItem(int(get("s", b"0")), kind, bytes(get("d", b"")), json.loads(get("m", b"{}") or b"{}"))


def open_task_stream(settings: Settings) -> LocalTaskStream | RedisTaskStream:
    worker = settings.worker
    if settings.redis_url:
        from server.domain.factory import redis_client

        return RedisTaskStream(
            redis_client(settings.redis_url),
            settings.redis_url,
            settings.redis_prefix,
            max_items=worker.stream_max_items,
            retain_s=worker.stream_retain_s,
            live_s=worker.task_time_limit_s,
        )
    return LocalTaskStream(max_items=worker.stream_max_items, retain_s=worker.stream_retain_s)
