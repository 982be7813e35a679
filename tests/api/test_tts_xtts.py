"""XTTS through the API: a provisioned tiny checkpoint's speakers become voices and synthesise."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from server.http.app import create_app
from tests.api.conftest import wait_finished
from tests.fixtures.tiny_xtts import build_tiny_xtts_checkpoint


@pytest.fixture
def xtts_client(make_settings):
    settings = make_settings()
    build_tiny_xtts_checkpoint(settings.storage.models / "xtts" / settings.tts.xtts_checkpoint)
    with TestClient(create_app(settings)) as client:
        yield client


def test_xtts_speakers_are_voices_and_mix_with_piper_in_one_script(xtts_client):
    tts = xtts_client.get("/v1/health").json()["engines"]["tts"]
    ids = [v["id"] for v in tts["voices"]]
    assert tts["engine"] == "xtts+piper" and "xtts:ana-florence" in ids and "en_US-joe-medium" in ids
    models = xtts_client.get("/v1/models", params={"title": "Ana Florence"}).json()
    assert models["items"][0]["id"] == "xtts:ana-florence" and models["items"][0]["engine"] == "xtts"

    body = {
        "text": "Hello from Piper. <|speaker:1|> And hello from XTTS.",
        "model_ids": ["en_US-joe-medium", "xtts:ana-florence"],
        "format": "wav",
    }
    task_id = xtts_client.post("/v1/tts", json=body).json()["task_id"]
    status = wait_finished(xtts_client, f"/v1/tts/{task_id}")
    assert status["status"] == "succeeded", status
    assert status["result"]["duration"] > 1.0
    assert xtts_client.get(f"/v1/tts/{task_id}/audio").headers["content-type"] == "audio/wav"


def test_request_language_reaches_xtts(xtts_client):
    body = {"text": "Hello there.", "model_ids": ["xtts:ana-florence"], "format": "wav"}
    ok = xtts_client.post("/v1/tts", json={**body, "language": "en"}).json()["task_id"]
    assert wait_finished(xtts_client, f"/v1/tts/{ok}")["status"] == "succeeded"
    # the tiny checkpoint knows only English: French must reach the engine and be refused there
    refused = xtts_client.post("/v1/tts", json={**body, "language": "fr"}).json()["task_id"]
    status = wait_finished(xtts_client, f"/v1/tts/{refused}")
    assert status["status"] == "failed" and status["error"]["code"] == "unsupported_language"
