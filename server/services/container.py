"""Every service a front-end needs, built once from settings, and their lifecycle.

`create_app` (HTTP) uses it, and so can any other listener in the same process (a Wyoming server):
one task store, one dispatcher, one set of embedded workers and model cache, one janitor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from anyio import to_thread

from server.auth.keys import KeyStore, open_key_store
from server.auth.quotas import QuotaStore, open_quota_store
from server.auth.ratelimit import RateLimiter, open_rate_limiter
from server.dispatch.base import Dispatcher
from server.domain.factory import (
    open_artifacts,
    open_task_metrics,
    open_task_store,
    open_usage_counter,
    open_voice_store,
    redis_client,
)
from server.domain.metrics import TaskMetrics
from server.services.cache import MemoryCache, RedisCache
from server.services.catalog import CatalogService
from server.services.janitor import sweep
from server.services.submissions import SubmissionService
from server.services.task_events import RedisTaskEvents, TaskEvents
from server.services.task_stream import TaskStream, open_task_stream
from server.services.tasks import TaskService
from server.settings import Settings

log = logging.getLogger(__name__)


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            self.value += 1


@dataclass
class Services:
    settings: Settings
    tasks: TaskService
    submissions: SubmissionService
    dispatcher: Dispatcher
    catalog: CatalogService
    keys: KeyStore
    limiter: RateLimiter
    quotas: QuotaStore
    task_metrics: TaskMetrics
    voices: object  # the voice store, swept by the janitor
    streams: TaskStream  # running tasks' partial output (see task_stream.py)
    rate_limited: Counter = field(default_factory=Counter)


def build_dispatcher(settings: Settings, store, artifacts, metrics, streams) -> Dispatcher:
    if settings.distributed:
        from server.dispatch.distributed import CeleryDispatcher

        return CeleryDispatcher(settings)
    # Embedded: the worker side lives in this process. This is the one import of worker code
    # from the API side, and it happens only in the single-process mode.
    from server.dispatch.embedded import EmbeddedWorkerPool
    from server.worker.context import WorkerContext

    ctx = WorkerContext.build(settings, store=store, artifacts=artifacts, metrics=metrics, streams=streams)
    return EmbeddedWorkerPool(ctx, settings.worker.embedded_concurrency, settings.worker.interactive_workers)


def build_task_events(settings: Settings, store) -> TaskEvents:
    if settings.distributed:
        return RedisTaskEvents(settings.redis_url or "", store.changes_channel)
    events = TaskEvents()
    store.change_listeners.append(events.notify)  # the SQLite store, shared with the workers
    return events


def build_services(settings: Settings) -> Services:
    store = open_task_store(settings)
    artifacts = open_artifacts(settings)
    task_metrics = open_task_metrics(settings)  # shared with the embedded workers in this process
    streams = open_task_stream(settings)  # embedded: the one in-memory stream the workers publish to
    dispatcher = build_dispatcher(settings, store, artifacts, task_metrics, streams)
    cache = RedisCache(redis_client(settings.redis_url), settings.redis_prefix) if settings.redis_url else MemoryCache()
    voices = open_voice_store(settings)
    catalog = CatalogService(voices, open_usage_counter(settings), dispatcher.capabilities, cache)
    tasks = TaskService(store, artifacts, dispatcher, build_task_events(settings, store), streams)
    quotas = open_quota_store(settings)
    return Services(
        settings=settings,
        tasks=tasks,
        submissions=SubmissionService(settings, tasks, catalog, quotas, dispatcher.capabilities),
        dispatcher=dispatcher,
        catalog=catalog,
        keys=open_key_store(settings),
        limiter=open_rate_limiter(settings),
        quotas=quotas,
        task_metrics=task_metrics,
        voices=voices,
        streams=streams,
    )


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[Services]:
    """Start the dispatcher (embedded workers), the change subscription and the janitor; stop them
    in reverse order on exit."""
    await to_thread.run_sync(services.dispatcher.start)
    await services.tasks.events.start()
    sweeper = asyncio.create_task(_janitor(services))
    try:
        yield services
    finally:
        sweeper.cancel()
        await services.tasks.events.stop()
        await to_thread.run_sync(services.dispatcher.stop)
        close = getattr(services.streams, "close", None)  # the Redis follower's connections
        if close is not None:
            await close()


async def _janitor(services: Services) -> None:
    settings, tasks = services.settings, services.tasks
    ttl = settings.storage.task_ttl_hours * 3600
    while True:
        try:
            await to_thread.run_sync(sweep, tasks.store, tasks.artifacts, ttl)
            await to_thread.run_sync(services.voices.sweep)
        except Exception as exc:  # a store outage must not end the loop
            log.warning("janitor sweep failed: %s", exc)
        await asyncio.sleep(settings.storage.janitor_interval_s)
