"""The per-worker model cache with a memory budget, on real small models (tiny.en, the Piper voice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.model_cache import ModelCache, ModelTooLarge, weights_size
from engines.stt.faster_whisper import FasterWhisperConfig, FasterWhisperEngine
from engines.tts.piper_engine import PiperSynthesizer, bundled_voice_files
from engines.tts.types import SynthesisRequest
from engines.types import TranscriptionRequest
from model_store.whisper import resolve
from server.domain.tasks import Task, TaskKind
from server.worker.context import WorkerContext
from server.worker.runner import execute_task
from tests.support.audio import sample_clip, wav_bytes

WHISPER = resolve("tiny.en", Path("/nonexistent"))
WHISPER_BYTES = weights_size(WHISPER / "model.bin")


def test_loading_beyond_the_budget_evicts_the_least_recently_used(tmp_path):
    piper_bytes = weights_size(bundled_voice_files()[0][0])
    cache = ModelCache(budget_bytes=max(WHISPER_BYTES, piper_bytes) + 1)  # room for one at a time
    stt = FasterWhisperEngine(FasterWhisperConfig(model_dir=WHISPER, multilingual=False), cache)
    tts = PiperSynthesizer(cache=cache, deterministic=True)
    clip, _ = sample_clip(4.0, offset=6.0)

    stt.transcribe(TranscriptionRequest(audio=clip))
    assert len(cache.resident()) == 1 and cache.resident_bytes() == WHISPER_BYTES
    tts.synthesize(SynthesisRequest(text="Hello.", voice_id="en_US-joe-medium"))
    assert len(cache.resident()) == 1 and cache.resident()[0][0] == "piper"  # whisper was evicted
    assert stt.transcribe(TranscriptionRequest(audio=clip)).text  # and reloads on demand


def test_a_model_that_cannot_fit_fails_the_task_clearly(make_settings):
    ctx = WorkerContext.build(make_settings(worker={"model_memory_budget_mb": 1}))
    task = Task.new(TaskKind.STT, "alice", {"diarize": False})
    clip, rate = sample_clip(2.0, offset=6.0)
    ctx.artifacts.write_bytes(task.id, ctx.artifacts.INPUT, wav_bytes(clip, rate))
    ctx.store.create(task)
    execute_task(ctx, task.id)
    failed = ctx.store.get(task.id)
    assert failed.error.code == "insufficient_memory" and "budget" in failed.error.message


def test_budget_refuses_before_loading():
    loaded = []
    cache = ModelCache(budget_bytes=100)
    with pytest.raises(ModelTooLarge):
        cache.get("big", lambda: loaded.append(1), size_bytes=101)
    assert loaded == []
