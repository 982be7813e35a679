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

from model_store.voices import VoiceStore
from server.auth.budget_reports import BudgetReports
from server.auth.key_cache import open_key_cache
from server.auth.keys import KeyStore, open_key_store
from server.auth.quotas import QuotaStore, open_quota_store
from server.auth.ratelimit import open_rate_limiter
from server.auth.webhook_secrets import WebhookSecrets, open_webhook_secrets
from server.dispatch.base import Dispatcher
from server.domain.artifacts import ArtifactStore
from server.domain.async_redis import LoopBoundRedis
from server.domain.factory import (
    open_artifacts,
    open_idempotency_store,
    open_speaker_store,
    open_task_metrics,
    open_task_store,
    open_usage_counter,
    open_voice_store,
    open_webhook_queue,
    redis_client,
)
from server.domain.metrics import TaskMetrics
from server.domain.task_store import TaskStore
from server.services.cache import MemoryCache, RedisCache, TieredCache
from server.services.catalog import CatalogService
from server.services.health import HealthSnapshots
from server.services.idempotency import Idempotency
from server.services.identity import Identity
from server.services.janitor import sweep
from server.services.speakers import SpeakerService, check_known
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
    quotas: QuotaStore
    task_metrics: TaskMetrics
    voices: VoiceStore  # swept by the janitor
    webhook_secrets: WebhookSecrets
    identity: Identity  # callers from API keys, and their plans' rate limits, for every front-end
    health: HealthSnapshots  # one queue check shared by /v1/health callers
    streams: TaskStream  # running tasks' partial output (see task_stream.py)
    speakers: SpeakerService  # known speakers: registry, enrolment, labelling
    rate_limited: Counter = field(default_factory=Counter)  # requests the rate limit refused


def build_dispatcher(
    settings: Settings, store: TaskStore, artifacts: ArtifactStore, metrics: TaskMetrics, streams: TaskStream
) -> Dispatcher:
    if settings.distributed:
        from server.dispatch.distributed import CeleryDispatcher

        return CeleryDispatcher(settings)
    # Embedded: the worker side lives in this process. This is the one import of worker code
    # from the API side, and it happens only in the single-process mode.
    from server.dispatch.embedded import EmbeddedWorkerPool
    from server.worker.context import WorkerContext

    ctx = WorkerContext.build(settings, store=store, artifacts=artifacts, metrics=metrics, streams=streams)
    return EmbeddedWorkerPool(ctx, settings.worker.embedded_concurrency, settings.worker.interactive_workers)


def build_task_events(settings: Settings, store: TaskStore) -> TaskEvents:
    from server.domain.redis_store import RedisTaskStore
    from server.domain.sqlite_store import SqliteTaskStore

    # Each mode's store carries its own change feed: a Redis channel, or in-process listeners.
    if isinstance(store, RedisTaskStore):
        return RedisTaskEvents(settings.redis_url or "", store.changes_channel, store.read_cache)
    if not isinstance(store, SqliteTaskStore):
        raise TypeError(f"no change feed for a {type(store).__name__}")
    events = TaskEvents()
    store.change_listeners.append(events.notify)  # the SQLite store, shared with the workers
    return events


def build_services(settings: Settings) -> Services:
    store = open_task_store(settings)
    artifacts = open_artifacts(settings)
    task_metrics = open_task_metrics(settings)  # shared with the embedded workers in this process
    streams = open_task_stream(settings)  # embedded: the one in-memory stream the workers publish to
    dispatcher = build_dispatcher(settings, store, artifacts, task_metrics, streams)
    cache = (
        TieredCache(
            RedisCache(redis_client(settings.redis_url), settings.redis_prefix, LoopBoundRedis(settings.redis_url))
        )
        if settings.redis_url
        else MemoryCache()
    )
    voices = open_voice_store(settings)
    catalog = CatalogService(voices, open_usage_counter(settings), dispatcher.capabilities, cache)
    tasks = TaskService(
        store,
        artifacts,
        dispatcher,
        build_task_events(settings, store),
        webhooks=open_webhook_queue(settings),
        streams=streams,
    )
    quotas = open_quota_store(settings)
    idempotency = Idempotency(open_idempotency_store(settings), tasks)
    webhook_secrets = open_webhook_secrets(settings)
    keys, rate_limited = open_key_store(settings), Counter()
    # The identity core owns the verified-key cache and the rate limiter (through its budget reports).
    identity = Identity(
        settings.auth,
        open_key_cache(settings, keys),
        BudgetReports(open_rate_limiter(settings), max_age_s=settings.auth.budget_report_max_age_s),
        on_refused=rate_limited.increment,
    )
    speaker_store = open_speaker_store(settings)
    submissions = SubmissionService(
        settings,
        tasks,
        catalog,
        quotas,
        dispatcher.capabilities,
        idempotency,
        webhook_secrets,
        known_speakers=lambda owner, ids: check_known(speaker_store, owner, ids),
    )
    return Services(
        settings=settings,
        tasks=tasks,
        submissions=submissions,
        speakers=SpeakerService(settings, speaker_store, submissions, tasks),
        webhook_secrets=webhook_secrets,
        identity=identity,
        rate_limited=rate_limited,
        health=HealthSnapshots(dispatcher.health),
        dispatcher=dispatcher,
        catalog=catalog,
        keys=keys,
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
            await to_thread.run_sync(services.speakers.sweep)
        except Exception as exc:  # a store outage must not end the loop
            log.warning("janitor sweep failed: %s", exc)
        await asyncio.sleep(settings.storage.janitor_interval_s)
