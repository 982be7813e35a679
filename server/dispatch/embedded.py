"""The embedded mode's worker pool: threads inside `voice-api serve`, fed from the SQLite store.

The queue in memory is only a wake-up list; the durable truth is the task table. At start-up,
tasks left running by a crash go back to the queue (or fail once they used their attempts), and
every queued task is enqueued again in creation order. Engines release the GIL while they compute
(CTranslate2, torch), so threads are enough here.

Two lanes: every thread takes interactive work first, and `interactive_workers` more threads take
only interactive work, so a short request never waits behind a long recording.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from server.dispatch.base import QueueHealth
from server.domain.tasks import Task, TaskKind, TaskLane
from server.worker.context import WorkerContext
from server.worker.engines import describe
from server.worker.priority import lower_thread_priority
from server.worker.runner import execute_task

log = logging.getLogger(__name__)

_BOTH: tuple[TaskLane, ...] = (TaskLane.INTERACTIVE, TaskLane.BATCH)
_INTERACTIVE_ONLY: tuple[TaskLane, ...] = (TaskLane.INTERACTIVE,)


class LaneQueue:
    """Task ids per lane; `get(lanes)` takes from the first of `lanes` that has one."""

    def __init__(self) -> None:
        self._lanes: dict[TaskLane, deque[str]] = {lane: deque() for lane in TaskLane}
        self._ready = threading.Condition()
        self._closed = False

    def put(self, task_id: str, lane: TaskLane) -> None:
        with self._ready:
            self._lanes[lane].append(task_id)
            self._ready.notify_all()

    def get(self, lanes: Sequence[TaskLane]) -> str | None:
        """Block until a task is available in one of `lanes`; None once the queue is closed."""
        with self._ready:
            while not self._closed:
                for lane in lanes:
                    if self._lanes[lane]:
                        return self._lanes[lane].popleft()
                self._ready.wait()
            return None

    def open(self) -> None:
        with self._ready:
            self._closed = False

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return sum(len(q) for q in self._lanes.values())


class EmbeddedWorkerPool:
    def __init__(self, ctx: WorkerContext, concurrency: int, interactive_workers: int = 0) -> None:
        self._ctx = ctx
        self._concurrency = concurrency
        self._interactive_workers = interactive_workers
        self._queue = LaneQueue()
        self._threads: list[threading.Thread] = []
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._engines: dict[str, Any] = {}
        self._stop_webhooks: threading.Event | None = None

    def start(self) -> None:
        self._queue.open()  # a pool may be started again after a stop (an app's lifespan re-entered)
        self._ctx.stopping.clear()
        self._engines = describe(self._ctx.settings)  # once: it reads model files, health is hot
        recovered = self._ctx.store.recover_interrupted(self._ctx.settings.worker.max_attempts)
        for task in recovered:
            self._queue.put(task.id, task.lane)
        if recovered:
            log.info("re-queued %d task(s) found unfinished at start-up", len(recovered))
        workers = [("voice-worker", _BOTH)] * self._concurrency
        workers += [("voice-interactive", _INTERACTIVE_ONLY)] * self._interactive_workers
        self._stop_webhooks = _webhook_deliverer(self._ctx).start()
        for index, (name, lanes) in enumerate(workers):
            thread = threading.Thread(target=self._loop, args=(lanes,), name=f"{name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        # Running tasks stop at their next progress report (they are requeued, their attempt
        # refunded), so no engine keeps computing in a thread after the pool is gone.
        self._ctx.stopping.set()
        self._queue.close()
        if self._stop_webhooks is not None:
            self._stop_webhooks.set()
        # One deadline for all threads: idle ones return at once, so a thread that is running an
        # engine gets the whole grace period to reach its next progress report (a slice of it each
        # was too short for a nice-10 thread on loaded cores).
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            log.warning("a worker thread was still running its task %.0f s after the stop", timeout)
        # Tasks still running are put back in the queue, with the attempt refunded: a clean
        # shutdown is not the task's fault. A crash (no stop) is recovered at the next start.
        with self._lock:
            for task_id in self._running:
                self._ctx.store.requeue(task_id, refund_attempt=True)
        self._threads.clear()

    def enqueue(self, task: Task) -> None:
        self._queue.put(task.id, task.lane)

    def _loop(self, lanes: Sequence[TaskLane]) -> None:
        # Engines use every core; in this process they share it with the event loop answering
        # polls. A nicer worker thread (and the CTranslate2/torch threads it starts, which inherit
        # it) keeps status polls fast while long tasks run: measured p99 17-43 ms -> 8-11 ms.
        lower_thread_priority(self._ctx.settings.worker.niceness)
        while True:
            task_id = self._queue.get(lanes)
            if task_id is None:
                return
            with self._lock:
                self._running.add(task_id)
            try:
                execute_task(self._ctx, task_id)
            except Exception:  # never let one task end the worker thread
                log.exception("worker thread survived an error in task %s", task_id)
            finally:
                with self._lock:
                    self._running.discard(task_id)

    def health(self) -> QueueHealth:
        try:
            self._ctx.store.ping()
        except Exception as exc:
            return QueueHealth(reachable=False, mode="embedded", detail=f"task store unreachable: {exc}")
        alive = sum(t.is_alive() for t in self._threads)
        return QueueHealth(
            reachable=alive > 0,
            mode="embedded",
            detail="" if alive else "no worker thread is running",
            queue_depths={"all": len(self._queue)},
            workers=[
                {
                    "name": "embedded",
                    "threads": alive,
                    "queues": [k.value for k in TaskKind],
                    "engines": self._engines,
                }
            ],
        )

    def capabilities(self) -> dict[str, Any]:
        return self._engines


def _webhook_deliverer(ctx: WorkerContext):
    from server.auth.webhook_secrets import open_webhook_secrets
    from server.worker.webhooks import WebhookDeliverer

    return WebhookDeliverer(ctx.settings, ctx.store, ctx.webhooks, open_webhook_secrets(ctx.settings))
