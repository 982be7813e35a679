from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Set before anything imports pyannote: its telemetry is on by default, and tests must stay offline.
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from server.settings import Settings  # noqa: E402

REDIS_URL = os.environ.get("VOICE_API_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def settings_in(data_dir: Path, **overrides) -> Settings:
    """Settings rooted in `data_dir`; keyword arguments override sections."""
    storage = {"data_dir": data_dir, **overrides.pop("storage", {})}
    # Most tests are about one capability, not about keys: they run as the local owner.
    # tests/api/test_auth.py and the end-to-end tests run with authentication on.
    auth = {"enabled": False, **overrides.pop("auth", {})}
    # Tests judge synthesised audio by measuring it: with Piper's sampling noise every run would
    # hear different audio, and a bound would hold only with some probability (see docs/testing.md).
    tts = {"deterministic": True, **overrides.pop("tts", {})}
    return Settings(storage=storage, auth=auth, tts=tts, **overrides)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings rooted in a fresh data dir; keyword arguments override sections."""
    return lambda **overrides: settings_in(tmp_path / "data", **overrides)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis (CI starts one); each test gets its own key prefix and cleans it up."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}; scripts/test.sh starts one")
    yield REDIS_URL
    client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    import redis

    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    # Kombu names its exchange bindings after the queue, outside our prefix.
    for pattern in (f"{prefix}*", f"_kombu.binding*.{prefix}*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)
    client.close()


@pytest.fixture
def distributed_config(make_settings, redis_url: str, redis_prefix: str) -> Callable[..., tuple[Settings, dict]]:
    """make(env=None, **overrides) -> (settings for an API in this process, the environment for real
    `voice-api worker` processes), all on one Redis prefix and data dir; heartbeats every second."""
    from tests.support.processes import project_env

    def make(env: dict[str, str] | None = None, **overrides) -> tuple[Settings, dict]:
        worker = {"heartbeat_s": 1, **overrides.pop("worker", {})}
        settings = make_settings(redis_url=redis_url, redis_prefix=redis_prefix, worker=worker, **overrides)
        process_env = project_env(
            VOICE_API_REDIS_URL=redis_url,
            VOICE_API_REDIS_PREFIX=redis_prefix,
            VOICE_API_STORAGE__DATA_DIR=str(settings.storage.data_dir),
            VOICE_API_WORKER__HEARTBEAT_S="1",
            **(env or {}),
        )
        return settings, process_env

    return make


def sqlite_or_redis(request, make_sqlite: Callable[[], object], make_redis: Callable[[object, str], object]):
    """For fixtures parametrized over ["sqlite", "redis"]: every store runs the same tests on both."""
    if request.param == "sqlite":
        return make_sqlite()
    import redis

    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    return make_redis(client, request.getfixturevalue("redis_prefix"))


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, interval: float = 0.1):
    """Poll until predicate() is truthy; return its value. Fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """For modules that run torch models in pytest's own thread (pyannote's reference pipeline
    always does). The engines run them on a worker thread of their own with one torch thread
    (NeuralDiarizerConfig.torch_threads says why); with torch's default two OpenMP threads on two
    busy cores, each pyannote-equivalence case of test_diarization_neural.py took 47-170 s in the
    flake hunt at load 3-4 (5 of a 15-minute run's minutes), against ~6 s with one thread at the
    same load. Results don't depend on it: both pipelines run under the same setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
