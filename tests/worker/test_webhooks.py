"""Webhooks for real: a local HTTP receiver gets each task's end, signed so that the
`standardwebhooks` package verifies it; a failing receiver gets retries; a worker killed while a
delivery is pending delivers after its restart; callbacks to 127.0.0.1 need the operator's allow."""

from __future__ import annotations

import json

import pytest
from litestar.testing import TestClient
from standardwebhooks.webhooks import Webhook

from server.http.app import create_app
from tests.api.conftest import assert_error, services, wait_finished
from tests.conftest import wait_for
from tests.support.processes import WorkerProcess
from tests.support.receiver import Receiver

pytestmark = pytest.mark.slow

ALLOW_LOCAL = {"allow_hosts": ["127.0.0.1"]}


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def verified(delivery, secret: str) -> dict:
    return Webhook(secret).verify(delivery.body, delivery.headers)


def test_delivery_is_signed_retried_and_recorded(make_settings, receiver):
    receiver.statuses = [500, 503]  # the third attempt succeeds
    settings = make_settings(auth={"enabled": True}, webhooks=ALLOW_LOCAL)
    with TestClient(create_app(settings)) as client:
        key, plaintext = services(client).keys.create(owner="team", plan="pro")
        auth = {"Authorization": f"Bearer {plaintext}"}
        body = {"text": "Call me back.", "callback_url": receiver.url}
        assert_error(client.post("/v1/tts", json=body, headers=auth), 422, "webhook_secret_missing")
        secret = client.post("/v1/webhooks/secret", headers=auth).json()["secret"]
        task = client.post("/v1/tts", json=body, headers=auth).json()
        assert wait_finished(client, f"/v1/tts/{task['task_id']}", headers=auth)["status"] == "succeeded"
        status = wait_for(
            lambda: (
                (s := client.get(f"/v1/tts/{task['task_id']}", headers=auth).json())["webhook"]["delivered_at"] and s
            ),
            timeout=60,
        )
    assert status["webhook"]["attempts"] == 3 and status["webhook"]["last_status"] == 204
    assert len(receiver.deliveries) == 3
    ids = {d.headers["webhook-id"] for d in receiver.deliveries}
    assert ids == {f"msg_{task['task_id']}"}  # stable: a receiver can deduplicate
    event = verified(receiver.deliveries[-1], secret)
    assert event["type"] == "task.succeeded" and event["data"]["task_id"] == task["task_id"]
    assert event["data"]["result"]["format"] == "mp3"
    with pytest.raises(Exception):  # noqa: B017 - any verification error: a wrong secret never verifies
        Webhook("whsec_" + "A" * 32).verify(receiver.deliveries[-1].body, receiver.deliveries[-1].headers)
    assert key.key_id


def test_callbacks_to_the_servers_own_network_are_refused_unless_allowed(make_settings, receiver):
    with TestClient(create_app(make_settings())) as client:
        client.post("/v1/webhooks/secret")
        error = assert_error(
            client.post("/v1/tts", json={"text": "Hi.", "callback_url": receiver.url}), 422, "callback_url_forbidden"
        )
        assert "127.0.0.1" in error["message"]
        assert_error(
            client.post("/v1/tts", json={"text": "Hi.", "callback_url": "file:///etc/passwd"}),
            422,
            "invalid_callback_url",
        )
        assert list(services(client).tasks.artifacts.task_ids()) == []


def test_a_worker_killed_with_a_delivery_pending_delivers_after_restart(distributed_config, tmp_path):
    settings, env = distributed_config(
        env={"VOICE_API_WEBHOOKS__ALLOW_HOSTS": json.dumps(["127.0.0.1"])}, webhooks=ALLOW_LOCAL
    )
    down = Receiver().start()
    url = down.url
    down.stop()  # nobody listens there yet: the first attempts fail with a refused connection
    first = WorkerProcess(env, tmp_path / "worker-1.log", queues="tts")
    second = None
    try:
        with TestClient(create_app(settings)) as client:
            wait_for(lambda: client.get("/v1/health").json()["workers"], timeout=60)
            secret = client.post("/v1/webhooks/secret").json()["secret"]
            task_id = client.post("/v1/tts", json={"text": "Tell me later.", "callback_url": url}).json()["task_id"]
            assert wait_finished(client, f"/v1/tts/{task_id}")["status"] == "succeeded"
            wait_for(lambda: (client.get(f"/v1/tts/{task_id}").json()["webhook"]["attempts"] or 0) >= 1, timeout=60)
            first.kill()  # the delivery is still pending (its retry is scheduled)
            receiver = Receiver().start(port=int(url.rsplit(":", 1)[1].split("/")[0]))
            try:
                second = WorkerProcess(env, tmp_path / "worker-2.log", queues="tts")
                wait_for(lambda: receiver.deliveries, timeout=90)
                wait_for(lambda: client.get(f"/v1/tts/{task_id}").json()["webhook"]["delivered_at"], timeout=30)
            finally:
                receiver.stop()
        assert {d.headers["webhook-id"] for d in receiver.deliveries} == {f"msg_{task_id}"}
        assert verified(receiver.deliveries[0], secret)["data"]["status"] == "succeeded"
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_keys_default_callback_url_is_used_when_a_submission_names_none(make_settings, receiver):
    with TestClient(create_app(make_settings(auth={"enabled": True}, webhooks=ALLOW_LOCAL))) as client:
        _, plaintext = services(client).keys.create(owner="team", plan="pro")
        auth = {"Authorization": f"Bearer {plaintext}"}
        secret = client.post("/v1/webhooks/secret", headers=auth).json()["secret"]
        response = client.put("/v1/webhooks/default", json={"callback_url": receiver.url}, headers=auth)
        assert response.status_code == 200 and response.json()["callback_url"] == receiver.url
        task = client.post("/v1/tts", json={"text": "Report to the default."}, headers=auth).json()
        wait_for(lambda: receiver.deliveries, timeout=60)
        assert verified(receiver.deliveries[0], secret)["data"]["task_id"] == task["task_id"]
        # cleared: later submissions send nothing
        assert client.put("/v1/webhooks/default", json={"callback_url": None}, headers=auth).status_code == 200
        quiet = client.post("/v1/tts", json={"text": "No report."}, headers=auth).json()
        assert wait_finished(client, f"/v1/tts/{quiet['task_id']}", headers=auth)["webhook"] is None
    with TestClient(create_app(make_settings())) as strict:  # no allow-list: the default is checked too
        assert_error(
            strict.put("/v1/webhooks/default", json={"callback_url": receiver.url}), 422, "callback_url_forbidden"
        )
