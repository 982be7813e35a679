"""Every /v1/stt route and error case, through the real Litestar app and the real engine."""

from __future__ import annotations

import numpy as np
import pytest
from litestar.testing import TestClient

from server.auth.caller import LOCAL_OWNER
from server.domain.tasks import Task, TaskKind
from server.http.app import create_app
from tests.api.conftest import assert_error, services, wait_finished
from tests.support.audio import encode, sample_clip, sample_reference_text, sample_wav, wav_bytes
from tests.support.wer import word_error_rate

# webhook: the delivery record when the task was submitted with a callback_url (null otherwise)
TASK_FIELDS = {"task_id", "status", "progress", "created_at", "updated_at", "error", "result", "webhook"}


def upload(client, data: bytes, name: str = "speech.wav", **fields):
    return client.post("/v1/stt", files={"file": (name, data, "application/octet-stream")}, data=fields)


def test_submit_poll_result_on_real_speech(client):
    response = upload(client, sample_wav().read_bytes())
    assert response.status_code == 202
    accepted = response.json()
    assert set(accepted) == TASK_FIELDS and accepted["status"] == "queued" and accepted["progress"] == 0

    status = wait_finished(client, f"/v1/stt/{accepted['task_id']}")
    assert status["status"] == "succeeded", status
    assert status["progress"] == 100 and status["result"] is None and status["error"] is None

    result = client.get(f"/v1/stt/{accepted['task_id']}/result").json()
    assert result["language"] == "en" and result["duration"] == pytest.approx(30.0, abs=0.05)
    assert word_error_rate(sample_reference_text(), result["text"]) < 0.35
    segments = result["segments"]
    assert segments and [s["id"] for s in segments] == list(range(len(segments)))
    for seg in segments:
        assert {"id", "start", "end", "text", "speaker"} <= set(seg)
        assert 0 <= seg["start"] < seg["end"] <= 30.05
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)

    plain = client.get(f"/v1/stt/{accepted['task_id']}/result", params={"plain_text": "true"})
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/plain")
    assert plain.text == result["text"]


def test_compressed_upload_with_language(client):
    clip, rate = sample_clip(8.0, offset=6.0)
    response = upload(client, encode(clip, rate, "mp3"), name="clip.mp3", language="en")
    assert response.status_code == 202
    status = wait_finished(client, f"/v1/stt/{response.json()['task_id']}")
    assert status["status"] == "succeeded"
    text = client.get(f"/v1/stt/{status['task_id']}/result").json()["text"]
    assert "hello" in text.lower()


def test_result_before_success_is_409_with_status(client):
    task = Task.new(TaskKind.STT, LOCAL_OWNER)
    services(client).tasks.store.create(task)  # recorded but never enqueued: stays queued
    error = assert_error(client.get(f"/v1/stt/{task.id}/result"), 409, "task_not_ready")
    assert error["status"] == "queued"
    status = client.get(f"/v1/stt/{task.id}").json()
    assert status["status"] == "queued" and status["progress"] == 0


def test_result_of_failed_task_is_409_task_failed(client):
    task = Task.new(TaskKind.STT, LOCAL_OWNER)
    store = services(client).tasks.store
    store.create(task)
    store.start(task.id)
    store.fail(task.id, "unsupported_audio", "cannot decode")
    status = client.get(f"/v1/stt/{task.id}").json()
    assert status["status"] == "failed"
    assert status["error"] == {"code": "unsupported_audio", "message": "cannot decode"}
    assert assert_error(client.get(f"/v1/stt/{task.id}/result"), 409, "task_failed")["status"] == "failed"


def test_unknown_and_foreign_tasks_are_404(client):
    assert_error(client.get("/v1/stt/" + "0" * 32), 404, "task_not_found")
    assert_error(client.get("/v1/stt/" + "0" * 32 + "/result"), 404, "task_not_found")
    other = Task.new(TaskKind.STT, "someone-else")
    services(client).tasks.store.create(other)
    assert_error(client.get(f"/v1/stt/{other.id}"), 404, "task_not_found")
    assert_error(client.get("/v1/no-such-route"), 404, "not_found")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_audio"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10, "unsupported_audio"),
        (np.random.default_rng(1).bytes(50_000), "unsupported_audio"),
        (b"%PDF-1.4 not audio at all" * 100, "unsupported_audio"),
    ],
    ids=["empty", "lying-wav-header", "random-bytes", "pdf"],
)
def test_not_audio_is_415_and_leaves_nothing(client, data, code):
    assert_error(upload(client, data, name="../../etc/passwd.wav"), 415, code)
    assert list(services(client).tasks.artifacts.task_ids()) == []


def test_bad_requests_are_400(client):
    assert_error(client.post("/v1/stt", json={"file": "x"}), 400, "unsupported_content_type")
    assert_error(client.post("/v1/stt", files={"other": ("a.wav", b"x")}), 400, "missing_file")
    broken = b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nabc'
    assert_error(
        client.post("/v1/stt", content=broken, headers={"content-type": "multipart/form-data; boundary=XYZ"}),
        400,
        "malformed_multipart",
    )


def test_unknown_language_is_422(client):
    assert_error(upload(client, sample_wav().read_bytes(), language="klingon"), 422, "unsupported_language")


def test_upload_over_limit_is_413_while_streaming(make_settings):
    settings = make_settings(api={"max_upload_mb": 0.2})
    with TestClient(create_app(settings)) as client:
        big = wav_bytes(np.zeros(16_000 * 10, dtype=np.float32))  # 320 kB
        assert_error(upload(client, big), 413, "upload_too_large")
        assert list(services(client).tasks.artifacts.task_ids()) == []
        small = wav_bytes(np.zeros(16_000 * 2, dtype=np.float32))
        assert upload(client, small).status_code == 202


def test_audio_longer_than_limit_is_413(make_settings):
    with TestClient(create_app(make_settings(stt={"max_duration_s": 5}))) as client:
        assert_error(upload(client, sample_wav().read_bytes()), 413, "audio_too_long")


def test_queue_unreachable_is_503(make_settings):
    settings = make_settings(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    with TestClient(create_app(settings)) as client:
        assert_error(upload(client, wav_bytes(np.zeros(16_000, dtype=np.float32))), 503, "queue_unavailable")
        health = client.get("/v1/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert list(services(client).tasks.artifacts.task_ids()) == []
