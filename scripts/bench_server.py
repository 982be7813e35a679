"""The server a benchmark measures, as users run it: a real `voice-api serve` with authentication
on (a `pro` key made with the keys CLI) and default settings; in distributed mode with real Redis
and one `voice-api worker` for the given queues."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import ServeProcess, WorkerProcess, user_env


@dataclass(frozen=True)
class BenchServer:
    base_url: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_key(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", "keys", "create", "--owner", "bench", "--plan", "pro"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"API key: (\S+)", out)
    if match is None:
        raise RuntimeError(f"keys create printed no key: {out!r}")
    return match.group(1)


@contextlib.contextmanager
def bench_server(mode: str, name: str, queues: str = "stt,tts,clone") -> Iterator[BenchServer]:
    """mode: embedded or distributed. `name` keeps this run's Redis keys apart from others'."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = {"VOICE_API_STORAGE__DATA_DIR": str(Path(tmp) / "data")}
        if mode == "distributed":
            settings |= {"VOICE_API_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")}
            settings |= {"VOICE_API_REDIS_PREFIX": f"bench-{name}-{os.getpid()}:"}
        env = user_env(**settings)
        key = make_key(env)
        server, worker = ServeProcess(env, Path(tmp) / "serve.log"), None
        try:
            server.wait_healthy()
            if mode == "distributed":
                worker = WorkerProcess(env, Path(tmp) / "worker.log", queues=queues)
                deadline = time.monotonic() + 120
                while not httpx.get(f"{server.base_url}/v1/health").json()["workers"]:
                    if time.monotonic() > deadline:
                        raise TimeoutError("no worker announced itself")
                    time.sleep(0.5)
            yield BenchServer(server.base_url, key)
        except Exception:
            print(server.log(), file=sys.stderr)  # why the server did not answer as measured
            raise
        finally:
            if worker is not None:
                worker.stop()
            server.stop()
