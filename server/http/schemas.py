"""Response schemas of the /v1 API (they are what OpenAPI documents)."""

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
    progress: int
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
    progress: int
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
class SttWord:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None
    overlap: bool | None = None  # true when the word lies mostly in overlapped speech; absent otherwise
    label: str | None = None  # the cluster when `speaker` is a recognised name


@dataclass
class SttSegment:
    id: int
    start: float
    end: float
    text: str
    speaker: str | None  # a recognised speaker's name, else the cluster's label
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[SttWord] | None = None  # only with word_timestamps=true
    overlap: bool | None = None  # true when the segment lies mostly in overlapped speech; absent otherwise
    label: str | None = None  # the cluster (SPEAKER_NN) when `speaker` is a recognised name
    speaker_id: str | None = None  # the recognised speaker's id


@dataclass
class SttTurn:
    start: float
    end: float
    speaker: str
    label: str | None = None  # the cluster when `speaker` is a recognised name


@dataclass
class SttSpeaker:
    label: str  # the diarizer's cluster, SPEAKER_NN
    name: str | None  # the enrolled speaker's name when recognised (or labelled), else null
    speaker_id: str | None
    match_score: float | None  # cosine similarity of the match; null when labelled by hand


@dataclass
class SttResult:
    text: str
    language: str
    language_probability: float
    duration: float
    # In order of first appearance: labels, or (when the request named known speakers) objects.
    speakers: list[str] | list[SttSpeaker]
    segments: list[SttSegment]
    turns: list[SttTurn] | None = None  # the diarizer's own turns (they may overlap), sorted; with diarization


@dataclass
class HealthResponse:
    status: str  # "ok" | "unavailable"
    mode: str
    queue: dict[str, Any]
    workers: list[dict[str, Any]]
    engines: dict[str, Any]
