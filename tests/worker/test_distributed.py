"""The distributed mode for real: the API enqueues on Redis, a `celery worker` process runs it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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


def _niceness(pid: int, tid: str) -> int:
    return int(Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid] + [p for child in children for p in _process_tree(int(child))]


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="needs Linux with autogroup scheduling")
def test_worker_process_lowers_its_own_and_its_sessions_cpu_priority(distributed_config, tmp_path):
    # Started in a session of its own, as a service manager starts it: every thread of the worker and
    # of its pool process runs at worker.niceness, and so does its autogroup (without which the kernel
    # shares CPU per session and the API would get no more than the engines).
    _, env = distributed_config(env={"VOICE_API_WORKER__NICENESS": "7"})
    worker = start_worker(env, tmp_path, "stt")
    try:
        # At niceness 7 in its own autogroup the worker starts slowly on a busy machine: generous waits.
        wait_for(lambda: len(_process_tree(worker.proc.pid)) >= 2, timeout=180)  # the pool child is forked
        wait_for(lambda: "worker niceness" in worker.log(), timeout=60)
        pids = _process_tree(worker.proc.pid)
        nices = {_niceness(p, t) for p in pids for t in os.listdir(f"/proc/{p}/task")}
        assert nices == {max(7, os.getpriority(os.PRIO_PROCESS, 0))}, worker.log()
        assert Path(f"/proc/{worker.proc.pid}/autogroup").read_text().split()[-1] == "7"
        assert "worker niceness 7, autogroup niceness 7" in worker.log()
    finally:
        worker.stop()
