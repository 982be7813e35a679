"""Cancellation for real: a queued task never starts, a running one stops at its next progress
check (seen in the task metrics as a "canceled" outcome, and in its frozen progress), its files
are removed and its quota charge refunded; a finished task is forgotten. Embedded and distributed."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from server.http.app import create_app
from tests.api.conftest import assert_error, services, wait_finished
from tests.conftest import wait_for
from tests.support.audio import sample_clip, tiled_sample, wav_bytes
from tests.support.processes import WorkerProcess

pytestmark = pytest.mark.slow

LONG_S = 600.0


def canceled_outcomes(client: TestClient) -> int:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('voice_api_tasks_total{kind="stt",outcome="canceled"}'):
            return int(float(line.split()[-1]))
    return 0


def submit_long(client: TestClient, headers: dict | None = None) -> str:
    response = client.post(
        "/v1/stt", files={"file": ("long.wav", tiled_sample(LONG_S))}, data={"diarize": "false"}, headers=headers
    )
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


def cancel_while_running(client: TestClient, headers: dict | None = None) -> dict:
    task_id = submit_long(client, headers)
    wait_for(lambda: client.get(f"/v1/stt/{task_id}", headers=headers).json()["progress"] >= 2, timeout=120)
    response = client.delete(f"/v1/stt/{task_id}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "canceled"
    wait_for(lambda: canceled_outcomes(client) >= 1, timeout=60)  # the job itself stopped, by TaskCanceled
    after = client.get(f"/v1/stt/{task_id}", headers=headers).json()
    assert after["status"] == "canceled" and after["progress"] < 100, after
    assert_error(client.get(f"/v1/stt/{task_id}/result", headers=headers), 409, "task_canceled")
    return after


def test_embedded_cancel_running_and_queued_refunds_and_forgets(make_settings):
    plans = {"pro": {"stt_minutes_per_month": 100}}
    settings = make_settings(
        auth={"enabled": True, "plans": plans}, worker={"embedded_concurrency": 1, "interactive_workers": 0}
    )
    with TestClient(create_app(settings)) as client:
        _, key = services(client).keys.create(owner="team", plan="pro")
        auth = {"Authorization": f"Bearer {key}"}
        used = lambda: client.get("/v1/usage", headers=auth).json()["quotas"]["stt_seconds"]["used"]  # noqa: E731

        running = submit_long(client, auth)
        queued = submit_long(client, auth)  # waits behind the first: one worker thread, batch lane
        assert used() == 2 * LONG_S
        wait_for(lambda: client.get(f"/v1/stt/{running}", headers=auth).json()["status"] == "running", timeout=120)
        assert client.delete(f"/v1/stt/{queued}", headers=auth).json()["status"] == "canceled"
        assert used() == LONG_S  # refunded at once
        artifacts = services(client).tasks.artifacts
        assert not artifacts.task_dir(queued).exists()

        assert client.delete(f"/v1/stt/{running}", headers=auth).json()["status"] == "canceled"
        wait_for(lambda: canceled_outcomes(client) >= 1, timeout=60)
        assert used() == 0 and not artifacts.task_dir(running).exists()
        # the canceled queued task never ran: the worker found it terminal and skipped it
        clip, rate = sample_clip(4.0, offset=6.0)
        later = client.post("/v1/stt", files={"file": ("c.wav", wav_bytes(clip, rate))}, headers=auth).json()
        assert wait_finished(client, f"/v1/stt/{later['task_id']}", headers=auth)["status"] == "succeeded"
        assert canceled_outcomes(client) == 1
        assert client.get(f"/v1/stt/{queued}", headers=auth).json()["progress"] == 0

        # a finished task is forgotten: its files and record go, later requests are 404
        assert client.delete(f"/v1/stt/{later['task_id']}", headers=auth).json()["status"] == "succeeded"
        assert_error(client.get(f"/v1/stt/{later['task_id']}", headers=auth), 404, "task_not_found")
        assert not artifacts.task_dir(later["task_id"]).exists()
        # and nobody else can cancel someone's task
        _, other = services(client).keys.create(owner="other", plan="pro")
        assert_error(
            client.delete(f"/v1/stt/{running}", headers={"Authorization": f"Bearer {other}"}), 404, "task_not_found"
        )


def test_embedded_cancel_stops_the_running_engine(make_settings):
    with TestClient(create_app(make_settings())) as client:
        cancel_while_running(client)


def test_distributed_cancel_stops_the_running_engine(distributed_config, tmp_path):
    settings, env = distributed_config()
    worker = WorkerProcess(env, tmp_path / "worker.log", queues="stt")
    try:
        with TestClient(create_app(settings)) as client:
            wait_for(lambda: client.get("/v1/health").json()["workers"], timeout=60)
            cancel_while_running(client)
            assert "canceled; stopped" in worker.log()
    finally:
        worker.stop()


def test_embedded_shutdown_stops_a_running_task_and_queues_it_again(make_settings):
    """A clean stop must not leave an engine computing in a thread of a process that goes on (or
    exits under it): the task stops at its next progress report and is queued again, its attempt
    not counted, for the next start to run."""
    app = create_app(make_settings())
    with TestClient(app) as client:
        task_id = submit_long(client)
        wait_for(lambda: client.get(f"/v1/stt/{task_id}").json()["progress"] >= 2, timeout=120)
        threads = list(services(client).dispatcher._threads)
    # The engine stops at its next progress report: within the stop's grace period on a quiet
    # machine, later on loaded cores (measured up to 39 s between segments beside two busy loops),
    # so wait for that, not for a wall-clock figure.
    for thread in threads:
        thread.join(timeout=180)
    assert threads and not any(t.is_alive() for t in threads), "a worker thread still runs the engine"
    task = services(client).tasks.store.get(task_id)
    assert task.status.value == "queued" and task.attempts == 0, task
    artifacts = services(client).tasks.artifacts
    assert artifacts.exists(task_id, artifacts.INPUT)  # kept: the next start runs it from its upload
