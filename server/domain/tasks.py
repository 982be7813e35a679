"""The task lifecycle shared by stt, tts and clone: queued -> running -> succeeded | failed."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class TaskKind(StrEnum):
    STT = "stt"
    TTS = "tts"
    CLONE = "clone"
    SPEAKER = "speaker"  # enrolment: a speaker's sample checked and embedded (model_store/speakers.py)


class TaskLane(StrEnum):
    """Which queue a task waits in. Interactive work (short audio, short text) is served first and
    by workers kept for it; batch work by the rest."""

    INTERACTIVE = "interactive"
    BATCH = "batch"


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"  # by its owner, before it ended; its artifacts are removed

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_task_id() -> str:
    # 128 random bits: ids are unguessable, so knowing one task id reveals nothing about others.
    return secrets.token_hex(16)


@dataclass(frozen=True)
class TaskError:
    code: str
    message: str


@dataclass(frozen=True)
class Task:
    id: str
    kind: TaskKind
    owner: str
    status: TaskStatus
    progress: float  # percent, 0-100, one decimal (long jobs move by tenths: docs/benchmarks.md, issue 11)
    created_at: datetime
    updated_at: datetime
    params: dict[str, Any] = field(default_factory=dict)  # small request options, never audio
    result: dict[str, Any] | None = None  # small summary; large results live in artifacts
    error: TaskError | None = None
    attempts: int = 0  # how many times a worker started it; bounded, so a poison task can't loop
    lane: TaskLane = TaskLane.BATCH
    charge: dict[str, int] = field(default_factory=dict)  # monthly quota charged at submission, refunded on cancel
    # {"url", "key_id", "attempts", "last_status", "delivered_at"} when a callback_url was given
    webhook: dict[str, Any] | None = None
    # Which front-end made it and what its client asked for, e.g. {"api": "openai", "model": "tts-1"}:
    # recorded for operators, never read by the worker.
    origin: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def new(
        kind: TaskKind,
        owner: str,
        params: dict[str, Any] | None = None,
        task_id: str | None = None,
        lane: TaskLane = TaskLane.BATCH,
        charge: dict[str, int] | None = None,
        webhook: dict[str, Any] | None = None,
        origin: dict[str, Any] | None = None,
    ) -> Task:
        now = utcnow()
        return Task(
            id=task_id or new_task_id(),
            kind=kind,
            owner=owner,
            status=TaskStatus.QUEUED,
            progress=0.0,
            created_at=now,
            updated_at=now,
            params=dict(params or {}),
            lane=lane,
            charge=dict(charge or {}),
            webhook=webhook,
            origin=dict(origin or {}),
        )

    def evolve(self, **changes: Any) -> Task:
        return replace(self, updated_at=utcnow(), **changes)

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict, the one serialised form both stores keep."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["status"] = self.status.value
        data["lane"] = self.lane.value
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        return data

    @staticmethod
    def from_record(data: dict[str, Any]) -> Task:
        error = data.get("error")
        return Task(
            id=data["id"],
            kind=TaskKind(data["kind"]),
            owner=data["owner"],
            status=TaskStatus(data["status"]),
            progress=float(data["progress"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            params=data.get("params") or {},
            result=data.get("result"),
            error=TaskError(**error) if error else None,
            attempts=int(data.get("attempts", 0)),
            lane=TaskLane(data.get("lane", TaskLane.BATCH)),
            charge=data.get("charge") or {},
            webhook=data.get("webhook"),
            origin=data.get("origin") or {},
        )
