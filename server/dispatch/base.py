"""How the API hands a task to workers. Two implementations, one contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from server.domain.tasks import Task


@dataclass
class QueueHealth:
    reachable: bool
    mode: str  # "embedded" | "distributed"
    detail: str = ""
    queue_depths: dict[str, int] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)  # each: name, queues, engines


def merge_engines(workers: list[dict[str, Any]]) -> dict[str, Any]:
    """What the pool of workers can serve, per capability: an available engine wins."""
    engines: dict[str, Any] = {}
    for worker in workers:
        for capability, info in worker.get("engines", {}).items():
            if capability not in engines or (info.get("available") and not engines[capability].get("available")):
                engines[capability] = info
    return engines


class Dispatcher(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def enqueue(self, task: Task) -> None:
        """Hand the task to a worker; raise QueueUnavailable if that is impossible right now."""

    def health(self) -> QueueHealth: ...

    def capabilities(self) -> dict[str, Any]:
        """Engines the workers serve (see server.worker.engines.describe); {} when unknown."""
