"""create_app(settings): the Litestar application, its dependencies and its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from anyio import to_thread
from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

from server import __version__
from server.auth.budget_reports import BudgetReports
from server.auth.key_cache import open_key_cache
from server.auth.keys import open_key_store
from server.auth.quotas import open_quota_store
from server.auth.ratelimit import open_rate_limiter
from server.dispatch.base import Dispatcher
from server.domain.async_redis import LoopBoundRedis
from server.domain.factory import (
    open_artifacts,
    open_task_metrics,
    open_task_store,
    open_usage_counter,
    open_voice_store,
    redis_client,
)
from server.http.controllers.clone import CloneController
from server.http.controllers.health import health
from server.http.controllers.metrics import metrics
from server.http.controllers.models import ModelsController
from server.http.controllers.stt import SttController
from server.http.controllers.tts import TtsController
from server.http.controllers.usage import usage
from server.http.dependencies import Services
from server.http.errors import EXCEPTION_HANDLERS
from server.http.headers import add_response_headers
from server.http.identity import provide_caller
from server.services.cache import MemoryCache, RedisCache, TieredCache
from server.services.catalog import CatalogService
from server.services.health import HealthSnapshots
from server.services.janitor import sweep
from server.services.tasks import TaskService
from server.settings import Settings

log = logging.getLogger(__name__)


def build_dispatcher(settings: Settings, store, artifacts, metrics) -> Dispatcher:
    if settings.distributed:
        from server.dispatch.distributed import CeleryDispatcher

        return CeleryDispatcher(settings)
    # Embedded: the worker side lives in this process. This is the one import of worker code
    # from the API package, and it happens only in the single-process mode.
    from server.dispatch.embedded import EmbeddedWorkerPool
    from server.worker.context import WorkerContext

    ctx = WorkerContext.build(settings, store=store, artifacts=artifacts, metrics=metrics)
    return EmbeddedWorkerPool(ctx, settings.worker.embedded_concurrency)


def create_app(settings: Settings) -> Litestar:
    store = open_task_store(settings)
    artifacts = open_artifacts(settings)
    task_metrics = open_task_metrics(settings)  # shared with the embedded workers in this process
    dispatcher = build_dispatcher(settings, store, artifacts, task_metrics)
    cache = (
        TieredCache(
            RedisCache(redis_client(settings.redis_url), settings.redis_prefix, LoopBoundRedis(settings.redis_url))
        )
        if settings.redis_url
        else MemoryCache()
    )
    voices = open_voice_store(settings)
    catalog = CatalogService(voices, open_usage_counter(settings), dispatcher.capabilities, cache)
    keys, limiter = open_key_store(settings), open_rate_limiter(settings)
    services = Services(
        settings=settings,
        tasks=TaskService(store, artifacts, dispatcher),
        dispatcher=dispatcher,
        catalog=catalog,
        keys=keys,
        limiter=limiter,
        quotas=open_quota_store(settings),
        task_metrics=task_metrics,
        key_cache=open_key_cache(settings, keys),
        budgets=BudgetReports(limiter, max_age_s=settings.auth.budget_report_max_age_s),
        health=HealthSnapshots(dispatcher.health),
    )

    async def janitor() -> None:
        ttl = settings.storage.task_ttl_hours * 3600
        while True:
            try:
                await to_thread.run_sync(sweep, store, artifacts, ttl)
                await to_thread.run_sync(voices.sweep)
            except Exception as exc:  # a store outage must not end the loop
                log.warning("janitor sweep failed: %s", exc)
            await asyncio.sleep(settings.storage.janitor_interval_s)

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await to_thread.run_sync(dispatcher.start)
        sweeper = asyncio.create_task(janitor())
        try:
            yield
        finally:
            sweeper.cancel()
            await to_thread.run_sync(dispatcher.stop)

    v1 = Router(
        path="/v1",
        route_handlers=[health, usage, SttController, TtsController, CloneController, ModelsController],
    )
    return Litestar(
        route_handlers=[v1, metrics],
        dependencies={
            "services": Provide(lambda: services, use_cache=True, sync_to_thread=False),
            "caller": Provide(provide_caller),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({"services": services}),
        before_send=[add_response_headers],
        cors_config=CORSConfig(allow_origins=settings.api.cors_origins) if settings.api.cors_origins else None,
        request_max_body_size=settings.api.max_json_kb * 1024,
        openapi_config=OpenAPIConfig(
            title="Voice API",
            version=__version__,
            description="Self-hosted text-to-speech, speech-to-text and voice cloning.",
            path="/docs",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
    )
