"""Fault injection against real processes: workers killed mid-task, Redis restarted, the API
restarted, time limits, concurrency, and a corpus of bad inputs.

Every test runs the project's real entrypoints (`voice-api serve`, `voice-api worker`) as
subprocesses on loopback. Distributed tests use the shared test Redis (DB 15, a unique key prefix)
except the Redis-restart tests, which start their own `redis-server` with AOF on a free port.
Audio is short (a few seconds) except where a task must still be running when the fault hits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis

from tests.conftest import wait_for
from tests.support.audio import encode, espeak, sample_clip, silence, tiled_sample, wav_bytes
from tests.support.processes import ServeProcess, WorkerProcess, free_port, project_env
from tests.support.wer import normalise, word_error_rate

pytestmark = pytest.mark.slow

TERMINAL = ("succeeded", "failed")


# --- helpers ---------------------------------------------------------------------------------------


def task_status(client: httpx.Client, kind: str, task_id: str) -> dict:
    response = client.get(f"/v1/{kind}/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_task(
    client: httpx.Client,
    kind: str,
    task_id: str,
    until: Callable[[dict], bool] | None = None,
    timeout: float = 120.0,
    interval: float = 0.1,
) -> dict:
    """Poll until `until(body)` (default: the task finished, either way); fail on timeout."""
    until = until or (lambda body: body["status"] in TERMINAL)

    def check():
        body = task_status(client, kind, task_id)
        return body if until(body) else None

    return wait_for(check, timeout=timeout, interval=interval)


def running_past(percent: int) -> Callable[[dict], bool]:
    def check(body: dict) -> bool:
        assert body["status"] != "failed", body
        return body["status"] == "running" and body["progress"] >= percent

    return check


def assert_error(response: httpx.Response, status: int | tuple[int, ...], codes: str | tuple[str, ...]) -> dict:
    statuses = (status,) if isinstance(status, int) else status
    codes = (codes,) if isinstance(codes, str) else codes
    assert response.status_code in statuses, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] in codes, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def submit_stt(client: httpx.Client, audio: bytes, name: str = "clip.wav", **fields: str) -> str:
    response = client.post("/v1/stt", files={"file": (name, audio)}, data={"diarize": "false", **fields})
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


def short_clip(seconds: float = 5.0) -> bytes:
    """Real speech with "hello" in it (the reference sample from 6 s on).

    Not 3 s: cut there the clip ends mid-word, and tiny.en's temperature fallback makes it take
    1.4-8 s instead of 0.5 s (it overran a 6 s time limit in CI)."""
    clip, rate = sample_clip(seconds, offset=6.0)
    return wav_bytes(clip, rate)


def task_record(redis_url: str, prefix: str, task_id: str) -> dict:
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.get(f"{prefix}task:{task_id}")
        assert raw is not None, f"no record for task {task_id}"
        return json.loads(raw)
    finally:
        client.close()


def assert_complete_transcript(data_dir: Path, task_id: str, duration: float, client: httpx.Client) -> dict:
    """The transcript is one valid, complete document and nothing half-written is left beside it."""
    response = client.get(f"/v1/stt/{task_id}/result")
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["duration"] == pytest.approx(duration, abs=0.1)
    assert document["text"].strip()
    segments = document["segments"]
    assert [s["id"] for s in segments] == list(range(len(segments)))  # one run's segments, not two
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts), "segments out of order: two runs interleaved?"
    assert segments[-1]["end"] > duration - 30, "the transcript stops early: a partial document?"
    task_dir = data_dir / "artifacts" / task_id
    # The upload is removed once the task ends: just after the outcome is stored (server/worker/
    # runner.py: the store first, so a crash in between re-runs nothing), so a poll can see
    # "succeeded" a moment before it goes (a flake once, on a loaded machine). Temp files
    # (".transcript.json-…") would mean a torn write.
    wait_for(lambda: not (task_dir / "input").exists(), timeout=30)
    assert sorted(p.name for p in task_dir.iterdir()) == ["transcript.json"]
    on_disk = json.loads((task_dir / "transcript.json").read_bytes())
    assert on_disk == document
    return document


def succeeded_lines(logs: list[Path], task_id: str) -> int:
    return sum(p.read_text(errors="replace").count(f"task {task_id} succeeded") for p in logs if p.exists())


def worker_children(worker: WorkerProcess) -> list[int]:
    """The prefork pool's child processes (the ones that run tasks), from /proc."""
    try:
        import psutil

        return [child.pid for child in psutil.Process(worker.proc.pid).children(recursive=True)]
    except ImportError:  # pragma: no cover - psutil is normally installed
        out = subprocess.run(["ps", "--ppid", str(worker.proc.pid), "-o", "pid="], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]


def wait_worker(client: httpx.Client, queue: str, timeout: float = 60.0) -> None:
    def serving():
        response = client.get("/v1/health")
        return response.status_code == 200 and any(queue in w["queues"] for w in response.json()["workers"])

    wait_for(serving, timeout=timeout, interval=0.2)


@dataclass
class Cluster:
    """An API process and any number of workers, all on one Redis and one data dir."""

    tmp_path: Path
    env: dict[str, str]
    redis_url: str
    prefix: str
    api: ServeProcess | None = None
    workers: list[WorkerProcess] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["VOICE_API_STORAGE__DATA_DIR"])

    def start_api(self, port: int | None = None) -> httpx.Client:
        log = self.tmp_path / f"api-{len(self.logs)}.log"
        self.logs.append(log)
        self.api = ServeProcess(self.env, log, port=port)
        self.api.wait_healthy(timeout=60)
        return httpx.Client(base_url=self.api.base_url, timeout=30)

    def start_worker(self, queues: str = "stt,tts") -> WorkerProcess:
        log = self.tmp_path / f"worker-{len(self.logs)}.log"
        self.logs.append(log)
        worker = WorkerProcess(self.env, log, queues=queues)
        self.workers.append(worker)
        return worker

    def logs_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs if p.exists())

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.api is not None:
            self.api.stop()


def cluster_env(tmp_path: Path, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    return project_env(
        VOICE_API_REDIS_URL=redis_url,
        VOICE_API_REDIS_PREFIX=prefix,
        VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"),
        VOICE_API_AUTH__ENABLED="false",
        VOICE_API_WORKER__HEARTBEAT_S="1",
        **extra,
    )


# A task time limit well above what LONG_S audio needs on a loaded CI box, and Celery's visibility
# timeout that follows from it (server/dispatch/celery_app.py: int(1.5 * limit) + 60).
TIME_LIMIT_S = 40
VISIBILITY_S = int(TIME_LIMIT_S * 1.5) + 60
# A running task's lease (server/domain/leases.py): a task whose runner died is put back in the queue
# by a worker's housekeeping once the lease lapses. Short here so that takes seconds, not 30.
LEASE_TTL_S = 6


@pytest.fixture
def cluster(tmp_path, redis_url, redis_prefix) -> Iterator[Cluster]:
    """Distributed mode on the shared test Redis, with TIME_LIMIT_S and LEASE_TTL_S."""
    env = cluster_env(
        tmp_path,
        redis_url,
        redis_prefix,
        VOICE_API_WORKER__TASK_TIME_LIMIT_S=str(TIME_LIMIT_S),
        VOICE_API_WORKER__LEASE_TTL_S=str(LEASE_TTL_S),
    )
    c = Cluster(tmp_path, env, redis_url, redis_prefix)
    yield c
    c.stop()


# --- 1. a worker process killed mid-task --------------------------------------------------------------

LONG_S = 150.0  # long enough to still be running a few seconds after the model loaded


def unacked_for(redis_url: str, queue: str) -> list[tuple[bytes, float]]:
    """kombu's ack emulation: delivered-but-unacknowledged messages with their delivery time."""
    r = redis.Redis.from_url(redis_url)
    tags = [tag for tag, raw in r.hscan_iter("unacked") if json.loads(raw)[2] == queue]
    return [(tag, r.zscore("unacked_index", tag)) for tag in tags]


def assert_recovered_once(cluster: Cluster, client: httpx.Client, task_id: str, killed_at: float) -> float:
    status = wait_task(client, "stt", task_id, timeout=120)
    took = time.monotonic() - killed_at
    assert status["status"] == "succeeded", (status, cluster.logs_text())
    record = task_record(cluster.redis_url, cluster.prefix, task_id)
    assert record["attempts"] == 2, record  # started twice: bounded by max_attempts (2)
    assert_complete_transcript(cluster.data_dir, task_id, LONG_S, client)
    assert succeeded_lines(cluster.logs, task_id) == 1
    r = redis.Redis.from_url(cluster.redis_url)
    assert r.llen(f"{cluster.prefix}stt") == 0
    # The runner stores the outcome first and releases its lease after (server/worker/runner.py:
    # LeaseKeeper's exit, after the upload's removal and the model cache's eviction: released
    # first, the orphan reaper could queue a task that is still running). So a poll can see
    # "succeeded" a moment before the lease goes: checked at once, this failed once in round 8's
    # flake hunt (load average 8.6). A renewer left running would hold the lease for ever; that
    # the keeper releases it (not lets it lapse) is tests/unit/test_leases.py's.
    lease = f"{cluster.prefix}lease:{task_id}"
    wait_for(lambda: not r.exists(lease), timeout=LEASE_TTL_S + 10)
    return took


def test_killed_worker_child_the_task_is_run_again_and_succeeds_once(cluster):
    client = cluster.start_api()
    worker = cluster.start_worker("stt")
    wait_worker(client, "stt")
    task_id = submit_stt(client, tiled_sample(LONG_S), "long.wav")
    wait_task(client, "stt", task_id, running_past(10), timeout=60)
    children = worker_children(worker)
    assert len(children) == 1, children  # prefork, concurrency 1
    os.kill(children[0], signal.SIGKILL)  # the pool child dies mid-task (OOM killer, segfault)

    killed_at = time.monotonic()
    took = assert_recovered_once(cluster, client, task_id, killed_at)
    assert worker.proc.poll() is None, "the worker's main process survives the loss of its child"
    assert worker_children(worker) and worker_children(worker) != children  # a fresh child took over
    # the requeued message and the reaper's republished one were both consumed; nothing is pending
    assert not unacked_for(cluster.redis_url, f"{cluster.prefix}stt")
    print(f"child killed -> task succeeded {took:.1f} s later")


def test_whole_worker_killed_a_new_worker_takes_the_task_over_and_the_stale_message_is_a_no_op(cluster):
    """A machine dies: parent and children get SIGKILL, nothing is acknowledged or requeued.

    The task's lease lapses within LEASE_TTL_S and the next worker's housekeeping puts it back in the
    queue. The dead worker's message stays in kombu's `unacked` hash until the visibility timeout
    (VISIBILITY_S); when it comes back, the task is finished and the delivery must do nothing.
    """
    client = cluster.start_api()
    first = cluster.start_worker("stt")
    wait_worker(client, "stt")
    task_id = submit_stt(client, tiled_sample(LONG_S), "long.wav")
    wait_task(client, "stt", task_id, running_past(10), timeout=60)
    first.kill()  # the whole process group: main process and pool child
    killed_at = time.monotonic()

    queue = f"{cluster.prefix}stt"
    stale = unacked_for(cluster.redis_url, queue)
    assert len(stale) == 1, "the message of the running task must not be lost with its worker"
    assert task_status(client, "stt", task_id)["status"] == "running"  # nobody has noticed yet

    cluster.start_worker("stt")
    took = assert_recovered_once(cluster, client, task_id, killed_at)
    print(f"whole worker killed -> a new worker finished the task {took:.1f} s later")
    before = task_record(cluster.redis_url, cluster.prefix, task_id)
    transcript = (cluster.data_dir / "artifacts" / task_id / "transcript.json").read_bytes()

    # The stale message: age it past the visibility timeout (as if VISIBILITY_S had gone by) and
    # start a worker, which restores visible messages when it starts polling.
    assert [tag for tag, _ in unacked_for(cluster.redis_url, queue)] == [stale[0][0]]
    redis.Redis.from_url(cluster.redis_url).zadd("unacked_index", {stale[0][0]: time.time() - VISIBILITY_S - 1})
    cluster.start_worker("stt")
    wait_for(lambda: not unacked_for(cluster.redis_url, queue), timeout=30)
    wait_for(lambda: f"task {task_id} is finished or gone" in cluster.logs_text(), timeout=30)
    assert task_record(cluster.redis_url, cluster.prefix, task_id) == before  # not run a third time
    assert (cluster.data_dir / "artifacts" / task_id / "transcript.json").read_bytes() == transcript
    assert succeeded_lines(cluster.logs, task_id) == 1


def test_killed_worker_child_redelivery_runs_at_once(tmp_path, redis_url, redis_prefix):
    env = cluster_env(tmp_path, redis_url, redis_prefix, VOICE_API_WORKER__TASK_TIME_LIMIT_S=str(TIME_LIMIT_S))
    cluster = Cluster(tmp_path, env, redis_url, redis_prefix)
    try:
        client = cluster.start_api()
        worker = cluster.start_worker("stt")
        wait_worker(client, "stt")
        task_id = submit_stt(client, tiled_sample(60.0), "long.wav")
        wait_task(client, "stt", task_id, running_past(10), timeout=60)
        os.kill(worker_children(worker)[0], signal.SIGKILL)
        # before leases this took ~8 s (the rerun of 60 s of audio included)
        status = wait_task(client, "stt", task_id, timeout=20, interval=0.5)
        assert status["status"] == "succeeded", status
    finally:
        cluster.stop()


# --- 2. Redis restarted --------------------------------------------------------------------------------


class RedisServer:
    """Our own redis-server with AOF, so it can be shut down and started again on the same data."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - the child holds it
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def ping():
            try:
                return redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
            except redis.RedisError:
                return False

        wait_for(ping, timeout=20, interval=0.05)

    def shutdown(self) -> None:
        """SHUTDOWN (AOF is flushed), as an operator's restart or a crash-free failover would."""
        redis.Redis.from_url(self.url).shutdown()
        self.proc.wait(20)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def restart_cluster(tmp_path, own_redis) -> Iterator[Cluster]:
    env = cluster_env(tmp_path, own_redis.url, "voice:", VOICE_API_WORKER__TASK_TIME_LIMIT_S=str(TIME_LIMIT_S))
    c = Cluster(tmp_path, env, own_redis.url, "voice:")
    yield c
    c.stop()


def timed(fn: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = fn()
    return response, time.monotonic() - started


def test_redis_restart_api_answers_503_then_recovers_and_queued_tasks_complete(restart_cluster, own_redis):
    cluster = restart_cluster
    client = cluster.start_api()
    queued = [submit_stt(client, short_clip(4.0)) for _ in range(3)]  # no worker yet: they wait in Redis
    tts_id = client.post("/v1/tts", json={"text": "Queued before the restart."}).json()["task_id"]

    own_redis.shutdown()
    # Redis is down: a quick, specific 503, never a 500 or a hung request
    response, took = timed(
        lambda: client.post("/v1/stt", files={"file": ("a.wav", short_clip(4.0))}, data={"diarize": "false"})
    )
    assert_error(response, 503, "queue_unavailable")
    assert took < 5, f"submit took {took:.1f} s while Redis was down"
    response, took = timed(lambda: client.get(f"/v1/stt/{queued[0]}"))
    assert_error(response, 503, "queue_unavailable")
    assert took < 5
    response, took = timed(lambda: client.get("/v1/health"))
    assert response.status_code == 503 and took < 5, response.text
    health = response.json()
    assert health["status"] == "unavailable" and health["queue"]["reachable"] is False, health

    own_redis.start()  # same dir: the AOF brings the queued messages and task records back
    back = time.monotonic()
    wait_for(lambda: client.get("/v1/health").status_code == 200, timeout=15, interval=0.2)
    print(f"API healthy {time.monotonic() - back:.1f} s after Redis came back")
    assert [task_status(client, "stt", t)["status"] for t in queued] == ["queued"] * 3
    assert task_status(client, "tts", tts_id)["status"] == "queued"
    after = submit_stt(client, short_clip(4.0))  # the API recovered by itself

    cluster.start_worker("stt,tts")
    for task_id in [*queued, after]:
        status = wait_task(client, "stt", task_id, timeout=90)
        assert status["status"] == "succeeded", (status, cluster.logs_text())
        assert "hello" in client.get(f"/v1/stt/{task_id}/result").json()["text"].lower()
        assert task_record(cluster.redis_url, cluster.prefix, task_id)["attempts"] == 1
    assert wait_task(client, "tts", tts_id, timeout=60)["status"] == "succeeded"


def test_redis_down_tts_submit_and_models_answer_503_not_500(restart_cluster, own_redis):
    client = restart_cluster.start_api()
    own_redis.shutdown()
    response, took = timed(lambda: client.post("/v1/tts", json={"text": "Hello there."}))
    assert took < 5
    assert_error(response, 503, "queue_unavailable")
    response, took = timed(lambda: client.get("/v1/models", params={"refresh": "true"}))
    assert took < 5
    assert_error(response, 503, "queue_unavailable")


def test_redis_restart_while_a_task_runs_the_task_still_completes(restart_cluster, own_redis):
    """Progress writes fail while Redis is away; the work goes on and its outcome is recorded once
    Redis is back, instead of the task waiting for its message's visibility timeout."""
    cluster = restart_cluster
    client = cluster.start_api()
    cluster.start_worker("stt")
    wait_worker(client, "stt")
    task_id = submit_stt(client, tiled_sample(LONG_S), "long.wav")
    wait_task(client, "stt", task_id, running_past(5), timeout=60)
    own_redis.shutdown()
    time.sleep(3)
    own_redis.start()
    wait_for(lambda: client.get("/v1/health").status_code == 200, timeout=15, interval=0.2)
    # well before the visibility timeout (VISIBILITY_S) would bring the message back
    status = wait_task(client, "stt", task_id, timeout=45, interval=0.5)
    assert status["status"] == "succeeded", (status, cluster.logs_text())
    assert_complete_transcript(cluster.data_dir, task_id, LONG_S, client)
    assert task_record(cluster.redis_url, cluster.prefix, task_id)["attempts"] == 1
    assert succeeded_lines(cluster.logs, task_id) == 1


# --- 3. the API restarted (distributed; the embedded case is in test_serve.py) ---------------------------


def test_api_killed_mid_task_every_accepted_task_is_queryable_and_completes(cluster):
    client = cluster.start_api()
    cluster.start_worker("stt,tts")
    wait_worker(client, "stt")
    long_id = submit_stt(client, tiled_sample(60.0), "long.wav")
    short_ids = [submit_stt(client, short_clip(4.0)) for _ in range(2)]
    tts_id = client.post("/v1/tts", json={"text": "Accepted before the crash."}).json()["task_id"]
    wait_task(client, "stt", long_id, running_past(5), timeout=60)
    port = cluster.api.port
    cluster.api.kill()  # SIGKILL: no shutdown hook
    client.close()

    client = cluster.start_api(port=port)
    restarted = time.monotonic()
    for task_id in [long_id, *short_ids]:
        assert task_status(client, "stt", task_id)["status"] in ("queued", "running", "succeeded")
    for task_id in [long_id, *short_ids]:
        status = wait_task(client, "stt", task_id, timeout=90)
        assert status["status"] == "succeeded", (status, cluster.logs_text())
        assert task_record(cluster.redis_url, cluster.prefix, task_id)["attempts"] == 1  # never re-run
    assert_complete_transcript(cluster.data_dir, long_id, 60.0, client)
    assert wait_task(client, "tts", tts_id, timeout=60)["status"] == "succeeded"
    assert client.get(f"/v1/tts/{tts_id}/audio").status_code == 200
    print(f"all tasks done {time.monotonic() - restarted:.1f} s after the API restart")


# --- 4. time limits ---------------------------------------------------------------------------------------

LIMIT_S = 6  # the short clip must finish within it on a loaded box; the long audio must not
TIMEOUT_AUDIO_S = 300.0


def check_timeout_then_recovery(client: httpx.Client) -> None:
    started = time.monotonic()
    long_id = submit_stt(client, tiled_sample(TIMEOUT_AUDIO_S), "long.wav")
    status = wait_task(client, "stt", long_id, timeout=60)
    took = time.monotonic() - started
    assert status["status"] == "failed", status
    assert status["error"]["code"] == "timeout", status
    assert f"{LIMIT_S} s" in status["error"]["message"]
    assert took < LIMIT_S + 15, f"the time limit took {took:.1f} s to act"
    assert_error(client.get(f"/v1/stt/{long_id}/result"), 409, "task_failed")
    # the worker keeps serving
    short_id = submit_stt(client, short_clip(4.0))
    status = wait_task(client, "stt", short_id, timeout=60)
    assert status["status"] == "succeeded", status["error"]
    assert "hello" in client.get(f"/v1/stt/{short_id}/result").json()["text"].lower()
    print(f"timed out after {took:.1f} s (limit {LIMIT_S} s)")


def test_embedded_task_over_its_time_limit_fails_with_timeout_and_the_worker_keeps_serving(tmp_path):
    env = project_env(
        VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"),
        VOICE_API_AUTH__ENABLED="false",
        VOICE_API_WORKER__TASK_TIME_LIMIT_S=str(LIMIT_S),
    )
    server = ServeProcess(env, tmp_path / "serve.log")
    try:
        server.wait_healthy()
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            check_timeout_then_recovery(client)
            assert client.get("/v1/health").status_code == 200
    finally:
        server.stop()


def test_distributed_task_over_its_time_limit_fails_with_timeout_and_the_worker_keeps_serving(
    tmp_path, redis_url, redis_prefix
):
    env = cluster_env(tmp_path, redis_url, redis_prefix, VOICE_API_WORKER__TASK_TIME_LIMIT_S=str(LIMIT_S))
    cluster = Cluster(tmp_path, env, redis_url, redis_prefix)
    try:
        client = cluster.start_api()
        worker = cluster.start_worker("stt")
        wait_worker(client, "stt")
        # warm the child (context, model) so the limit measures transcription, not start-up
        assert wait_task(client, "stt", submit_stt(client, short_clip(2.0)), timeout=60)["status"] == "succeeded"
        children = worker_children(worker)
        check_timeout_then_recovery(client)
        assert worker_children(worker) == children, "the time limit must not cost the pool its process"
    finally:
        cluster.stop()


# --- 5. concurrency (embedded) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> Iterator[tuple[httpx.Client, ServeProcess, Path]]:
    """One `voice-api serve` (embedded, 2 worker threads, auth off) for concurrency and bad input."""
    tmp = tmp_path_factory.mktemp("embedded")
    env = project_env(
        VOICE_API_STORAGE__DATA_DIR=str(tmp / "data"),
        VOICE_API_AUTH__ENABLED="false",
        VOICE_API_WORKER__EMBEDDED_CONCURRENCY="2",
    )
    server = ServeProcess(env, tmp / "serve.log")
    try:
        server.wait_healthy()
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            yield client, server, tmp
    finally:
        server.stop()


# distinctive words that tiny.en recognises from both Piper and espeak-ng speech (window, garden,
# orange, pizza, violin, penguin and bottle are misheard from espeak-ng, so they are not used)
WORDS = [
    "banana", "guitar", "elephant", "mountain", "river", "pencil", "doctor", "rocket", "kitchen", "island",
    "jacket", "lemon", "monkey", "robot", "tiger", "camera", "dragon", "castle", "tomato", "rabbit",
]  # fmt: skip


def parallel(fn, items, workers: int = 20) -> list:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def transcribe_all(client: httpx.Client, clips: list[tuple[str, bytes]]) -> list[str]:
    """Upload every clip at once, then read every transcript."""
    ids = parallel(lambda clip: submit_stt(client, clip[1], clip[0]), clips)
    texts = []
    for task_id in ids:
        status = wait_task(client, "stt", task_id, timeout=120, interval=0.25)
        assert status["status"] == "succeeded", status
        texts.append(client.get(f"/v1/stt/{task_id}/result").json()["text"])
    return texts


def assert_own_words(texts: list[str], sentences: list[str]) -> None:
    """Each transcript holds its own distinctive word and nobody else's (no swapped results)."""
    for i, text in enumerate(texts):
        words = set(normalise(text).split())
        others = [w for j, w in enumerate(WORDS) if j != i and (w in words or w + "s" in words)]
        assert not others, (i, text, others)
    hits = [WORDS[i] in normalise(text) for i, text in enumerate(texts)]
    # tiny.en on synthetic speech may mishear one word; a swap would show up above
    assert sum(hits) >= len(texts) - 1, list(zip(sentences, texts, strict=True))
    wers = [word_error_rate(s, t) for s, t in zip(sentences, texts, strict=True)]
    assert np.median(wers) <= 0.25, list(zip(sentences, texts, wers, strict=True))


def test_20_concurrent_tts_requests_each_get_their_own_audio(embedded):
    client, server, _ = embedded
    sentences = [f"Please bring the {word} today." for word in WORDS]
    started = time.monotonic()
    responses = parallel(lambda text: client.post("/v1/tts", json={"text": text, "format": "wav"}), sentences)
    assert [r.status_code for r in responses] == [202] * 20, [r.text for r in responses if r.status_code != 202]
    ids = [r.json()["task_id"] for r in responses]
    assert len(set(ids)) == 20
    audio = []
    for task_id in ids:
        status = wait_task(client, "tts", task_id, timeout=120, interval=0.25)
        assert status["status"] == "succeeded", status
        response = client.get(f"/v1/tts/{task_id}/audio")
        assert response.status_code == 200
        audio.append(response.content)
    assert len({hash(a) for a in audio}) == 20
    tts_done = time.monotonic()
    texts = transcribe_all(client, [(f"tts-{i}.wav", data) for i, data in enumerate(audio)])
    assert_own_words(texts, sentences)
    print(f"20 TTS in {tts_done - started:.1f} s, transcribed in {time.monotonic() - tts_done:.1f} s")


def test_20_concurrent_stt_uploads_each_get_their_own_transcript(embedded):
    client, _, _ = embedded
    sentences = [f"The {word} is on the table." for word in WORDS]
    clips = []
    for i, sentence in enumerate(sentences):
        speech = np.concatenate([silence(0.3), espeak(sentence, speed=140), silence(0.3)])
        fmt = ("wav", "mp3", "flac", "ogg")[i % 4]  # mixed containers in flight at once
        clips.append((f"clip-{i}.{fmt}", encode(speech, 16_000, fmt)))
    started = time.monotonic()
    texts = transcribe_all(client, clips)
    assert_own_words(texts, sentences)
    print(f"20 STT uploads transcribed in {time.monotonic() - started:.1f} s")


# --- 6. bad input corpus (one embedded server for all of it) -----------------------------------------------


def multipart(parts: list[tuple[bytes, bytes, bytes | None, bytes | None]], close: bool = True) -> tuple[bytes, str]:
    """A multipart body built byte by byte, so names and values can be anything (NUL, non-UTF-8).
    Each part: (name, value, filename or None, content type or None)."""
    boundary = b"----faultinjection7d3f"
    body = b""
    for name, value, filename, content_type in parts:
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += b"--" + boundary + b"\r\n" + disposition + b"\r\n"
        if content_type is not None:
            body += b"Content-Type: " + content_type + b"\r\n"
        body += b"\r\n" + value + b"\r\n"
    if close:
        body += b"--" + boundary + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary.decode()}"


def stt_upload(
    audio: bytes, filename: bytes = b"clip.wav", fields: dict[bytes, bytes] | None = None, close: bool = True
) -> Callable[[httpx.Client], httpx.Response]:
    fields = {b"diarize": b"false", **(fields or {})}
    parts = [(b"file", audio, filename, b"application/octet-stream")]
    parts += [(name, value, None, None) for name, value in fields.items()]
    body, content_type = multipart(parts, close=close)
    return lambda client: client.post("/v1/stt", content=body, headers={"Content-Type": content_type})


def tts_raw(body: bytes, content_type: str = "application/json") -> Callable[[httpx.Client], httpx.Response]:
    return lambda client: client.post("/v1/tts", content=body, headers={"Content-Type": content_type})


def wav_header(
    data: bytes, *, rate: int = 16_000, channels: int = 1, riff_size: int | None = None, data_size: int | None = None
) -> bytes:
    """A canonical 44-byte PCM WAV header whose sizes may lie."""
    import struct

    data_size = len(data) if data_size is None else data_size
    riff_size = 36 + data_size if riff_size is None else riff_size
    return (
        b"RIFF"
        + struct.pack("<I", riff_size & 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
        + b"data"
        + struct.pack("<I", data_size & 0xFFFFFFFF)
    ) + data


def clip_at(rate: int, channels: int = 1, seconds: float = 5.0) -> bytes:
    clip, source_rate = sample_clip(seconds, offset=6.0)
    resampled = np.interp(np.arange(0, clip.size, source_rate / rate), np.arange(clip.size), clip)
    pcm = (np.clip(resampled, -1, 1) * 32767).astype("<i2")
    if channels > 1:  # speech on every channel, as a 5.1 downmix would see it
        pcm = np.repeat(pcm[:, None], channels, axis=1).reshape(-1)
    return wav_header(pcm.tobytes(), rate=rate, channels=channels)


def mp3_clip() -> bytes:
    clip, rate = sample_clip(8.0, offset=6.0)
    return encode(clip, rate, "mp3")


@dataclass(frozen=True)
class Case:
    id: str
    send: Callable[[httpx.Client], httpx.Response]
    # What a correct server does: a 4xx with one of `codes`, or (accepted) a task that ends
    # succeeded (when `succeeds`) or failed with one of `codes`.
    codes: tuple[str, ...] = ()
    status: tuple[int, ...] = ()
    succeeds: bool | None = None  # True: must succeed; False: must not; None: either is fine
    check: Callable[[dict], None] | None = None  # on the transcript of a succeeded STT task
    max_seconds: float = 60.0


def has_hello(document: dict) -> None:
    assert "hello" in document["text"].lower(), document["text"]


def empty_or_short(document: dict) -> None:
    assert len(document["text"].split()) <= 20, document["text"]  # no endless hallucination


def lying_wav(document: dict) -> None:
    # the header says 80 s; what is really there is 5 s, and that is what was transcribed
    assert document["duration"] == pytest.approx(5.0, abs=0.2), document["duration"]
    has_hello(document)


UNSUPPORTED = ("unsupported_audio", "empty_audio")


def corpus() -> list[Case]:
    pcm5 = clip_at(16_000)[44:]
    rng = np.random.default_rng(7)
    mp3 = mp3_clip()
    return [
        Case("empty-file", stt_upload(b"", b"empty.wav"), ("empty_audio",), (415,), succeeds=False),
        Case("truncated-mp3-half", stt_upload(mp3[: len(mp3) // 2], b"cut.mp3"), UNSUPPORTED, (415,), check=has_hello),
        Case("truncated-mp3-300-bytes", stt_upload(mp3[:300], b"cut.mp3"), UNSUPPORTED, (415,)),
        Case(
            "wav-lying-header-80s-declared-5s-present",
            stt_upload(wav_header(pcm5, data_size=len(pcm5) * 16)),
            UNSUPPORTED,
            (415,),
            check=lying_wav,
        ),
        Case(
            "random-bytes-named-mp3", stt_upload(rng.bytes(200_000), b"song.mp3"), UNSUPPORTED, (415,), succeeds=False
        ),
        Case(
            "wav-header-declaring-4gb",
            stt_upload(wav_header(pcm5[:32_000], data_size=0xFFFFFFF0)),
            (*UNSUPPORTED, "audio_too_long"),
            (413, 415),
            check=empty_or_short,
        ),
        Case("wav-header-only", stt_upload(wav_header(b"")), UNSUPPORTED, (415,), succeeds=False),
        Case("clip-0.1s", stt_upload(clip_at(16_000, seconds=0.1)), UNSUPPORTED, (415,), check=empty_or_short),
        Case(
            "silence-10-minutes",
            stt_upload(wav_bytes(silence(600.0))),
            UNSUPPORTED,
            (415,),
            check=empty_or_short,
            max_seconds=90,
        ),
        Case("rate-8khz", stt_upload(clip_at(8_000)), succeeds=True, check=has_hello),
        Case("rate-96khz", stt_upload(clip_at(96_000)), succeeds=True, check=has_hello),
        Case("six-channels", stt_upload(clip_at(16_000, channels=6)), succeeds=True, check=has_hello),
        Case("name-dotdot-etc-passwd", stt_upload(short_clip(4.0), b"../../etc/passwd"), succeeds=True),
        Case("name-windows-path", stt_upload(short_clip(4.0), b"C:\\x.wav"), succeeds=True),
        Case(
            "name-with-nul", stt_upload(short_clip(4.0), b"a\x00b.wav"), ("malformed_multipart", "bad_request"), (400,)
        ),
        Case("name-not-utf8", stt_upload(short_clip(4.0), b"\xff\xfe.wav"), succeeds=True),
        Case(
            "form-field-not-utf8",
            stt_upload(short_clip(4.0), fields={b"language": b"\xff\xfe"}),
            ("bad_request", "invalid_request"),
            (400, 422),
            succeeds=False,
        ),
        Case(
            "form-field-bad-value",
            stt_upload(short_clip(4.0), fields={b"diarize": b"maybe"}),
            ("invalid_request",),
            (400, 422),
            succeeds=False,
        ),
        Case(
            "multipart-without-closing-boundary",
            stt_upload(short_clip(4.0), close=False),
            ("malformed_multipart",),
            (400,),
            succeeds=False,
        ),
        Case(
            "multipart-without-file-part",
            lambda c: c.post("/v1/stt", data={"diarize": "false"}, files={"other": ("x.txt", b"hi")}),
            ("missing_file",),
            (400,),
            succeeds=False,
        ),
        Case(
            "json-to-stt",
            lambda c: c.post("/v1/stt", json={"file": "clip.wav"}),
            ("unsupported_content_type",),
            (400, 415),
            succeeds=False,
        ),
        Case(
            "tts-text-not-utf8",
            tts_raw(b'{"text": "caf\xe9 au lait"}'),
            ("invalid_request", "bad_request"),
            (400,),
            succeeds=False,
        ),
        Case(
            "tts-text-lone-surrogate",
            tts_raw(b'{"text": "hello \\ud800 world"}'),
            ("invalid_request", "bad_request", "invalid_text"),
            (400, 422),
        ),
        Case(
            "tts-text-with-nul",
            tts_raw(b'{"text": "hello\\u0000world"}'),
            ("invalid_request", "invalid_text"),
            (400, 422),
        ),
        Case(
            "tts-only-cues-and-markers",
            lambda c: c.post("/v1/tts", json={"text": "[laughs] <|speaker:0|> [sighs]"}),
            ("empty_text",),
            (422,),
            succeeds=False,
        ),
        Case(
            "tts-1mb-of-one-word",
            lambda c: c.post("/v1/tts", json={"text": "hello " * 175_000}),
            ("upload_too_large", "payload_too_large", "text_too_long"),
            (413,),
            succeeds=False,
        ),
        Case(
            "tts-malformed-json",
            tts_raw(b'{"text": "hi", '),
            ("invalid_request", "bad_request"),
            (400,),
            succeeds=False,
        ),
        Case("tts-json-not-an-object", tts_raw(b'["hello"]'), ("invalid_request",), (400, 422), succeeds=False),
        Case(
            "tts-unknown-field",
            lambda c: c.post("/v1/tts", json={"text": "hi", "voice": "x"}),
            ("invalid_request",),
            (400, 422),
            succeeds=False,
        ),
        Case(
            "multipart-to-tts",
            lambda c: c.post("/v1/tts", data={"text": "hello"}, files={"file": ("a.txt", b"hello")}),
            ("invalid_request", "unsupported_content_type", "unsupported_media_type", "bad_request"),
            (400, 415),
            succeeds=False,
        ),
    ]


CORPUS = [pytest.param(case, id=case.id) for case in corpus()]


@pytest.mark.parametrize("case", CORPUS)
def test_bad_input_gets_a_specific_answer_and_the_service_stays_up(embedded, case: Case):
    client, server, tmp = embedded
    started = time.monotonic()
    response = case.send(client)
    assert response.status_code < 500, (response.status_code, response.text, server.log())
    if response.status_code != 202:
        error = assert_error(response, case.status or tuple(range(400, 500)), case.codes or ())
        assert case.succeeds is not True, f"a valid request was refused: {error}"
    else:
        body = response.json()
        kind = "tts" if response.request.url.path.startswith("/v1/tts") else "stt"
        status = wait_task(client, kind, body["task_id"], timeout=case.max_seconds, interval=0.2)
        took = time.monotonic() - started
        assert took < case.max_seconds
        if status["status"] == "failed":
            assert case.succeeds is not True, status
            assert status["error"]["code"] != "internal_error", (status, server.log())
            assert status["error"]["code"] in case.codes, status
            assert_error(
                client.get(f"/v1/{kind}/{body['task_id']}/{'result' if kind == 'stt' else 'audio'}"), 409, "task_failed"
            )
        else:
            assert case.succeeds is not False, f"should have been refused, but {status}"
            if kind == "stt":
                result = client.get(f"/v1/stt/{body['task_id']}/result")
                assert result.status_code == 200
                if case.check is not None:
                    case.check(result.json())
        print(f"{case.id}: {status['status']} {status['error']} in {took:.1f} s")
    assert client.get("/v1/health").status_code == 200
    # nothing a client names becomes a path: only task directories (hex ids) under artifacts
    assert not (tmp / "etc").exists() and not (tmp / "data" / "etc").exists()
    assert all(p.name.isalnum() for p in (tmp / "data" / "artifacts").iterdir())
