"""Two API processes in distributed mode, one Redis: each node caches verified keys and reported
budgets in memory, and still honours a revocation or a plan change made elsewhere within one second
(the bound server/auth/key_cache.py documents), and reports budgets spent through the other node.

The waits below are the documented bounds themselves (1 s), not guesses at how long work takes."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
import redis

from server.auth.keys import open_key_store
from server.settings import Settings
from tests.conftest import REDIS_URL
from tests.support.processes import ServeProcess, project_env

pytestmark = pytest.mark.slow

BOUND_S = 1.0  # revocations, plan changes and remote submissions are felt within this
LIMIT = 10


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nodes")
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    env = project_env(
        VOICE_API_REDIS_URL=REDIS_URL,
        VOICE_API_REDIS_PREFIX=prefix,
        VOICE_API_STORAGE__DATA_DIR=str(tmp / "data"),
        VOICE_API_AUTH__PLANS__BASIC__REQUESTS_PER_HOUR=str(LIMIT),
        VOICE_API_AUTH__PLANS__BASIC__MAX_CONCURRENT_TASKS="100",  # no worker runs: tasks stay queued
    )
    keys = open_key_store(Settings(redis_url=REDIS_URL, redis_prefix=prefix, storage={"data_dir": tmp / "data"}))
    nodes = [ServeProcess(env, tmp / f"api-{i}.log") for i in range(2)]
    try:
        for node in nodes:
            node.wait_healthy()
        clients = [httpx.Client(base_url=node.base_url, timeout=30) for node in nodes]
        yield keys, clients
    finally:
        for node in nodes:
            node.stop()
        client = redis.Redis.from_url(REDIS_URL)
        for pattern in (f"{prefix}*", f"_kombu.binding*.{prefix}*"):
            for key in client.scan_iter(match=pattern):
                client.delete(key)


def wait_out_the_bound(since: float) -> None:
    time.sleep(max(0.0, since + BOUND_S - time.monotonic()))


def submit(client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    response = client.post("/v1/tts", json={"text": "Hello there."}, headers=headers)
    assert response.status_code == 202, response.text
    return response


def test_a_revoked_key_is_refused_on_every_node_within_one_second(cluster):
    keys, (a, b) = cluster
    key, plaintext = keys.create(owner="team-revoke", plan="pro")
    headers = {"X-API-Key": plaintext}
    for node in (a, b):  # both nodes now hold the key in their caches
        for _ in range(3):
            assert node.get("/v1/models", headers=headers).status_code == 200
    revoked_at = time.monotonic()
    assert keys.revoke(key.key_id)  # as `voice-api keys revoke` does: a third process
    wait_out_the_bound(revoked_at)
    for node in (a, b):
        response = node.get("/v1/models", headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_a_plan_change_applies_on_every_node_within_one_second(cluster):
    keys, (a, b) = cluster
    key, plaintext = keys.create(owner="team-plan", plan="basic")
    headers = {"X-API-Key": plaintext}
    task_id = submit(a, headers).json()["task_id"]
    for node in (a, b):
        assert node.get(f"/v1/tts/{task_id}", headers=headers).headers["x-ratelimit-limit"] == str(LIMIT)
    changed_at = time.monotonic()
    assert keys.set_plan(key.key_id, "pro")
    wait_out_the_bound(changed_at)
    for node in (a, b):
        assert node.get(f"/v1/tts/{task_id}", headers=headers).headers["x-ratelimit-limit"] == "2000"
        assert node.get("/v1/usage", headers=headers).json()["plan"] == "pro"


def test_poll_headers_follow_submissions_made_through_the_other_node(cluster):
    keys, (a, b) = cluster
    _, plaintext = keys.create(owner="team-budget", plan="basic")
    headers = {"X-API-Key": plaintext}
    task_id = submit(a, headers).json()["task_id"]
    poll = f"/v1/tts/{task_id}"
    assert b.get(poll, headers=headers).headers["x-ratelimit-remaining"] == str(LIMIT - 1)  # b remembers this
    submitted_at = time.monotonic()
    remaining = [int(submit(a, headers).headers["x-ratelimit-remaining"]) for _ in range(3)]
    assert remaining == [LIMIT - 2, LIMIT - 3, LIMIT - 4]
    assert a.get(poll, headers=headers).headers["x-ratelimit-remaining"] == str(LIMIT - 4)  # a saw its own
    wait_out_the_bound(submitted_at)
    assert b.get(poll, headers=headers).headers["x-ratelimit-remaining"] == str(LIMIT - 4)
    # b's own submission decides in Redis, and b's next poll reports it at once
    assert submit(b, headers).headers["x-ratelimit-remaining"] == str(LIMIT - 5)
    assert b.get(poll, headers=headers).headers["x-ratelimit-remaining"] == str(LIMIT - 5)
    wait_out_the_bound(time.monotonic())
    for node in (a, b):
        assert node.get("/v1/usage", headers=headers).json()["requests"]["remaining"] == LIMIT - 5
