"""The Celery application for the distributed mode, built from settings (never at import time).

The API uses it only to publish (`send_task` by name: the API never imports job code); `voice-api
worker` runs it as a real `celery worker`, one queue per capability so a GPU box can serve only
some (`-Q tts`).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery import Task as CeleryTask
from kombu import Queue

from server.domain.tasks import Task, TaskKind, TaskLane
from server.settings import Settings

RUN_TASK = "voice.run_task"
# How long after a task's own deadline Celery's soft time limit signal is sent (see create_celery).
SOFT_LIMIT_GRACE_S = 10


def queue_name(settings: Settings, kind: TaskKind | str, lane: TaskLane = TaskLane.BATCH) -> str:
    """Queues carry the Redis prefix, so two deployments sharing one Redis never take each
    other's tasks. Operators still name them by capability (`-Q stt,tts`); each capability has an
    interactive queue beside it, which its workers read first."""
    base = f"{settings.redis_prefix}{TaskKind(kind).value}"
    return f"{base}.{TaskLane.INTERACTIVE.value}" if lane is TaskLane.INTERACTIVE else base


def worker_queues(settings: Settings, kinds: list[str], lanes: tuple[TaskLane, ...]) -> list[str]:
    """The queues a worker serving `kinds` consumes, in the order it reads them."""
    return [queue_name(settings, kind, lane) for lane in lanes for kind in kinds]


class VoiceTask(CeleryTask):
    """A Celery task object exists once per worker process, so the worker context (stores,
    model cache, engines) is created here lazily, on the first task, and then reused."""

    _context = None

    @property
    def context(self):
        if self._context is None:
            from server.worker.context import WorkerContext

            type(self)._context = WorkerContext.build(self.app.voice_settings)
        return self._context


def create_celery(settings: Settings) -> Celery:
    if not settings.redis_url:
        raise ValueError("the distributed mode needs VOICE_API_REDIS_URL")
    app = Celery("voice_api", broker=settings.redis_url, set_as_current=False)
    app.voice_settings = settings
    limit = settings.worker.task_time_limit_s
    app.conf.update(
        task_queues=[Queue(queue_name(settings, kind, lane)) for lane in TaskLane for kind in TaskKind],
        task_default_queue=queue_name(settings, TaskKind.STT),
        # Reliability, deliberately:
        # - acks_late: a message is acknowledged only after the task ran, so a worker that dies
        #   mid-task leaves it in Redis to be delivered again;
        # - reject_on_worker_lost: when the child process is killed (OOM, SIGKILL) the message is
        #   requeued instead of acknowledged as failed; the runner's attempt counter bounds retries;
        # - prefetch 1: a worker reserves only the task it runs, so a long transcription does not
        #   hold other tasks hostage while idle workers wait.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Failures are recorded in our task store; the message itself is done with.
        task_acks_on_failure_or_timeout=True,
        task_ignore_result=True,
        # Redis redelivers an unacknowledged message after the visibility timeout: it must exceed
        # the longest task, or a long task would be started twice.
        # "priority": a worker's BRPOP names its queues in the order given (interactive first), so
        # a short task waiting in the interactive lane is always taken before batch work.
        broker_transport_options={"visibility_timeout": int(limit * 1.5) + 60, "queue_order_strategy": "priority"},
        # The task's own deadline (checked at every progress report, server/worker/progress.py) is
        # what normally stops it. The soft limit is a backstop for code stuck between two reports:
        # it raises inside the task (recorded as code=timeout) and comes a little later so that it
        # is not sent to a task that the deadline is already ending (a signal that arrives late
        # lands on the next task). The hard limit kills a task that ignores even that.
        task_soft_time_limit=limit + SOFT_LIMIT_GRACE_S,
        task_time_limit=limit + SOFT_LIMIT_GRACE_S + 30,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )

    @app.task(name=RUN_TASK, base=VoiceTask, bind=True)
    def run_task(self: VoiceTask, task_id: str) -> None:
        from celery.exceptions import SoftTimeLimitExceeded

        from server.worker.runner import execute_task

        execute_task(self.context, task_id, timeout_errors=(SoftTimeLimitExceeded,))

    return app


def publish_options(settings: Settings, task: Task) -> dict[str, Any]:
    # No publish retries: while Redis is down the client gets 503 at once, not a hung request.
    return {"queue": queue_name(settings, task.kind, task.lane), "retry": False}
