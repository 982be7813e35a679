"""The distributed mode for real: the API enqueues on Redis, a `celery worker` process runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from server.http.app import create_app
from tests.api.conftest import wait_finished
from tests.conftest import wait_for
from tests.support.audio import encode, sample_clip
from tests.support.processes import WorkerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def distributed(distributed_config):
    return distributed_config()


@pytest.fixture
def api(distributed) -> Iterator[TestClient]:
    settings, _ = distributed
    with TestClient(create_app(settings)) as client:
        yield client


def start_worker(env, tmp_path, queues: str) -> WorkerProcess:
    return WorkerProcess(env, tmp_path / f"worker-{queues.replace(',', '-')}.log", queues=queues)


def workers_serving(api: TestClient, queue: str) -> bool:
    return any(queue in w["queues"] for w in api.get("/v1/health").json()["workers"])


def clip_mp3() -> bytes:
    clip, rate = sample_clip(8.0, offset=6.0)
    return encode(clip, rate, "mp3")


def test_celery_worker_runs_stt_submitted_through_the_api(api, distributed, tmp_path):
    _, env = distributed
    worker = start_worker(env, tmp_path, "stt")
    try:
        wait_for(lambda: workers_serving(api, "stt"), timeout=60)
        health = api.get("/v1/health").json()
        assert health["mode"] == "distributed" and health["engines"]["stt"]["available"] is True

        response = api.post("/v1/stt", files={"file": ("clip.mp3", clip_mp3())})
        assert response.status_code == 202
        status = wait_finished(api, f"/v1/stt/{response.json()['task_id']}", timeout=120)
        assert status["status"] == "succeeded", (status, worker.log())
        result = api.get(f"/v1/stt/{status['task_id']}/result").json()
        assert "hello" in result["text"].lower()
    finally:
        worker.stop()


def test_a_speaker_is_enrolled_by_a_celery_worker_and_named_in_a_transcript(api, distributed, tmp_path):
    from tests.support.audio import sample_wav, single_speaker_spans, wav_bytes

    _, env = distributed
    worker = start_worker(env, tmp_path, "speaker,stt")
    try:
        wait_for(lambda: workers_serving(api, "speaker"), timeout=60)
        # the API waits for the worker's task over Redis and answers with the speaker itself
        response = api.post(
            "/v1/speakers",
            files={"file": ("a.wav", wav_bytes(single_speaker_spans("speaker91")))},
            data={"name": "Bob"},
        )
        assert response.status_code == 201, (response.text, worker.log())
        speaker_id = response.json()["speaker_id"]
        response = api.post("/v1/stt", files={"file": ("s.wav", sample_wav().read_bytes())}, data={"speakers": "all"})
        status = wait_finished(api, f"/v1/stt/{response.json()['task_id']}", timeout=300)
        assert status["status"] == "succeeded", (status, worker.log())
        result = api.get(f"/v1/stt/{status['task_id']}/result").json()
        assert [s["speaker_id"] for s in result["speakers"] if s["name"] == "Bob"] == [speaker_id]
    finally:
        worker.stop()


def test_workers_consume_only_their_queues(api, distributed, tmp_path):
    _, env = distributed
    tts_only = start_worker(env, tmp_path, "tts")
    stt_worker = None
    try:
        wait_for(lambda: workers_serving(api, "tts"), timeout=60)
        task_id = api.post("/v1/stt", files={"file": ("clip.mp3", clip_mp3())}).json()["task_id"]
        wait_for(lambda: api.get("/v1/health").json()["queue"]["depths"]["stt"] == 1, timeout=10)
        # a worker that does not serve the stt queue never takes the task
        assert api.get(f"/v1/stt/{task_id}").json()["status"] == "queued"

        stt_worker = start_worker(env, tmp_path, "stt")
        status = wait_finished(api, f"/v1/stt/{task_id}", timeout=120)
        assert status["status"] == "succeeded", (status, stt_worker.log())
    finally:
        tts_only.stop()
        if stt_worker is not None:
            stt_worker.stop()
