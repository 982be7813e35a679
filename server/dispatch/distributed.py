"""API-side dispatcher for the distributed mode: publish to Celery queues on Redis."""

from __future__ import annotations

import logging
import time
from typing import Any

from server.dispatch.base import QueueHealth, merge_engines
from server.dispatch.celery_app import RUN_TASK, create_celery, publish_options, queue_name
from server.dispatch.heartbeat import live_workers
from server.domain.errors import QueueUnavailable
from server.domain.factory import redis_client
from server.domain.tasks import Task, TaskKind, TaskLane
from server.settings import Settings

log = logging.getLogger(__name__)


class CeleryDispatcher:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app = create_celery(settings)
        self._redis = redis_client(settings.redis_url or "")
        self._capabilities: tuple[float, dict[str, Any]] = (0.0, {})

    def start(self) -> None:
        pass  # nothing to start: connections open on first use

    def stop(self) -> None:
        self._app.close()

    def enqueue(self, task: Task) -> None:
        try:
            self._app.send_task(RUN_TASK, args=[task.id], **publish_options(self._settings, task))
        except Exception as exc:  # kombu/redis raise many types for "broker down"
            log.warning("could not enqueue task %s: %s", task.id, exc)
            raise QueueUnavailable("the task queue is unreachable; try again shortly") from exc

    def health(self) -> QueueHealth:
        try:
            depths = {
                kind.value: sum(int(self._redis.llen(queue_name(self._settings, kind, lane))) for lane in TaskLane)
                for kind in TaskKind
            }
            workers = live_workers(self._redis, self._settings.redis_prefix)
        except Exception as exc:
            return QueueHealth(reachable=False, mode="distributed", detail=f"Redis unreachable: {exc}")
        return QueueHealth(reachable=True, mode="distributed", queue_depths=depths, workers=workers)

    def capabilities(self) -> dict[str, Any]:
        # Cached for a few seconds: submits consult it, and workers change far less often.
        fetched_at, engines = self._capabilities
        if time.monotonic() - fetched_at > 5:
            try:
                engines = merge_engines(live_workers(self._redis, self._settings.redis_prefix))
            except Exception:
                engines = {}
            self._capabilities = (time.monotonic(), engines)
        return engines
