"""Everything a worker process needs to run tasks, created once per process and reused."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from engines.model_cache import ModelCache
from engines.tts.loudness import VoiceLevels
from model_store.speakers import SpeakerStore
from model_store.voices import VoiceStore
from server.domain.artifacts import ArtifactStore
from server.domain.factory import (
    open_artifacts,
    open_speaker_store,
    open_task_leases,
    open_task_metrics,
    open_task_store,
    open_usage_counter,
    open_voice_store,
    open_webhook_queue,
)
from server.domain.leases import TaskLeases
from server.domain.metrics import TaskMetrics
from server.domain.task_store import TaskStore
from server.domain.usage import UsageCounter
from server.domain.webhook_queue import WebhookQueue
from server.services.task_stream import StreamPublisher, open_task_stream
from server.settings import Settings
from server.worker.engines import EngineRegistry


@dataclass
class WorkerContext:
    settings: Settings
    store: TaskStore
    artifacts: ArtifactStore
    cache: ModelCache
    metrics: TaskMetrics
    streams: StreamPublisher  # partial output (audio chunks, transcript segments) for followers
    engines: EngineRegistry = field(init=False)
    usage: UsageCounter = field(init=False)
    voices: VoiceStore = field(init=False)
    speakers: SpeakerStore = field(init=False)  # enrolled voiceprints (model_store/speakers.py)
    leases: TaskLeases = field(init=False)
    webhooks: WebhookQueue = field(init=False)  # deliveries due (server/domain/webhook_queue.py)
    levels: VoiceLevels = field(init=False)  # each voice's loudness, calibrated once per process
    # Set while the process shuts down: running tasks stop at their next progress report and go back
    # to the queue (the embedded pool sets it; engine threads cannot be killed from outside).
    stopping: threading.Event = field(init=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.engines = EngineRegistry(self.settings, self.cache)
        self.leases = open_task_leases(self.settings)
        self.usage = open_usage_counter(self.settings)
        self.voices = open_voice_store(self.settings)
        self.speakers = open_speaker_store(self.settings)
        self.webhooks = open_webhook_queue(self.settings)
        self.levels = VoiceLevels()

    @staticmethod
    def build(
        settings: Settings,
        store: TaskStore | None = None,
        artifacts: ArtifactStore | None = None,
        metrics: TaskMetrics | None = None,
        streams: StreamPublisher | None = None,
    ) -> WorkerContext:
        return WorkerContext(
            settings=settings,
            store=store or open_task_store(settings),
            artifacts=artifacts or open_artifacts(settings),
            metrics=metrics or open_task_metrics(settings),
            streams=streams or open_task_stream(settings),
            cache=ModelCache(
                idle_ttl=settings.worker.model_idle_ttl_s,
                budget_bytes=int(budget * 2**20) if (budget := settings.worker.model_memory_budget_mb) else None,
                wait_s=settings.worker.model_load_wait_s,
            ),
        )
