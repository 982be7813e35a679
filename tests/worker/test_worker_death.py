"""A whole `celery worker` (parent and children) SIGKILLed mid-task, as when its machine dies:
another worker takes the task over once the dead one's lease lapses, not after the broker's
visibility timeout (an hour and more)."""

from __future__ import annotations

import json
import time

import pytest
import redis
from litestar.testing import TestClient

from server.http.app import create_app
from tests.api.conftest import wait_finished
from tests.conftest import wait_for
from tests.support.audio import tiled_sample
from tests.support.processes import WorkerProcess, project_env

pytestmark = pytest.mark.slow

LEASE_S = 4


def test_a_dead_workers_task_is_taken_over_and_completes_once(make_settings, redis_url, redis_prefix, tmp_path):
    settings = make_settings(
        redis_url=redis_url, redis_prefix=redis_prefix, worker={"heartbeat_s": 1, "lease_ttl_s": LEASE_S}
    )
    env = project_env(
        VOICE_API_REDIS_URL=redis_url,
        VOICE_API_REDIS_PREFIX=redis_prefix,
        VOICE_API_STORAGE__DATA_DIR=str(settings.storage.data_dir),
        VOICE_API_WORKER__HEARTBEAT_S="1",
        VOICE_API_WORKER__LEASE_TTL_S=str(LEASE_S),
    )
    with TestClient(create_app(settings)) as api:
        doomed = WorkerProcess(env, tmp_path / "worker-a.log", queues="stt")
        try:
            task_id = api.post(
                "/v1/stt", files={"file": ("long.wav", tiled_sample(240.0))}, data={"diarize": "false"}
            ).json()["task_id"]
            wait_for(lambda: api.get(f"/v1/stt/{task_id}").json()["progress"] >= 10, timeout=90)
        finally:  # also when the set-up fails: a worker left behind would run on after the test
            doomed.kill()  # parent and children, no shutdown: the machine is gone
        killed_at = time.monotonic()

        rescuer = WorkerProcess(env, tmp_path / "worker-b.log", queues="stt")
        try:
            status = wait_finished(api, f"/v1/stt/{task_id}", timeout=180)
            took = time.monotonic() - killed_at
            assert status["status"] == "succeeded", (status, rescuer.log())
            record = json.loads(redis.Redis.from_url(redis_url).get(f"{redis_prefix}task:{task_id}"))
            assert record["attempts"] == 2  # one dead run, one complete run: no third
            result = api.get(f"/v1/stt/{task_id}/result").json()
            assert result["duration"] == pytest.approx(240.0, abs=0.1) and result["segments"]
            assert "put back in the queue" in rescuer.log()
            # the takeover waits for the lease (seconds), not the broker's visibility timeout (~91 min)
            assert took < 150, took
        finally:
            rescuer.stop()
