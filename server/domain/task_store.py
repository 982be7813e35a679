"""Where task state lives: SQLite in the data directory (embedded) or Redis (distributed).

Both stores implement one primitive, `_mutate(task_id, fn)`, an atomic read-modify-write; every
lifecycle transition is written once, here in the base class, on top of it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.domain.tasks import Task, TaskError, TaskKind, TaskStatus, utcnow

Mutation = Callable[[Task], Task | None]  # return None to leave the task unchanged


@dataclass(frozen=True)
class TaskQuery:
    kind: TaskKind | None = None
    status: TaskStatus | None = None
    created_after: datetime | None = None
    after: tuple[datetime, str] | None = None  # (created_at, id) of the last task already seen
    limit: int = 20

    def matches(self, task: Task) -> bool:
        return (
            (self.kind is None or task.kind is self.kind)
            and (self.status is None or task.status is self.status)
            and (self.created_after is None or task.created_at > self.created_after)
            and (self.after is None or (task.created_at, task.id) < self.after)
        )


class TooManyActive(Exception):
    """`create(task, max_active=N)` found the owner already at N queued or running tasks."""

    def __init__(self, active: int, limit: int) -> None:
        super().__init__(f"{active} active tasks; the limit is {limit}")
        self.active = active
        self.limit = limit


class TaskStore(abc.ABC):
    @abc.abstractmethod
    def create(self, task: Task, max_active: int | None = None) -> None:
        """Record a new task. With `max_active`, atomically refuse (TooManyActive) when its owner
        already has that many tasks queued or running: concurrent submissions, on any number of API
        nodes, can never take an owner past the limit."""

    @abc.abstractmethod
    def get(self, task_id: str) -> Task | None: ...

    async def aget(self, task_id: str) -> Task | None:
        """`get` for the event loop (status polls): a blocking read in a worker thread unless the
        store has a cheaper way."""
        from anyio import to_thread

        return await to_thread.run_sync(self.get, task_id)

    @abc.abstractmethod
    def delete(self, task_id: str) -> None: ...

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise if the store is unreachable."""

    @abc.abstractmethod
    def _mutate(self, task_id: str, fn: Mutation) -> Task | None:
        """Apply `fn` atomically; return the stored task afterwards (None if it does not exist)."""

    @abc.abstractmethod
    def list_owned(self, owner: str, query: TaskQuery) -> list[Task]:
        """One owner's tasks matching `query`, newest first (created_at, then id), starting after
        `query.after`, at most `query.limit`."""

    @abc.abstractmethod
    def find(self, statuses: set[TaskStatus], updated_before: datetime | None = None) -> list[Task]:
        """Tasks in one of `statuses` (oldest first), optionally not touched since `updated_before`."""

    # --- lifecycle, shared by both stores ----------------------------------------------------

    def start(self, task_id: str) -> Task | None:
        """Mark running and count the attempt. Returns None when there is nothing to run:
        the task is gone or already finished (a redelivered message after success)."""

        def fn(task: Task) -> Task | None:
            if task.status.terminal:
                return None
            return task.evolve(status=TaskStatus.RUNNING, attempts=task.attempts + 1, progress=max(task.progress, 1))

        task = self._mutate(task_id, fn)
        if task is None or task.status is not TaskStatus.RUNNING:
            return None
        return task

    def set_progress(self, task_id: str, progress: float) -> None:
        progress = max(0.0, min(99.0, round(float(progress), 1)))  # tenths of a percent; 100 only with success

        def fn(task: Task) -> Task | None:
            if task.status is not TaskStatus.RUNNING or progress <= task.progress:
                return None
            return task.evolve(progress=progress)

        self._mutate(task_id, fn)

    def succeed(self, task_id: str, result: dict[str, Any] | None) -> Task | None:
        def fn(task: Task) -> Task | None:
            if task.status.terminal:
                return None
            return task.evolve(status=TaskStatus.SUCCEEDED, progress=100, result=result, error=None)

        return self._mutate(task_id, fn)

    def fail(self, task_id: str, code: str, message: str) -> Task | None:
        def fn(task: Task) -> Task | None:
            if task.status.terminal:
                return None
            return task.evolve(status=TaskStatus.FAILED, error=TaskError(code=code, message=message))

        return self._mutate(task_id, fn)

    def cancel(self, task_id: str) -> tuple[Task | None, bool]:
        """Queued or running -> canceled. Returns (the task now, whether this call canceled it): a
        finished task is returned unchanged. A worker running it stops at its next progress check."""
        canceled = False

        def fn(task: Task) -> Task | None:
            nonlocal canceled
            if task.status.terminal:
                return None
            canceled = True
            return task.evolve(status=TaskStatus.CANCELED)

        return self._mutate(task_id, fn), canceled

    def record_webhook(self, task_id: str, webhook: dict[str, Any]) -> None:
        """Store a delivery attempt's outcome on the task (any status: deliveries follow the end)."""
        self._mutate(task_id, lambda task: task.evolve(webhook=webhook))

    def requeue(self, task_id: str, refund_attempt: bool = False) -> Task | None:
        def fn(task: Task) -> Task | None:
            if task.status is not TaskStatus.RUNNING:
                return None
            attempts = task.attempts - 1 if refund_attempt and task.attempts > 0 else task.attempts
            return task.evolve(status=TaskStatus.QUEUED, attempts=attempts)

        return self._mutate(task_id, fn)

    def recover_interrupted(self, max_attempts: int) -> list[Task]:
        """After a crash: running tasks go back to the queue, or fail if they have used their
        attempts (a task that kills its process must not kill it forever). Returns every task
        that is queued now, oldest first, for the dispatcher to enqueue again."""
        for task in self.find({TaskStatus.RUNNING}):
            if task.attempts >= max_attempts:
                self.fail(
                    task.id,
                    "interrupted",
                    f"the server stopped while this task was running, {task.attempts} time(s); not retried again",
                )
            else:
                self.requeue(task.id)
        return self.find({TaskStatus.QUEUED})

    @abc.abstractmethod
    def active_count(self, owner: str) -> int:
        """Queued and running tasks of one owner (for per-plan concurrency limits). Runs on every
        submission from a limited plan, so each store answers from a per-owner index rather than
        scanning every active task."""

    def expired(self, ttl_seconds: float) -> list[Task]:
        cutoff = datetime.fromtimestamp(utcnow().timestamp() - ttl_seconds, tz=utcnow().tzinfo)
        return self.find({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED}, updated_before=cutoff)
