"""`voice-api serve` as a real process: upload real speech, poll, read the transcript; crash it
mid-task and start it again."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.conftest import wait_for
from tests.support.audio import sample_reference_text, sample_wav, tiled_sample
from tests.support.processes import ServeProcess, project_env
from tests.support.wer import word_error_rate

pytestmark = pytest.mark.slow


def poll(base_url: str, task_id: str, until, timeout: float = 180.0, headers: dict | None = None) -> dict:
    def check():
        body = httpx.get(f"{base_url}/v1/stt/{task_id}", headers=headers, timeout=5).json()
        return body if until(body) else None

    return wait_for(check, timeout=timeout, interval=0.2)


def finished(body: dict) -> bool:
    return body["status"] in ("succeeded", "failed")


def test_first_start_prints_an_admin_key_that_serves_real_speech(tmp_path):
    env = project_env(VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"))
    server = ServeProcess(env, tmp_path / "serve.log")
    try:
        health = server.wait_healthy()
        assert health["mode"] == "embedded" and health["engines"]["stt"]["available"]
        key = re.search(r"^\s+(va_\S+)$", server.log(), re.MULTILINE).group(1)
        assert httpx.get(f"{server.base_url}/v1/models", timeout=5).status_code == 401
        auth = {"Authorization": f"Bearer {key}"}
        with open(sample_wav(), "rb") as fh:
            response = httpx.post(
                f"{server.base_url}/v1/stt", files={"file": ("sample.wav", fh)}, headers=auth, timeout=30
            )
        assert response.status_code == 202, response.text
        status = poll(server.base_url, response.json()["task_id"], finished, headers=auth)
        assert status["status"] == "succeeded", server.log()
        result = httpx.get(f"{server.base_url}/v1/stt/{status['task_id']}/result", headers=auth, timeout=5).json()
        assert word_error_rate(sample_reference_text(), result["text"]) < 0.35
        assert len(result["speakers"]) == 2
    finally:
        server.stop()
    # the key is shown once: a second start does not print another
    again = ServeProcess(env, tmp_path / "serve-again.log", port=server.port)
    try:
        again.wait_healthy()
        assert "va_" not in again.log()
    finally:
        again.stop()


def test_task_survives_a_crash_of_the_server(tmp_path):
    env = project_env(VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"), VOICE_API_AUTH__ENABLED="false")
    server = ServeProcess(env, tmp_path / "serve-1.log")
    try:
        server.wait_healthy()
        audio = tiled_sample(240.0)  # long enough to still be running when we kill the server
        response = httpx.post(
            f"{server.base_url}/v1/stt", files={"file": ("long.wav", audio)}, data={"diarize": "false"}, timeout=30
        )
        task_id = response.json()["task_id"]
        poll(server.base_url, task_id, lambda b: b["status"] == "running" and b["progress"] >= 10, timeout=60)
    finally:
        server.kill()  # SIGKILL mid-task: no shutdown hook runs

    restarted = ServeProcess(env, tmp_path / "serve-2.log", port=server.port)
    try:
        restarted.wait_healthy()
        started = time.monotonic()
        status = poll(restarted.base_url, task_id, finished, timeout=240)
        assert status["status"] == "succeeded", (status, restarted.log())
        result = httpx.get(f"{restarted.base_url}/v1/stt/{task_id}/result", timeout=5).json()
        assert result["duration"] == pytest.approx(240.0, abs=0.1) and result["text"]
        assert "re-queued 1 task" in restarted.log()
        assert time.monotonic() - started < 240
    finally:
        restarted.stop()
