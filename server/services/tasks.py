"""Task operations the HTTP layer calls: submit, look up by owner, read artifacts. No HTTP here."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from anyio import to_thread

from server.dispatch.base import Dispatcher
from server.domain.artifacts import ArtifactStore
from server.domain.errors import NotFound, QueueUnavailable, TaskNotReady
from server.domain.task_store import TaskStore, TooManyActive
from server.domain.tasks import Task, TaskKind, TaskLane, TaskStatus
from server.services.quota import too_many_tasks
from server.services.task_events import TaskEvents
from server.services.task_stream import LocalTaskStream, StreamItem, TaskStream

log = logging.getLogger(__name__)


class TaskService:
    # A waiter looks at the store again at least this often even without a wake-up, so a lost
    # notification (a Redis restart) delays it by at most this much.
    FALLBACK_POLL_S = 2.0

    def __init__(
        self,
        store: TaskStore,
        artifacts: ArtifactStore,
        dispatcher: Dispatcher,
        events: TaskEvents | None = None,
        streams: TaskStream | None = None,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.dispatcher = dispatcher
        self.events = events if events is not None else TaskEvents()
        self.streams = streams if streams is not None else LocalTaskStream()

    @contextlib.contextmanager
    def staging(self, task_id: str) -> Iterator[None]:
        """Wrap everything from the first staged byte to the accepted task: if any check fails
        (or the client goes away), the task's staged files are removed and nothing lingers."""
        try:
            yield
        except BaseException:
            self.artifacts.remove_task(task_id)
            raise

    def submit(
        self,
        kind: TaskKind,
        owner: str,
        params: dict[str, Any],
        task_id: str,
        plan=None,
        lane: TaskLane = TaskLane.BATCH,
        origin: dict[str, Any] | None = None,
    ) -> Task:
        """Record the task and hand it to the workers. Call it inside `staging(task_id)`, which
        removes the staged inputs if this fails."""
        task = Task.new(kind, owner, params, task_id=task_id, lane=lane, origin=origin)
        max_active = plan.max_concurrent_tasks if plan is not None else None
        try:
            self.store.create(task, max_active=max_active)
        except TooManyActive as exc:
            raise too_many_tasks(plan, exc) from None
        except Exception as exc:
            raise QueueUnavailable("the task store is unreachable; try again shortly") from exc
        try:
            self.dispatcher.enqueue(task)
        except QueueUnavailable:
            # Nothing half-accepted: the client got no task id, so the record must not linger.
            try:
                self.store.delete(task_id)
            except Exception:
                log.warning("could not delete the record of rejected task %s", task_id)
            raise
        return task

    def get(self, task_id: str, owner: str, kind: TaskKind) -> Task:
        """The task if it exists, is of this kind and belongs to `owner`; otherwise 404 (never
        403: a caller must not learn that someone else's id exists)."""
        try:
            task = self.store.get(task_id)
        except Exception as exc:
            raise QueueUnavailable("the task store is unreachable; try again shortly") from exc
        if task is None or task.owner != owner or task.kind is not kind:
            raise NotFound(f"no {kind.value} task with id {task_id!r}", code="task_not_found")
        return task

    def finished(self, task_id: str, owner: str, kind: TaskKind) -> Task:
        task = self.get(task_id, owner, kind)
        if task.status is TaskStatus.FAILED:
            raise TaskNotReady(
                f"the task failed ({task.error.code if task.error else 'unknown'}); it has no result",
                code="task_failed",
                status=task.status.value,
            )
        if task.status is not TaskStatus.SUCCEEDED:
            raise TaskNotReady(
                f"the task is {task.status.value}; its result is not ready",
                status=task.status.value,
                progress=task.progress,
            )
        return task

    async def watch(self, task_id: str, owner: str, kind: TaskKind, timeout: float) -> AsyncIterator[Task]:
        """The task now, then again each time it changes (progress, status), until it has ended or
        `timeout` seconds have passed. The seam for following a running task's partial output."""
        deadline = time.monotonic() + timeout
        async with self.events.changes(task_id) as changes:  # subscribed before the first read
            last = None
            while True:
                task = await to_thread.run_sync(self.get, task_id, owner, kind)
                if task != last:
                    yield task
                    last = task
                remaining = deadline - time.monotonic()
                if task.status.terminal or remaining <= 0:
                    return
                await changes.next(min(remaining, self.FALLBACK_POLL_S))

    async def wait(self, task_id: str, owner: str, kind: TaskKind, timeout: float) -> Task:
        """Return as soon as the task has ended, or its state when `timeout` runs out."""
        task = None
        async for task in self.watch(task_id, owner, kind, timeout):  # noqa: B007 - the last one counts
            pass
        return task  # type: ignore[return-value] - watch yields at least once (or raises NotFound)

    async def follow(self, task_id: str, owner: str, kind: TaskKind) -> AsyncIterator[StreamItem]:
        """The task's partial output (see task_stream.py) from its first item until it ends. 404 for
        someone else's task, as `get`. May raise StreamTruncated when items were dropped."""
        await to_thread.run_sync(self.get, task_id, owner, kind)

        async def is_over() -> bool:
            task = await to_thread.run_sync(self.get, task_id, owner, kind)
            return task.status.terminal

        async for item in self.streams.follow(task_id, is_over, self.FALLBACK_POLL_S):
            yield item
