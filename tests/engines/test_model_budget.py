"""The per-worker model cache with a memory budget, on real small models (tiny.en, the Piper voice)."""

from __future__ import annotations

import threading
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


def test_a_transcription_holds_its_model_until_the_last_segment():
    """While the STT engine is still decoding segments, the budget has no room for the Piper voice
    (it would sit beside the whisper model in use); once the transcription ends, it loads."""
    piper_bytes = weights_size(bundled_voice_files()[0][0])
    cache = ModelCache(budget_bytes=max(WHISPER_BYTES, piper_bytes) + 1, wait_s=0)
    stt = FasterWhisperEngine(FasterWhisperConfig(model_dir=WHISPER, multilingual=False), cache)
    tts = PiperSynthesizer(cache=cache)
    clip, _ = sample_clip(4.0, offset=6.0)
    decoding, go_on = threading.Event(), threading.Event()

    def pause_at_first_segment(done, total):
        if done < total and not decoding.is_set():
            decoding.set()
            go_on.wait(timeout=120)

    results = []
    worker = threading.Thread(
        target=lambda: results.append(stt.transcribe(TranscriptionRequest(audio=clip), pause_at_first_segment))
    )
    worker.start()
    try:
        assert decoding.wait(timeout=120)
        with pytest.raises(ModelTooLarge) as refused:
            tts.synthesize(SynthesisRequest(text="Hello.", voice_id="en_US-joe-medium"))
        assert refused.value.code == "insufficient_memory"
        assert [key[0] for key in cache.resident()] == ["faster-whisper"]
    finally:
        go_on.set()
        worker.join()
    assert results and results[0].text
    assert tts.synthesize(SynthesisRequest(text="Hello.", voice_id="en_US-joe-medium")).samples.size
    assert [key[0] for key in cache.resident()] == ["piper"]


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
    with pytest.raises(ModelTooLarge), cache.use("big", lambda: loaded.append(1), size_bytes=101):
        pass
    assert loaded == []
