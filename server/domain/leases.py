"""Task leases: who is running a task right now, proved by a key that expires unless renewed.

The process running a task holds `{prefix}lease:{task_id}` and renews it every few seconds. If
the process or its machine dies, the lease lapses within its TTL, and any worker's housekeeping
puts the task back in the queue (`requeue_orphans`), instead of waiting for the broker's
visibility timeout (which must exceed the longest task: an hour or more). A second delivery of
the same message while the lease is held is not run twice.

In the embedded mode there is one process: start-up recovery does this job, and leases are no-ops.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from server.domain.task_store import TaskStore
from server.domain.tasks import Task, TaskStatus, utcnow

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_SWAP = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) end "
    "return false"
)


def holder_id() -> str:
    """host:pid:random — enough to tell, on the same host, whether the holder still lives."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """True only when the holder ran on this host and its process is gone (a killed pool child)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine: only its lease's expiry can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class TaskLeases(Protocol):
    """Who runs which task: NoLeases (embedded mode) or RedisTaskLeases (distributed)."""

    def acquire(self, task_id: str, holder: str) -> bool: ...
    def renew(self, task_id: str, holder: str) -> None: ...
    def release(self, task_id: str, holder: str) -> None: ...
    def held(self, task_id: str) -> bool: ...


class NoLeases:
    def acquire(self, task_id: str, holder: str) -> bool:
        return True

    def renew(self, task_id: str, holder: str) -> None:
        pass

    def release(self, task_id: str, holder: str) -> None:
        pass

    def held(self, task_id: str) -> bool:
        return False


class RedisTaskLeases:
    def __init__(self, client: Redis, prefix: str, ttl_s: float) -> None:
        self._redis = client
        self._prefix = prefix
        self.ttl_ms = int(ttl_s * 1000)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._swap = client.register_script(_SWAP)

    def _key(self, task_id: str) -> str:
        return f"{self._prefix}lease:{task_id}"

    def acquire(self, task_id: str, holder: str) -> bool:
        """Take the lease if it is free, or if its holder was a process on this host that died
        (Celery redelivers a killed pool child's task at once; it need not wait for the TTL)."""
        key = self._key(task_id)
        if self._redis.set(key, holder, nx=True, px=self.ttl_ms):
            return True
        current = self._redis.get(key)
        if current is None:
            return bool(self._redis.set(key, holder, nx=True, px=self.ttl_ms))
        current = current.decode() if isinstance(current, bytes) else current
        if holder_is_dead(current):
            log.info("task %s: lease holder %s is dead; taking over", task_id, current)
            return bool(self._swap(keys=[key], args=[current, holder, self.ttl_ms]))
        return False

    def renew(self, task_id: str, holder: str) -> None:
        self._renew(keys=[self._key(task_id)], args=[holder, self.ttl_ms])

    def release(self, task_id: str, holder: str) -> None:
        self._release(keys=[self._key(task_id)], args=[holder])

    def held(self, task_id: str) -> bool:
        return bool(self._redis.exists(self._key(task_id)))


class LeaseKeeper:
    """Renews a lease from a background thread while the work runs (`with LeaseKeeper(...)`)."""

    def __init__(self, leases: TaskLeases, task_id: str, holder: str, every_s: float) -> None:
        self._leases, self._task_id, self._holder, self._every = leases, task_id, holder, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{task_id[:8]}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._leases.renew(self._task_id, self._holder)
            except Exception as exc:  # Redis away: keep working; the outcome write retries too
                log.warning("task %s: lease not renewed (%s)", self._task_id, exc)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self._leases.release(self._task_id, self._holder)
        except Exception as exc:
            log.warning("task %s: lease not released (%s); it expires by itself", self._task_id, exc)


def requeue_orphans(store: TaskStore, leases: TaskLeases, publish: Callable[[Task], None], grace_s: float) -> list[str]:
    """Running tasks whose runner holds no lease any more go back to the queue (once: the
    RUNNING -> QUEUED transition is atomic, so concurrent reapers publish one message)."""
    cutoff = utcnow().timestamp() - grace_s
    requeued = []
    for task in store.find({TaskStatus.RUNNING}):
        if task.updated_at.timestamp() > cutoff or leases.held(task.id):
            continue
        if store.requeue(task.id) is not None:
            publish(task)
            requeued.append(task.id)
            log.warning("task %s: its runner is gone (no lease); put back in the queue", task.id)
    return requeued
