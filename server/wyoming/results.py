"""A waited-for task, turned into its result or the project's error."""

from __future__ import annotations

from server.domain.errors import TaskFailed, TaskTimedOut
from server.domain.tasks import Task, TaskStatus


def finished(task: Task, what: str) -> Task:
    """`task` if it succeeded; its own error code if it failed; a timeout if it is still going."""
    if task.status is TaskStatus.SUCCEEDED:
        return task
    if task.status is TaskStatus.FAILED:
        error = task.error
        message = error.message if error else "unknown error"
        raise TaskFailed(f"the {what} failed: {message}", code=error.code if error else None)
    raise TaskTimedOut(f"the {what} did not finish in time (task {task.id} is {task.status.value})")
