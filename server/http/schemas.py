"""Response schemas of the /v1 API (they are what OpenAPI documents). The transcript's schema is
the transcript document itself (server/domain/transcripts.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.domain.tasks import Task


@dataclass
class ErrorDetail:
    code: str
    message: str


@dataclass
class ErrorBody:
    error: ErrorDetail


@dataclass
class TaskResponse:
    task_id: str
    status: str
    progress: float  # percent, one decimal
    created_at: datetime
    updated_at: datetime
    error: ErrorDetail | None
    result: dict[str, Any] | None
    webhook: dict[str, Any] | None = None  # {url, attempts, last_status, delivered_at} with a callback_url

    @staticmethod
    def of(task: Task, include_result: bool = True) -> TaskResponse:
        return TaskResponse(
            task_id=task.id,
            status=task.status.value,
            progress=task.progress,
            created_at=task.created_at,
            updated_at=task.updated_at,
            error=ErrorDetail(task.error.code, task.error.message) if task.error else None,
            result=task.result if include_result else None,
            webhook={k: v for k, v in task.webhook.items() if k in _WEBHOOK_FIELDS} if task.webhook else None,
        )


_WEBHOOK_FIELDS = ("url", "attempts", "last_status", "delivered_at")


@dataclass
class TaskListItem:
    task_id: str
    kind: str
    status: str
    progress: float  # percent, one decimal
    created_at: datetime
    updated_at: datetime
    error: ErrorDetail | None


@dataclass
class TaskList:
    items: list[TaskListItem]
    next_cursor: str | None  # null on the last page

    @staticmethod
    def of(tasks: list[Task], next_cursor: str | None) -> TaskList:
        items = [
            TaskListItem(
                task_id=t.id,
                kind=t.kind.value,
                status=t.status.value,
                progress=t.progress,
                created_at=t.created_at,
                updated_at=t.updated_at,
                error=ErrorDetail(t.error.code, t.error.message) if t.error else None,
            )
            for t in tasks
        ]
        return TaskList(items=items, next_cursor=next_cursor)


@dataclass
class HealthResponse:
    status: str  # "ok" | "unavailable"
    mode: str
    queue: dict[str, Any]
    workers: list[dict[str, Any]]
    engines: dict[str, Any]
