"""/v1/tasks: the caller's tasks of every kind, newest first, cursor-paginated (no results inline)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from server.auth.caller import Caller
from server.domain.task_store import TaskQuery
from server.domain.tasks import TaskKind, TaskStatus
from server.http.identity import require_admin
from server.http.schemas import TaskList
from server.services.tasks import TaskService, decode_cursor


@get("/tasks", sync_to_thread=True, tags=["tasks"], summary="Your tasks, newest first (admin keys: any owner's)")
def list_tasks(
    caller: NamedDependency[Caller],
    tasks: NamedDependency[TaskService],
    kind: TaskKind | None = None,
    status: TaskStatus | None = None,
    created_after: Annotated[datetime | None, QueryParameter(description="ISO 8601, e.g. 2026-12-01T00:00:00Z")] = None,
    page_size: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, QueryParameter(description="next_cursor of the previous page")] = None,
    owner: Annotated[str | None, QueryParameter(description="Admin keys only: another owner's tasks")] = None,
) -> TaskList:
    if owner is not None and owner != caller.owner:
        require_admin(caller)
    query = TaskQuery(
        kind=kind,
        status=status,
        created_after=created_after,
        after=decode_cursor(cursor) if cursor else None,
        limit=page_size,
    )
    page, next_cursor = tasks.list_tasks(owner or caller.owner, query)
    return TaskList.of(page, next_cursor)
