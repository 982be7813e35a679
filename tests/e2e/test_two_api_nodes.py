"""Two API processes in distributed mode, one Redis, one shared data volume: the catalog cache they
share in Redis never serves a voice list that is out of date after a clone lands or is deleted."""

from __future__ import annotations

import httpx
import pytest

from model_store.voices import VoiceModel
from server.domain.factory import open_voice_store
from server.settings import Settings
from tests.support.processes import ServeProcess, project_env

pytestmark = pytest.mark.slow


def test_catalog_cache_is_shared_and_invalidated_across_nodes(tmp_path, redis_url, redis_prefix):
    data_dir = tmp_path / "data"
    env = project_env(
        VOICE_API_REDIS_URL=redis_url,
        VOICE_API_REDIS_PREFIX=redis_prefix,
        VOICE_API_STORAGE__DATA_DIR=str(data_dir),
        VOICE_API_AUTH__ENABLED="false",
    )
    # What a clone job on a worker does when it finishes: write the voice into the shared store.
    store = open_voice_store(Settings(redis_url=redis_url, redis_prefix=redis_prefix, storage={"data_dir": data_dir}))
    nodes = [ServeProcess(env, tmp_path / f"api-{i}.log") for i in range(2)]
    try:
        for node in nodes:
            node.wait_healthy()
        a, b = (httpx.Client(base_url=node.base_url, timeout=30) for node in nodes)

        def own_voices(client: httpx.Client) -> tuple[list[str], str]:
            response = client.get("/v1/models", params={"self": "true"})
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]], response.headers["x-cache"]

        assert own_voices(a) == ([], "miss")
        assert own_voices(b) == ([], "hit")  # node b answers from the entry node a cached

        voice = store.create(VoiceModel(id=store.new_id(), owner="local", title="Landed clone", engine="piper"))
        assert own_voices(b) == ([voice.id], "miss")  # at once, not after the cache TTL
        assert own_voices(a) == ([voice.id], "hit")

        assert a.delete(f"/v1/models/{voice.id}").status_code == 204
        assert own_voices(b) == ([], "miss")
        assert b.get(f"/v1/models/{voice.id}").status_code == 404
    finally:
        for node in nodes:
            node.stop()
