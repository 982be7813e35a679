"""Task operations the HTTP layer calls: submit, look up by owner, read artifacts. No HTTP here."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from server.dispatch.base import Dispatcher
from server.domain.artifacts import ArtifactStore
from server.domain.errors import NotFound, QueueUnavailable, TaskNotReady
from server.domain.task_store import TaskStore, TooManyActive
from server.domain.tasks import Task, TaskKind, TaskStatus
from server.services.quota import too_many_tasks

log = logging.getLogger(__name__)


class TaskService:
    def __init__(self, store: TaskStore, artifacts: ArtifactStore, dispatcher: Dispatcher) -> None:
        self.store = store
        self.artifacts = artifacts
        self.dispatcher = dispatcher

    @contextlib.contextmanager
    def staging(self, task_id: str) -> Iterator[None]:
        """Wrap everything from the first staged byte to the accepted task: if any check fails
        (or the client goes away), the task's staged files are removed and nothing lingers."""
        try:
            yield
        except BaseException:
            self.artifacts.remove_task(task_id)
            raise

    def submit(self, kind: TaskKind, owner: str, params: dict[str, Any], task_id: str, plan=None) -> Task:
        """Record the task and hand it to the workers. Call it inside `staging(task_id)`, which
        removes the staged inputs if this fails."""
        task = Task.new(kind, owner, params, task_id=task_id)
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
