"""Two API processes in distributed mode, one Redis: each answers status polls from memory
(server/domain/task_cache.py), and still shows every change a worker or the other node makes:
started, progress, finished, canceled, forgotten.

The nodes run with a 60 s bound on cached entries, so within this test a change can only reach a
node through its change message; the waits below poll until the change shows (at most 10 s)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import redis

from server.domain.factory import open_task_store
from server.domain.tasks import TaskStatus
from server.settings import Settings
from tests.support.processes import ServeProcess, project_env

pytestmark = pytest.mark.slow

SEEN_WITHIN_S = 10.0  # far below the nodes' 60 s bound: only a message explains a change seen in time


@pytest.fixture
def cluster(tmp_path, redis_url, redis_prefix):
    env = project_env(
        VOICE_API_REDIS_URL=redis_url,
        VOICE_API_REDIS_PREFIX=redis_prefix,
        VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"),
        VOICE_API_STORAGE__TASK_STATUS_CACHE_S="60",
        VOICE_API_AUTH__ENABLED="false",
    )
    # The test plays the worker (none runs, so submitted tasks stay queued until it moves them).
    worker = open_task_store(Settings(redis_url=redis_url, redis_prefix=redis_prefix))
    nodes = [ServeProcess(env, tmp_path / f"api-{i}.log") for i in range(2)]
    try:
        for node in nodes:
            node.wait_healthy()
        yield worker, [httpx.Client(base_url=node.base_url, timeout=30) for node in nodes]
    finally:
        for node in nodes:
            node.stop()


def status(node: httpx.Client, task_id: str) -> dict:
    response = node.get(f"/v1/tts/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


def seen(node: httpx.Client, task_id: str, check) -> dict:
    deadline = time.monotonic() + SEEN_WITHIN_S
    while not check(body := status(node, task_id)):
        assert time.monotonic() < deadline, f"{node.base_url} still shows {body}"
        time.sleep(0.02)
    return body


def gone(node: httpx.Client, task_id: str) -> None:
    deadline = time.monotonic() + SEEN_WITHIN_S
    while (code := node.get(f"/v1/tts/{task_id}").status_code) != 404:
        assert code == 200 and time.monotonic() < deadline, f"{node.base_url} still has the task"
        time.sleep(0.02)


def submit(node: httpx.Client) -> str:
    response = node.post("/v1/tts", json={"text": "Hello there."})
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


def test_every_node_sees_a_workers_progress_and_the_end(cluster, redis_url, redis_prefix):
    worker, (a, b) = cluster
    task_id = submit(a)
    for node in (a, b):
        for _ in range(3):
            assert status(node, task_id)["status"] == "queued"
    # A change that publishes nothing: the nodes answer from memory, so neither shows it.
    raw = redis.Redis.from_url(redis_url)
    record = json.loads(raw.get(f"{redis_prefix}task:{task_id}"))
    raw.set(f"{redis_prefix}task:{task_id}", json.dumps(record | {"progress": 7}))
    assert [status(node, task_id)["progress"] for node in (a, b)] == [0, 0]

    worker.start(task_id)
    for node in (a, b):
        seen(node, task_id, lambda body: body["status"] == "running")
    worker.set_progress(task_id, 40)
    for node in (a, b):
        seen(node, task_id, lambda body: body["progress"] == 40)
    worker.succeed(task_id, None)
    for node in (a, b):
        assert seen(node, task_id, lambda body: body["status"] == "succeeded")["progress"] == 100
    assert worker.get(task_id).status is TaskStatus.SUCCEEDED


def test_a_cancel_or_a_forget_on_one_node_shows_on_both(cluster):
    worker, (a, b) = cluster
    queued, finished = submit(a), submit(a)
    worker.start(finished)
    worker.succeed(finished, None)
    for node in (a, b):
        assert status(node, queued)["status"] == "queued"
        assert status(node, finished)["status"] == "succeeded"

    assert b.delete(f"/v1/tts/{queued}").json()["status"] == "canceled"
    assert status(b, queued)["status"] == "canceled"  # its own write: at once, no waiting
    seen(a, queued, lambda body: body["status"] == "canceled")

    assert a.delete(f"/v1/tts/{finished}").status_code == 200  # a finished task is forgotten
    assert a.get(f"/v1/tts/{finished}").status_code == 404
    gone(b, finished)
