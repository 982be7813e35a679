"""Run the project's real entrypoints (`voice-api serve`, `voice-api worker`) as subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

VOICE_API = [sys.executable, "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def user_env(**settings: str) -> dict[str, str]:
    """The environment of a process run as a user runs it: default settings plus `settings`
    (benchmarks measure this)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_API_")}
    env.update(settings)
    env.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def project_env(**settings: str) -> dict[str, str]:
    """user_env with the tests' two changes of default, which a test can override."""
    env = user_env(**settings)
    # Same audio on every run (see tests/conftest.py); a test of the default path sets it "false".
    env.setdefault("VOICE_API_TTS__DETERMINISTIC", "true")
    # One process per `voice-api worker`: the fault tests find the pool child among its children.
    # tests/worker/test_lanes.py runs the default (an interactive-lane companion process).
    env.setdefault("VOICE_API_WORKER__INTERACTIVE_WORKERS", "0")
    # Workers at normal priority: a nice-10 worker in a session of its own yields its CPU to every
    # other session (server/worker/priority.py), and on a shared test machine its tasks then outlast
    # the tests' timeouts. tests/worker/test_distributed.py checks the setting itself.
    env.setdefault("VOICE_API_WORKER__NICENESS", "0")
    return env


class Process:
    """A child process whose output goes to a log file, shown when a test fails."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, as in a crash or an OOM kill."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


class ServeProcess(Process):
    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        super().__init__([*VOICE_API, "serve", "--port", str(self.port)], env, log_path)

    def wait_healthy(self, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voice-api serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                response = httpx.get(f"{self.base_url}/v1/health", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"voice-api serve not healthy within {timeout} s:\n{self.log()}")


class WorkerProcess(Process):
    def __init__(self, env: dict[str, str], log_path: Path, queues: str = "stt,tts,clone,speaker") -> None:
        super().__init__([*VOICE_API, "worker", "--queues", queues, "--concurrency", "1"], env, log_path)


def poll_finished(client: httpx.Client, route: str, interval: float = 0.05, timeout: float = 600) -> dict:
    """Poll a task route until it succeeds or fails; raise on failure or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(route).json()
        if body["status"] == "succeeded":
            return body
        if body["status"] == "failed":
            raise RuntimeError(f"{route} failed: {body['error']}")
        time.sleep(interval)
    raise TimeoutError(route)


class WyomingProcess(Process):
    """`voice-api wyoming` on a free port; ready once it answers `describe`."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.uri = f"tcp://127.0.0.1:{self.port}"
        super().__init__([*VOICE_API, "wyoming", "--uri", self.uri], env, log_path)

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_wyoming(self.port, timeout, self)


def wait_wyoming(port: int, timeout: float = 60.0, process: Process | None = None) -> None:
    """Until a Wyoming server on `port` answers describe with info (the `wyoming` package's client)."""
    import asyncio

    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info

    async def describe() -> bool:
        try:
            async with AsyncTcpClient("127.0.0.1", port, connect_timeout=2, read_timeout=10) as client:
                await client.write_event(Describe().event())
                event = await client.read_event()
                return event is not None and Info.is_type(event.type)
        except OSError:
            return False

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.proc.poll() is not None:
            raise RuntimeError(f"the Wyoming server exited with {process.proc.returncode}:\n{process.log()}")
        if asyncio.run(describe()):
            return
        time.sleep(0.2)
    raise RuntimeError(f"no Wyoming server on port {port} within {timeout} s:\n{process.log() if process else ''}")
