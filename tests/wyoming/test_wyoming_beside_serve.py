"""The Wyoming listener inside `voice-api serve` (wyoming.enabled): one process, one set of workers,
metrics and limits for both front-ends; Wyoming connections get the operator's owner and plan."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from wyoming.error import Error

from tests.support.processes import ServeProcess, free_port, project_env, wait_wyoming
from tests.support.wyoming_client import Speech, client, describe, synthesize

pytestmark = pytest.mark.slow

VOICE = "en_US-joe-medium"


def test_serve_runs_wyoming_beside_http_with_the_plan_the_operator_set(tmp_path):
    port = free_port()
    env = project_env(
        VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"),
        VOICE_API_WYOMING__ENABLED="true",
        VOICE_API_WYOMING__URI=f"tcp://127.0.0.1:{port}",
        VOICE_API_WYOMING__OWNER="kitchen",
        VOICE_API_WYOMING__PLAN="basic",
        VOICE_API_AUTH__PLANS__BASIC__TTS_CHARACTERS_PER_MONTH="30",
    )
    server = ServeProcess(env, tmp_path / "serve.log")
    try:
        server.wait_healthy()
        wait_wyoming(port, process=server)

        async def scenario():
            async with client(port) as c:
                first = await synthesize(c, "Good morning.", VOICE)  # 13 of the plan's 30 characters
                over = await synthesize(c, "The kitchen lights are now on.", VOICE)  # 30 more: over
                info = await describe(c)  # the connection is still usable
                return first, over, info

        first, over, info = asyncio.run(scenario())
        assert isinstance(first, Speech) and len(first.pcm) > 0
        assert isinstance(over, Error) and over.code == "quota_exceeded", over
        assert info.tts[0].voices
        # The Wyoming task ran on the HTTP server's own workers: its metrics count it.
        metrics = httpx.get(f"{server.base_url}/metrics", timeout=5).text
        assert 'voice_api_tasks_total{kind="tts",outcome="succeeded"} 1' in metrics
    finally:
        server.stop()
