"""A task's life as the client sees it: submit, follow its progress, fetch the result; several at once
with a bounded concurrency, and on Ctrl-C cancel on the server every task this run started.

One thread per running job (the work is waiting on the network); the main thread only waits, so it
is the one Python delivers Ctrl-C to, and it tells the jobs to stop through an Event.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.client.api import TERMINAL_STATUSES, Stopped, VoiceApiClient
from server.client.display import Display, Row
from server.client.errors import ApiError, ClientError, ExitCode, ServerUnreachable, TaskFailed

# How long a job keeps polling through a server that went away (restart, deploy) before giving up:
# tasks survive a server restart, so the client should too.
UNREACHABLE_PATIENCE_S = 30.0
SUBMIT_ATTEMPTS = 3  # a submission lost to the network or a 5xx is sent this many times in all
TOO_MANY_TASKS = "too_many_tasks"  # 429 while the key's plan has its most tasks queued or running


@dataclass
class Outcome:
    label: str
    kind: str
    status: str  # succeeded | failed | canceled | interrupted | error
    exit_code: int
    task_id: str | None = None
    task: dict[str, Any] | None = None  # the last status document the server sent
    error: dict[str, str] | None = None
    output: str | None = None  # the file written, if any
    payload: Any = None  # what goes to stdout when no file was asked for
    cancel: dict[str, Any] | None = None  # what the server said to DELETE, after Ctrl-C

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "input": self.label,
            "kind": self.kind,
            "status": self.status,
            "task_id": self.task_id,
            "output": self.output,
            "error": self.error,
            "result": (self.task or {}).get("result"),
        }
        if self.cancel is not None:
            document["cancel"] = self.cancel
        return document


class Job(ABC):
    kind: str
    label: str

    @abstractmethod
    def submit(
        self, client: VoiceApiClient, row: Row, stopped: Callable[[], bool], idempotency_key: str
    ) -> dict[str, Any]:
        """Create the task (sending idempotency_key); its status document."""

    @abstractmethod
    def collect(
        self, client: VoiceApiClient, task: dict[str, Any], row: Row, stopped: Callable[[], bool]
    ) -> tuple[str | None, Any]:
        """Fetch what a succeeded task made: (the file written or None, what goes to stdout or None)."""


def write_atomically(path: Path, chunks: Iterable[bytes]) -> None:
    """Write to a temporary file beside `path`, then rename: an interrupted run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(partial, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


class Runner:
    def __init__(
        self,
        client: VoiceApiClient,
        display: Display,
        concurrency: int = 1,
        poll_interval_s: float = 0.1,
        poll_max_s: float = 1.0,
        verbose: bool = False,
        slot_wait_s: float = 1.0,
        reconnect_wait_s: float = 1.0,
    ) -> None:
        self.client, self.display = client, display
        self.concurrency, self.poll_interval_s, self.verbose = max(1, concurrency), poll_interval_s, verbose
        self.slot_wait_s, self.reconnect_wait_s, self.poll_max_s = slot_wait_s, reconnect_wait_s, poll_max_s
        self._stop = threading.Event()

    def run(self, jobs: Sequence[Job]) -> list[Outcome]:
        rows = [self.display.row(job.label) for job in jobs]
        with ThreadPoolExecutor(min(self.concurrency, len(jobs)), thread_name_prefix="voice-api-job") as pool:
            futures = [pool.submit(self._run_one, job, row) for job, row in zip(jobs, rows, strict=True)]
            try:
                _wait_all(futures)
            except KeyboardInterrupt:
                self._stop.set()
                self.display.note("Interrupted: cancelling on the server… (Ctrl-C again to quit at once)")
                try:
                    _wait_all(futures)
                except KeyboardInterrupt:
                    self.display.__exit__(None, None, None)
                    os._exit(ExitCode.INTERRUPTED)  # the user insists; the threads are only waiting
        return [future.result() for future in futures]

    def _run_one(self, job: Job, row: Row) -> Outcome:
        outcome = Outcome(job.label, job.kind, "interrupted", ExitCode.INTERRUPTED)
        if self._stop.is_set():
            outcome.error = {"code": "interrupted", "message": "not started: interrupted"}
            return outcome
        try:
            task = self._submit(job, row)
            outcome.task_id, outcome.task = task["task_id"], task
            if self.verbose:
                self.display.note(f"{job.label}: {job.kind} task {outcome.task_id}")
            outcome.task = task = self._follow(job, task, row)
            if task["status"] != "succeeded":
                error = task.get("error") or {"code": task["status"], "message": f"the task was {task['status']}"}
                raise TaskFailed(error["message"], error["code"])
            outcome.output, outcome.payload = job.collect(self.client, task, row, self._stop.is_set)
            outcome.status, outcome.exit_code = "succeeded", ExitCode.OK
            row.finish("done")
        except Stopped:
            outcome.error = {"code": "interrupted", "message": "interrupted"}
            # Only an unfinished task is cancelled: on a finished one DELETE forgets the result, and an
            # interrupted download is no reason to destroy what the server already made.
            if outcome.task_id and (outcome.task or {}).get("status") not in TERMINAL_STATUSES:
                outcome.cancel = self._cancel(job, outcome.task_id)
            row.finish("interrupted")
        except ClientError as exc:
            outcome.error, outcome.exit_code = exc.as_json(), exc.exit_code
            outcome.status = (outcome.task or {}).get("status", "error") if isinstance(exc, TaskFailed) else "error"
            row.finish(outcome.status)
        return outcome

    def _submit(self, job: Job, row: Row) -> dict[str, Any]:
        """Submit, waiting for a free slot while the key's plan has as many tasks running as it allows
        (with --jobs above the plan's limit, the other inputs wait their turn instead of failing), and
        retrying a submission the network or the server dropped, under one Idempotency-Key."""
        idempotency_key = f"voice-api-cli-{uuid.uuid4().hex}"
        delay, failures = self.slot_wait_s, 0
        while True:
            try:
                return job.submit(self.client, row, self._stop.is_set, idempotency_key)
            except ApiError as exc:
                if exc.code != TOO_MANY_TASKS and exc.exit_code != ExitCode.UNREACHABLE:
                    raise
                failures += exc.exit_code == ExitCode.UNREACHABLE
                if failures >= SUBMIT_ATTEMPTS:
                    raise
            except ServerUnreachable:
                failures += 1
                if failures >= SUBMIT_ATTEMPTS:
                    raise
            row.waiting("waiting for a task slot" if failures == 0 else "retrying")
            if self._stop.wait(delay):
                raise Stopped
            delay = min(delay * 1.5, 5 * self.slot_wait_s)

    def _follow(self, job: Job, task: dict[str, Any], row: Row) -> dict[str, Any]:
        # Quick polls first, then slower: a one-second synthesis is not kept waiting half a second more,
        # and an hour-long transcription is not asked about ten times a second (polls are free of the
        # rate limit, but not of work for the server).
        interval = self.poll_interval_s
        while True:
            row.task(task["status"], int(task.get("progress") or 0))
            if task["status"] in TERMINAL_STATUSES:
                return task
            if self._stop.wait(interval):
                raise Stopped
            interval = min(interval * 1.5, self.poll_max_s)
            task = self._status(job.kind, task["task_id"])

    def _status(self, kind: str, task_id: str) -> dict[str, Any]:
        gone_since: float | None = None
        while True:
            try:
                return self.client.status(kind, task_id)
            except (ServerUnreachable, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status < 500:
                    raise
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since > UNREACHABLE_PATIENCE_S:
                    raise
            if self._stop.wait(self.reconnect_wait_s):
                raise Stopped

    def _cancel(self, job: Job, task_id: str) -> dict[str, Any]:
        """DELETE the task. A server without cancellation (404/405) is reported, not an error of its own:
        the run still ends as interrupted."""
        try:
            task = self.client.cancel(job.kind, task_id)
        except ApiError as exc:
            unsupported = exc.status in (404, 405)
            why = "this server cannot cancel tasks" if unsupported else exc.message
            self.display.note(
                f"{job.label}: task {task_id} was not cancelled ({exc.status} {exc.code}: {why}); it may still run"
            )
            return {"canceled": False, "http_status": exc.status, "error": exc.as_json()}
        except ClientError as exc:
            self.display.note(f"{job.label}: task {task_id} was not cancelled: {exc.message}")
            return {"canceled": False, "http_status": None, "error": exc.as_json()}
        self.display.note(f"{job.label}: task {task_id} cancelled on the server")
        return {"canceled": task.get("status") == "canceled", "http_status": 200, "status": task.get("status")}


def _wait_all(futures: list[Future]) -> None:
    # A timed wait in a loop: the main thread must come back to Python now and then to see Ctrl-C.
    while not all(future.done() for future in futures):
        wait_futures(futures, timeout=0.2)


@dataclass
class TransferCounter:
    """Bytes sent so far for one upload, shown on its row."""

    row: Row
    total: int
    phase: str = "uploading"
    done: int = field(default=0)

    def __call__(self, count: int) -> None:
        self.done += count
        self.row.transfer(self.phase, self.done, self.total)
