"""Task operations the HTTP layer calls: submit, look up by owner, read artifacts. No HTTP here."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from anyio import to_thread

from server.auth.plans import Plan
from server.dispatch.base import Dispatcher
from server.domain.artifacts import ArtifactStore
from server.domain.errors import BadRequest, NotFound, QueueUnavailable, TaskNotReady
from server.domain.task_store import TaskQuery, TaskStore, TooManyActive
from server.domain.tasks import Task, TaskKind, TaskLane, TaskStatus
from server.domain.webhook_queue import WebhookQueue
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
        webhooks: WebhookQueue | None = None,
        streams: TaskStream | None = None,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.dispatcher = dispatcher
        self.events = events if events is not None else TaskEvents()
        self.webhooks = webhooks  # the webhook queue: a canceled task's callback is sent too
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
        plan: Plan | None = None,
        lane: TaskLane = TaskLane.BATCH,
        charge: dict[str, int] | None = None,
        webhook: dict[str, Any] | None = None,
        origin: dict[str, Any] | None = None,
    ) -> Task:
        """Record the task and hand it to the workers. Call it inside `staging(task_id)`, which
        removes the staged inputs if this fails."""
        task = Task.new(kind, owner, params, task_id=task_id, lane=lane, charge=charge, webhook=webhook, origin=origin)
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
        return self._owned(task, task_id, owner, kind)

    async def aget(self, task_id: str, owner: str, kind: TaskKind) -> Task:
        """`get` for the event loop: what status polls use."""
        try:
            task = await self.store.aget(task_id)
        except Exception as exc:
            raise QueueUnavailable("the task store is unreachable; try again shortly") from exc
        return self._owned(task, task_id, owner, kind)

    @staticmethod
    def _owned(task: Task | None, task_id: str, owner: str, kind: TaskKind) -> Task:
        if task is None or task.owner != owner or task.kind is not kind:
            raise NotFound(f"no {kind.value} task with id {task_id!r}", code="task_not_found")
        return task

    def list_tasks(self, owner: str, query: TaskQuery) -> tuple[list[Task], str | None]:
        """One page of the owner's tasks, newest first, and the cursor of the next page (None: last)."""
        try:
            tasks = self.store.list_owned(owner, replace(query, limit=query.limit + 1))
        except Exception as exc:
            raise QueueUnavailable("the task store is unreachable; try again shortly") from exc
        page = tasks[: query.limit]
        more = len(tasks) > query.limit
        return page, encode_cursor(page[-1]) if more and page else None

    def cancel(self, task_id: str, owner: str, kind: TaskKind) -> tuple[Task, bool]:
        """(the task now, whether this call canceled it). A finished task is forgotten instead:
        its files and record are deleted."""
        task = self.get(task_id, owner, kind)
        try:
            if not task.status.terminal:
                current, canceled = self.store.cancel(task_id)
                if canceled and current is not None:  # canceled implies the task still exists
                    self.artifacts.remove_task(task_id)
                    if current is not None and current.webhook and self.webhooks is not None:
                        self.webhooks.schedule(task_id)
                    return current, True
                task = current or task  # it ended meanwhile: forget it like any finished task
            self.artifacts.remove_task(task_id)
            self.store.delete(task_id)
        except Exception as exc:
            raise QueueUnavailable("the task store is unreachable; try again shortly") from exc
        return task, False

    def finished(self, task_id: str, owner: str, kind: TaskKind) -> Task:
        task = self.get(task_id, owner, kind)
        if task.status is TaskStatus.FAILED:
            raise TaskNotReady(
                f"the task failed ({task.error.code if task.error else 'unknown'}); it has no result",
                code="task_failed",
                status=task.status.value,
            )
        if task.status is TaskStatus.CANCELED:
            raise TaskNotReady("the task was canceled; it has no result", code="task_canceled", status="canceled")
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
        last: Task | None = None
        async for task in self.watch(task_id, owner, kind, timeout):
            last = task
        if last is None:  # unreachable: watch yields the task at least once, or raises NotFound
            raise RuntimeError(f"watching task {task_id} yielded nothing")
        return last

    async def follow(self, task_id: str, owner: str, kind: TaskKind) -> AsyncIterator[StreamItem]:
        """The task's partial output (see task_stream.py) from its first item until it ends. 404 for
        someone else's task, as `get`. May raise StreamTruncated when items were dropped."""
        await to_thread.run_sync(self.get, task_id, owner, kind)

        async def is_over() -> bool:
            task = await to_thread.run_sync(self.get, task_id, owner, kind)
            return task.status.terminal

        async for item in self.streams.follow(task_id, is_over, self.FALLBACK_POLL_S):
            yield item


def encode_cursor(task: Task) -> str:
    """An opaque cursor: the position (created_at, id) after which the next page starts."""
    raw = json.dumps([task.created_at.isoformat(), task.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, task_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created_at), str(task_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadRequest("the cursor is not one this server gave out", code="invalid_cursor") from exc
