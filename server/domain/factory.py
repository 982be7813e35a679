"""Builds the task store and artifact store a process needs from its settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.domain.artifacts import ArtifactStore
from server.domain.leases import TaskLeases
from server.domain.metrics import TaskMetrics
from server.domain.task_store import TaskStore
from server.domain.usage import UsageCounter
from server.settings import Settings

if TYPE_CHECKING:
    from redis import Redis

    from model_store.speakers import SpeakerStore
    from model_store.voices import VoiceStore
    from server.domain.idempotency import IdempotencyStore
    from server.domain.webhook_queue import WebhookQueue


def redis_client(url: str) -> Redis:
    import redis

    # Lazy: redis-py connects on the first command, never here. Short timeouts so a dead Redis
    # turns into a quick 503 instead of a hung request.
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15)


def open_task_store(settings: Settings) -> TaskStore:
    if settings.redis_url:
        from server.domain.async_redis import LoopBoundRedis
        from server.domain.redis_store import RedisTaskStore
        from server.domain.task_cache import TaskReadCache

        return RedisTaskStore(
            redis_client(settings.redis_url),
            prefix=settings.redis_prefix,
            finished_ttl=int(settings.storage.task_ttl_hours * 3600),
            async_redis=LoopBoundRedis(settings.redis_url),
            read_cache=TaskReadCache(max_age_s=settings.storage.task_status_cache_s),
        )
    from server.domain.sqlite_store import SqliteTaskStore

    return SqliteTaskStore(settings.storage.sqlite_path)


def open_artifacts(settings: Settings) -> ArtifactStore:
    return ArtifactStore(settings.storage.artifacts)


def open_usage_counter(settings: Settings) -> UsageCounter:
    if settings.redis_url:
        from server.domain.usage import RedisUsageCounter

        return RedisUsageCounter(redis_client(settings.redis_url), settings.redis_prefix)
    from server.domain.usage import SqliteUsageCounter

    return SqliteUsageCounter(settings.storage.sqlite_path)


def open_idempotency_store(settings: Settings) -> IdempotencyStore:
    if settings.redis_url:
        from server.domain.idempotency import RedisIdempotencyStore

        return RedisIdempotencyStore(redis_client(settings.redis_url), settings.redis_prefix)
    from server.domain.idempotency import SqliteIdempotencyStore

    return SqliteIdempotencyStore(settings.storage.sqlite_path)


def open_webhook_queue(settings: Settings) -> WebhookQueue:
    if settings.redis_url:
        from server.domain.webhook_queue import RedisWebhookQueue

        return RedisWebhookQueue(redis_client(settings.redis_url), settings.redis_prefix)
    from server.domain.webhook_queue import SqliteWebhookQueue

    return SqliteWebhookQueue(settings.storage.sqlite_path)


def open_voice_store(settings: Settings) -> VoiceStore:
    from model_store.voices import VoiceStore

    return VoiceStore(settings.storage.models)


def open_speaker_store(settings: Settings) -> SpeakerStore:
    from model_store.speakers import SpeakerStore

    return SpeakerStore(settings.storage.models)


def open_task_metrics(settings: Settings) -> TaskMetrics:
    if settings.redis_url:
        from server.domain.metrics import RedisTaskMetrics

        return RedisTaskMetrics(redis_client(settings.redis_url), settings.redis_prefix)
    from server.domain.metrics import MemoryTaskMetrics

    return MemoryTaskMetrics()


def open_task_leases(settings: Settings) -> TaskLeases:
    if settings.redis_url:
        from server.domain.leases import RedisTaskLeases

        return RedisTaskLeases(redis_client(settings.redis_url), settings.redis_prefix, settings.worker.lease_ttl_s)
    from server.domain.leases import NoLeases

    return NoLeases()
