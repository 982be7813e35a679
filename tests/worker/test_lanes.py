"""The interactive lane for real: a short transcription submitted while a long one runs finishes
while the long one is still running, in embedded mode (a thread kept for the lane) and distributed
mode (a real `celery worker` with its interactive companion process). Judged by the long task's
state when the short one is done, never by a timing."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from server.http.app import create_app
from tests.api.conftest import wait_finished
from tests.conftest import wait_for
from tests.support.audio import sample_clip, tiled_sample, wav_bytes
from tests.support.processes import WorkerProcess

pytestmark = pytest.mark.slow

LONG_S = 600.0  # tens of seconds of work on 2 cores: the short task has time to overtake it


def short_clip() -> bytes:
    clip, rate = sample_clip(4.0, offset=6.0)
    return wav_bytes(clip, rate)


def overtakes(client: TestClient) -> tuple[dict, dict]:
    long_id = client.post("/v1/stt", files={"file": ("long.wav", tiled_sample(LONG_S))}, data={"diarize": "false"})
    long_id = long_id.json()["task_id"]
    wait_for(lambda: client.get(f"/v1/stt/{long_id}").json()["status"] == "running", timeout=120)
    short = client.post("/v1/stt", files={"file": ("short.wav", short_clip())}, data={"diarize": "false"})
    assert short.status_code == 202, short.text
    done = wait_finished(client, f"/v1/stt/{short.json()['task_id']}", timeout=120)
    return done, client.get(f"/v1/stt/{long_id}").json()


def test_embedded_short_task_overtakes_a_long_one(make_settings):
    settings = make_settings(worker={"embedded_concurrency": 1, "interactive_workers": 1})
    with TestClient(create_app(settings)) as client:
        done, long = overtakes(client)
        assert done["status"] == "succeeded"
        assert long["status"] == "running", long
        text = client.get(f"/v1/stt/{done['task_id']}/result", params={"plain_text": "true"}).text
        assert text.strip()


def test_distributed_short_task_overtakes_a_long_one(distributed_config, tmp_path):
    # the default companion process, which the other tests turn off
    settings, env = distributed_config(env={"VOICE_API_WORKER__INTERACTIVE_WORKERS": "1"})
    worker = WorkerProcess(env, tmp_path / "worker.log", queues="stt")
    try:
        with TestClient(create_app(settings)) as client:
            wait_for(lambda: client.get("/v1/health").json()["workers"], timeout=60)
            done, long = overtakes(client)
            assert done["status"] == "succeeded", worker.log()
            assert long["status"] == "running", long
    finally:
        worker.stop()
