"""Runs one task by id: the same function behind the embedded pool and the Celery task."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from engines.types import EngineError
from server.domain.errors import ServiceError
from server.domain.leases import LeaseKeeper, holder_id
from server.domain.tasks import Task, TaskKind
from server.worker.context import WorkerContext
from server.worker.jobs.clone import run_clone
from server.worker.jobs.speaker import run_speaker
from server.worker.jobs.stt import run_stt
from server.worker.jobs.tts import run_tts
from server.worker.memory import HeapTrimmer
from server.worker.progress import ProgressReporter, TaskCanceled, TaskInterrupted, TaskTimeout

log = logging.getLogger(__name__)

# Outcomes that did not end the task here (see _execute_leased); the others are "succeeded" or an error code.
INTERRUPTED, CANCELED = "interrupted", "canceled"

Job = Callable[[WorkerContext, Task, ProgressReporter], dict[str, Any] | None]

JOBS: dict[TaskKind, Job] = {
    TaskKind.STT: run_stt,
    TaskKind.TTS: run_tts,
    TaskKind.CLONE: run_clone,
    TaskKind.SPEAKER: run_speaker,
}


def execute_task(ctx: WorkerContext, task_id: str, timeout_errors: tuple[type[BaseException], ...] = ()) -> None:
    """Run the task unless it is already finished (a redelivered message) or gone.

    Every outcome ends in the store: succeeded, or failed with a specific code. Only a crash of
    the process itself leaves a task running, and recovery (embedded start-up, Celery redelivery)
    picks it up again, bounded by `max_attempts`. `timeout_errors` are the host's own time-limit
    exceptions (Celery's SoftTimeLimitExceeded), reported as code=timeout.
    """
    holder = holder_id()
    if not ctx.leases.acquire(task_id, holder):
        log.info("task %s is being run elsewhere (lease held); this delivery is dropped", task_id)
        return
    ttl_s = ctx.settings.worker.lease_ttl_s
    with LeaseKeeper(ctx.leases, task_id, holder, every_s=ttl_s / 3):
        _execute_leased(ctx, task_id, timeout_errors)


def _execute_leased(ctx: WorkerContext, task_id: str, timeout_errors: tuple[type[BaseException], ...]) -> None:
    task = ctx.store.start(task_id)
    if task is None:
        log.info("task %s is finished or gone; nothing to run", task_id)
        return
    max_attempts = ctx.settings.worker.max_attempts
    if task.attempts > max_attempts:
        ctx.store.fail(
            task_id,
            "interrupted",
            f"the worker died while running this task {task.attempts - 1} time(s); not retried again",
        )
        return
    job = JOBS.get(task.kind)
    if job is None:
        ctx.store.fail(task_id, "unsupported_task", f"this server cannot run {task.kind.value} tasks yet")
        return
    log.info("task %s (%s) started, attempt %d", task_id, task.kind.value, task.attempts)
    trim_s = ctx.settings.worker.heap_trim_interval_s
    reporter = ProgressReporter(
        ctx.store,
        task_id,
        ctx.settings.worker.task_time_limit_s,
        ctx.stopping.is_set,
        trimmer=HeapTrimmer(trim_s) if trim_s > 0 else None,
    )
    started = time.perf_counter()
    outcome: str | None = None
    try:
        outcome, result = _run(ctx, task, job, reporter, timeout_errors)
        ctx.metrics.record(task.kind.value, outcome, time.perf_counter() - started, (result or {}).get("duration"))
    finally:
        if outcome != INTERRUPTED:  # an interrupted task runs again from its upload
            ctx.artifacts.remove(task_id, ctx.artifacts.INPUT)  # uploads are not kept once a task ends
        ctx.cache.evict_idle()
    # Only an end this runner recorded is announced: a canceled task's webhook is queued by the
    # cancellation itself, and an interrupted one has not ended.
    if task.webhook and outcome not in (CANCELED, INTERRUPTED):
        ctx.webhooks.schedule(task_id)  # sent by the deliverer thread: never delays the next task


def _run(
    ctx: WorkerContext, task, job: Job, reporter: ProgressReporter, timeout_errors: tuple[type[BaseException], ...]
) -> tuple[str, dict[str, Any] | None]:
    """Run the job and record its outcome in the store; returns (outcome code, result)."""
    try:
        ctx.streams.reset(task.id)  # a new attempt starts its partial output afresh
        try:
            result = _call_job(job, ctx, task, reporter, timeout_errors)
            reporter.check_canceled(force=True)  # canceled after the last progress step: its output goes too
        finally:
            # Before the outcome is stored: a follower that sees the task ended has seen every item.
            ctx.streams.end(task.id)
    except TaskInterrupted:
        # A clean shutdown is not the task's fault: back to the queue, the attempt not counted.
        _persist(lambda: ctx.store.requeue(task.id, refund_attempt=True), task.id)
        log.info("task %s interrupted by the worker's shutdown; queued again", task.id)
        return INTERRUPTED, None
    except TaskCanceled:
        ctx.artifacts.remove_task(task.id)  # "forget this": partial and finished outputs alike
        log.info("task %s canceled; stopped and its files removed", task.id)
        return CANCELED, None
    except TaskTimeout as exc:
        return _fail(ctx, task.id, exc.code, exc.message), None
    except timeout_errors:
        limit = ctx.settings.worker.task_time_limit_s
        return _fail(ctx, task.id, TaskTimeout.code, f"the task exceeded its {limit:.0f} s time limit"), None
    except (ServiceError, EngineError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        log.info("task %s failed: %s %s", task.id, exc.code, message)
        return _fail(ctx, task.id, exc.code, message), None
    except Exception:
        log.exception("task %s crashed", task.id)
        return _fail(ctx, task.id, "internal_error", "the task failed unexpectedly; the server log has details"), None
    _persist(lambda: ctx.store.succeed(task.id, result), task.id)
    log.info("task %s succeeded", task.id)
    return "succeeded", result


def _call_job(
    job: Job,
    ctx: WorkerContext,
    task: Task,
    reporter: ProgressReporter,
    timeout_errors: tuple[type[BaseException], ...],
) -> dict[str, Any] | None:
    """Run the job; a host time-limit signal that arrives before this task's own deadline is stale.

    Celery's soft limit is a SIGUSR1 that the pool's parent sends when it believes a job is
    overdue. It can land on the *next* job when the overdue one ended just before the signal went
    out (celery/celery#3914 shows SoftTimeLimitExceeded raised in a task other than the overdue
    one). That task has done nothing wrong, so it runs once more from the start, once; its
    deadline stays where it was.
    """
    try:
        return job(ctx, task, reporter)
    except timeout_errors:
        if reporter.deadline_passed():
            raise
        log.warning(
            "task %s: a time-limit signal came before its deadline (a late one meant for an earlier task); rerunning",
            task.id,
        )
        return job(ctx, task, reporter)


def _fail(ctx: WorkerContext, task_id: str, code: str, message: str) -> str:
    _persist(lambda: ctx.store.fail(task_id, code, message), task_id)
    return code


def _persist(write: Callable[[], object], task_id: str, attempts: int = 12, delay_s: float = 5.0) -> None:
    """The outcome of finished work is worth waiting for: if the store (Redis) is briefly away,
    retry for about a minute rather than leave the task 'running' until its message comes back."""
    for attempt in range(1, attempts + 1):
        try:
            write()
            return
        except Exception as exc:
            if attempt == attempts:
                raise
            log.warning("task %s: outcome not stored yet (%s); retrying in %.0f s", task_id, exc, delay_s)
            time.sleep(delay_s)
