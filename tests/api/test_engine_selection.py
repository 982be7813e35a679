"""Engine selection from settings, and what happens when a configured engine is not there."""

from __future__ import annotations

from litestar.testing import TestClient

from server.http.app import create_app
from tests.api.conftest import assert_error, wait_finished
from tests.support.audio import sample_clip, wav_bytes


def clip() -> bytes:
    audio, rate = sample_clip(4.0, offset=6.0)
    return wav_bytes(audio, rate)


def test_missing_stt_model_is_reported_and_fails_tasks_clearly(make_settings):
    with TestClient(create_app(make_settings(stt={"model": "large-v3"}))) as client:
        health = client.get("/v1/health")
        assert health.status_code == 200  # the server serves; one engine cannot run
        assert health.json()["engines"]["stt"] == {**health.json()["engines"]["stt"], "available": False}
        task_id = client.post("/v1/stt", files={"file": ("a.wav", clip())}, data={"diarize": "false"}).json()["task_id"]
        status = wait_finished(client, f"/v1/stt/{task_id}")
        assert status["status"] == "failed" and status["error"]["code"] == "engine_unavailable"
        assert "large-v3" in status["error"]["message"]


def test_unknown_engine_name_fails_clearly(make_settings):
    with TestClient(create_app(make_settings(stt={"engine": "whisper-cpp"}))) as client:
        task_id = client.post("/v1/stt", files={"file": ("a.wav", clip())}, data={"diarize": "false"}).json()["task_id"]
        error = wait_finished(client, f"/v1/stt/{task_id}")["error"]
        assert error["code"] == "engine_unavailable" and "faster-whisper" in error["message"]


def test_pyannote_forced_without_a_pipeline_refuses_diarization_up_front(make_settings):
    with TestClient(create_app(make_settings(diarization={"engine": "pyannote"}))) as client:
        diarization = client.get("/v1/health").json()["engines"]["diarization"]
        assert diarization["engine"] == "pyannote" and diarization["available"] is False
        assert_error(client.post("/v1/stt", files={"file": ("a.wav", clip())}), 422, "diarization_unavailable")
        task_id = client.post("/v1/stt", files={"file": ("a.wav", clip())}, data={"diarize": "false"}).json()["task_id"]
        assert wait_finished(client, f"/v1/stt/{task_id}")["status"] == "succeeded"


def test_multilingual_base_model_is_selectable_by_name(make_settings):
    with TestClient(create_app(make_settings(stt={"model": "base"}))) as client:
        stt = client.get("/v1/health").json()["engines"]["stt"]
        assert stt["model"] == "base" and stt["available"] is True and stt["languages"] is None
