"""`voice-api wyoming` in distributed mode: it only enqueues on the Celery queues on a real Redis; a
real `voice-api worker` process runs the tasks, and the Wyoming process never loads a model."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import wait_for
from tests.support.audio import read_wav, sample_wav
from tests.support.processes import WorkerProcess, WyomingProcess, project_env
from tests.support.wer import word_error_rate
from tests.support.wyoming_client import Speech, client, describe, pcm16, synthesize, transcript_text

pytestmark = pytest.mark.slow

VOICE = "en_US-joe-medium"
SENTENCE = "Please bring the quarterly report to the office."


def test_wyoming_enqueues_for_a_celery_worker_and_loads_no_model(tmp_path, redis_url, redis_prefix):
    env = project_env(
        VOICE_API_REDIS_URL=redis_url,
        VOICE_API_REDIS_PREFIX=redis_prefix,
        VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"),  # the shared volume
        VOICE_API_WORKER__HEARTBEAT_S="1",
    )
    worker = WorkerProcess(env, tmp_path / "worker.log", queues="stt,tts")
    wyoming = WyomingProcess(env, tmp_path / "wyoming.log")
    try:
        wyoming.wait_ready()

        async def offered_voices() -> list[str]:
            async with client(wyoming.port) as c:
                return [v.name for v in (await describe(c)).tts[0].voices]

        # Built-in voices are what the workers report in their heartbeats.
        wait_for(lambda: VOICE in asyncio.run(offered_voices()), timeout=90, interval=0.5)
        samples, rate = read_wav(sample_wav())

        async def scenario():
            async with client(wyoming.port) as c:
                speech = await synthesize(c, SENTENCE, VOICE)
                assert isinstance(speech, Speech), speech
                heard = await transcript_text(c, speech.pcm, speech.rate)
                command = await transcript_text(c, pcm16(samples[: 8 * rate]), rate)
                return heard, command

        heard, command = asyncio.run(scenario())
        assert word_error_rate(SENTENCE, heard) <= 0.2, heard
        assert "hello" in command.lower()
        assert "loaded model" in worker.log()
        assert "loaded model" not in wyoming.log() and "started, attempt" not in wyoming.log()
    finally:
        wyoming.stop()
        worker.stop()
