"""Idempotency-Key on submissions, against real API processes: identical submissions racing (on two
API nodes in distributed mode) create one task and charge the quota once; the same key with another
body is refused; a retry gets the first task back."""

from __future__ import annotations

import httpx
import pytest

from server.auth.keys import open_key_store
from server.settings import Settings
from tests.support.audio import sample_clip, wav_bytes
from tests.support.concurrency import race
from tests.support.processes import ServeProcess, project_env

pytestmark = pytest.mark.slow


def nodes_and_key(tmp_path, count: int, **redis: str) -> tuple[list[ServeProcess], dict[str, str]]:
    env = project_env(VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"), **redis)
    url, prefix = redis.get("VOICE_API_REDIS_URL"), redis.get("VOICE_API_REDIS_PREFIX", "voice:")
    settings = Settings(redis_url=url, redis_prefix=prefix, storage={"data_dir": tmp_path / "data"})
    _, plaintext = open_key_store(settings).create(owner="team", plan="pro")
    nodes = [ServeProcess(env, tmp_path / f"api-{i}.log") for i in range(count)]
    for node in nodes:
        node.wait_healthy()
    return nodes, {"Authorization": f"Bearer {plaintext}"}


def used(node: ServeProcess, auth: dict, metric: str) -> int:
    return httpx.get(f"{node.base_url}/v1/usage", headers=auth, timeout=10).json()["quotas"][metric]["used"]


def check_idempotent_submissions(nodes: list[ServeProcess], auth: dict) -> None:
    clip, rate = sample_clip(4.0, offset=6.0)
    upload = wav_bytes(clip, rate)

    def submit_stt(i: int) -> httpx.Response:
        node = nodes[i % len(nodes)]
        headers = {**auth, "Idempotency-Key": "stt-once"}
        return httpx.post(f"{node.base_url}/v1/stt", files={"file": ("c.wav", upload)}, headers=headers, timeout=60)

    responses = race(submit_stt, 6)
    assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
    assert len({r.json()["task_id"] for r in responses}) == 1  # one task for all six
    assert used(nodes[0], auth, "stt_seconds") == 4  # charged once

    def submit_tts(i: int) -> httpx.Response:
        node = nodes[i % len(nodes)]
        headers = {**auth, "Idempotency-Key": "tts-once"}
        return httpx.post(f"{node.base_url}/v1/tts", json={"text": "Only once, please."}, headers=headers, timeout=60)

    tts = race(submit_tts, 6)
    assert {r.status_code for r in tts} == {202} and len({r.json()["task_id"] for r in tts}) == 1
    assert used(nodes[0], auth, "tts_characters") == len("Only once, please.")

    other = httpx.post(
        f"{nodes[-1].base_url}/v1/tts",
        json={"text": "Something else entirely."},
        headers={**auth, "Idempotency-Key": "tts-once"},
        timeout=30,
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    retry = submit_tts(0)
    assert retry.json()["task_id"] == tts[0].json()["task_id"]
    fresh = httpx.post(
        f"{nodes[0].base_url}/v1/tts", json={"text": "Only once, please."}, headers=auth, timeout=30
    )  # no key: an ordinary new task
    assert fresh.json()["task_id"] != tts[0].json()["task_id"]
    bad = httpx.post(
        f"{nodes[0].base_url}/v1/tts", json={"text": "x"}, headers={**auth, "Idempotency-Key": "a\tb"}, timeout=30
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_idempotency_key"


def test_embedded(tmp_path):
    nodes, auth = nodes_and_key(tmp_path, 1)
    try:
        check_idempotent_submissions(nodes, auth)
    finally:
        for node in nodes:
            node.stop()


def test_distributed_across_two_api_nodes(tmp_path, redis_url, redis_prefix):
    nodes, auth = nodes_and_key(tmp_path, 2, VOICE_API_REDIS_URL=redis_url, VOICE_API_REDIS_PREFIX=redis_prefix)
    try:
        check_idempotent_submissions(nodes, auth)
    finally:
        for node in nodes:
            node.stop()
