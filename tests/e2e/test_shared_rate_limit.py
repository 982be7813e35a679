"""Two API processes in distributed mode share one Redis rate limit, exactly, under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from server.auth.keys import open_key_store
from server.settings import Settings
from tests.support.processes import ServeProcess, project_env

pytestmark = pytest.mark.slow

LIMIT = 10


def test_concurrent_submissions_across_two_api_nodes_admit_exactly_the_limit(tmp_path, redis_url, redis_prefix):
    env = project_env(
        VOICE_API_REDIS_URL=redis_url,
        VOICE_API_REDIS_PREFIX=redis_prefix,
        VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"),
        VOICE_API_AUTH__PLANS__BASIC__REQUESTS_PER_HOUR=str(LIMIT),
        VOICE_API_AUTH__PLANS__BASIC__MAX_CONCURRENT_TASKS="100",  # this test is about the hourly limit
    )
    settings = Settings(redis_url=redis_url, redis_prefix=redis_prefix, storage={"data_dir": tmp_path / "data"})
    _, plaintext = open_key_store(settings).create(owner="team-x", plan="basic")
    nodes = [ServeProcess(env, tmp_path / f"api-{i}.log") for i in range(2)]
    try:
        for node in nodes:
            node.wait_healthy()

        def submit(i: int) -> int:
            node = nodes[i % 2]
            return httpx.post(
                f"{node.base_url}/v1/tts", json={"text": f"Request {i}."}, headers={"X-API-Key": plaintext}, timeout=30
            ).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(submit, range(LIMIT + 6)))
        assert sorted(codes) == [202] * LIMIT + [429] * 6
        # and the next one on either node is refused too
        assert submit(0) == 429 and submit(1) == 429
    finally:
        for node in nodes:
            node.stop()
