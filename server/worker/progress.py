"""Turns an engine's progress(completed, total) into the task's 0-100 progress.

Writes when the integer percentage moves, and in between by tenths of a percent at most every
FINE_STEP_S, so a chatty engine costs a few store writes a second at most while the progress of a
long job (one percent of an hour's job is 9-20 s of work on 2 cores) still moves every few seconds.
It is also the cooperative stop: an engine that reports progress past the task's time limit is
stopped with TaskTimeout, and one whose task was canceled (seen in the store at most every
CANCEL_CHECK_S) with TaskCanceled: in-process threads cannot be killed from outside.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from server.domain.errors import ServiceError
from server.domain.task_store import TaskStore
from server.domain.tasks import TaskStatus
from server.worker.memory import HeapTrimmer

log = logging.getLogger(__name__)


class TaskTimeout(ServiceError):
    status = 504
    code = "timeout"


class TaskCanceled(ServiceError):
    status = 409
    code = "canceled"


class TaskInterrupted(ServiceError):
    """The worker is shutting down: the task goes back to the queue, with its attempt refunded."""

    status = 503
    code = "interrupted"


class ProgressReporter:
    CANCEL_CHECK_S = 1.0  # a store read at most this often between percentage steps
    FINE_STEP_S = 2.0  # a tenth-of-a-percent step is written at most this often

    def __init__(
        self,
        store: TaskStore,
        task_id: str,
        time_limit_s: float | None = None,
        stopping: Callable[[], bool] | None = None,
        trimmer: HeapTrimmer | None = None,
    ) -> None:
        self._store = store
        self._trimmer = trimmer  # frees the C heap's free pages every so often (memory.py)
        self._stopping = stopping  # true once the worker is shutting down
        self._task_id = task_id
        self._last = 0.0
        self._written_at = time.monotonic()
        self._checked_at = time.monotonic()
        self._deadline = time.monotonic() + time_limit_s if time_limit_s else None
        self._time_limit_s = time_limit_s

    def deadline_passed(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline

    def check_deadline(self) -> None:
        if self.deadline_passed():
            raise TaskTimeout(f"the task exceeded its {self._time_limit_s:.0f} s time limit")

    def set(self, percent: float) -> None:
        self.check_deadline()
        if self._stopping is not None and self._stopping():
            raise TaskInterrupted("the worker is shutting down; the task goes back to the queue")
        now = time.monotonic()
        value = float(int(percent))
        if value <= self._last and now - self._written_at >= self.FINE_STEP_S:
            value = math.floor(percent * 10 + 1e-9) / 10
        if value > self._last:
            self._last = value
            self._written_at = now
            try:
                self._store.set_progress(self._task_id, value)
            except Exception as exc:  # progress is advisory: a store blip must not kill the work
                log.warning("task %s: progress not recorded (%s)", self._task_id, exc)
        if self._trimmer is not None:
            self._trimmer.maybe()
        self.check_canceled()

    def check_canceled(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < self.CANCEL_CHECK_S:
            return
        self._checked_at = now
        try:
            task = self._store.get(self._task_id)
        except Exception:  # the store is away: carry on, the next check will know
            return
        if task is None or task.status is TaskStatus.CANCELED:
            raise TaskCanceled("the task was canceled")

    def span(self, low: float, high: float):
        """A progress(completed, total) callback mapped onto [low, high] percent."""

        def callback(completed: float, total: float) -> None:
            fraction = 0.0 if total <= 0 else min(max(completed / total, 0.0), 1.0)
            self.set(low + (high - low) * fraction)

        return callback


class SharedSpan:
    """Progress of parts that run at the same time (transcription and diarization), as one span
    [low, high]: each part's fraction weighted by its share of the expected work. Callbacks may be
    called from any thread; a stop condition (time limit, cancel, shutdown) raises in whichever
    part reports next."""

    def __init__(self, reporter: ProgressReporter, low: float, high: float, weights: dict[str, float]) -> None:
        self._reporter = reporter
        self._low, self._high = low, high
        total = sum(weights.values()) or 1.0
        self._weights = {name: w / total for name, w in weights.items()}
        self._done = dict.fromkeys(weights, 0.0)
        self._lock = threading.Lock()

    def part(self, name: str):
        def callback(completed: float, total: float) -> None:
            fraction = 0.0 if total <= 0 else min(max(completed / total, 0.0), 1.0)
            with self._lock:
                self._done[name] = max(self._done[name], fraction)
                overall = sum(self._weights[k] * f for k, f in self._done.items())
                self._reporter.set(self._low + (self._high - self._low) * overall)

        return callback
