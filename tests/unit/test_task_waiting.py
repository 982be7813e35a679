"""TaskService.wait/watch over both stores: woken by the store's own change notifications (the
SQLite store's in-process listeners, the Redis store's pub/sub channel), not by polling."""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.domain.artifacts import ArtifactStore
from server.domain.redis_store import RedisTaskStore
from server.domain.sqlite_store import SqliteTaskStore
from server.domain.tasks import Task, TaskKind, TaskStatus
from server.services.task_events import RedisTaskEvents, TaskEvents
from server.services.tasks import TaskService


class NoPolling(TaskService):
    # Longer than any wait below: a test passes only if a change notification woke the waiter.
    FALLBACK_POLL_S = 60.0


@pytest.fixture(params=["sqlite", "redis"])
def service(request, tmp_path):
    if request.param == "sqlite":
        store = SqliteTaskStore(tmp_path / "tasks.sqlite3")
        events = TaskEvents()
        store.change_listeners.append(events.notify)
    else:
        import redis

        url = request.getfixturevalue("redis_url")
        store = RedisTaskStore(redis.Redis.from_url(url), prefix=request.getfixturevalue("redis_prefix"))
        events = RedisTaskEvents(url, store.changes_channel)
    return NoPolling(store, ArtifactStore(tmp_path / "artifacts"), dispatcher=None, events=events)


def run_later(delay: float, fn) -> threading.Timer:
    timer = threading.Timer(delay, fn)
    timer.start()
    return timer


def test_wait_returns_when_a_worker_finishes_the_task(service):
    task = Task.new(TaskKind.STT, "alice")
    service.store.create(task)

    async def scenario():
        await service.events.start()
        try:
            if isinstance(service.events, RedisTaskEvents):
                await asyncio.sleep(0.3)  # the subscription is live before the worker writes
            run_later(0.2, lambda: (service.store.start(task.id), service.store.succeed(task.id, {"ok": 1})))
            return await asyncio.wait_for(service.wait(task.id, "alice", TaskKind.STT, timeout=30), 10)
        finally:
            await service.events.stop()

    done = asyncio.run(scenario())
    assert done.status is TaskStatus.SUCCEEDED and done.result == {"ok": 1}


def test_watch_yields_each_progress_step_then_the_end(service):
    task = Task.new(TaskKind.TTS, "alice")
    service.store.create(task)
    seen_one = threading.Semaphore(0)  # the worker takes its next step only once the watcher saw one

    def worker():
        steps = [
            lambda: service.store.start(task.id),
            lambda: service.store.set_progress(task.id, 20),
            lambda: service.store.set_progress(task.id, 60),
            lambda: service.store.succeed(task.id, None),
        ]
        for step in steps:
            assert seen_one.acquire(timeout=10)
            step()

    async def scenario():
        await service.events.start()
        try:
            if isinstance(service.events, RedisTaskEvents):
                await asyncio.sleep(0.3)
            seen = []
            thread = threading.Thread(target=worker)
            thread.start()
            async for state in service.watch(task.id, "alice", TaskKind.TTS, timeout=30):
                seen.append((state.status, state.progress))
                seen_one.release()
            thread.join(10)
            return seen
        finally:
            await service.events.stop()

    seen = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert seen == [
        (TaskStatus.QUEUED, 0),
        (TaskStatus.RUNNING, 1),
        (TaskStatus.RUNNING, 20),
        (TaskStatus.RUNNING, 60),
        (TaskStatus.SUCCEEDED, 100),
    ]


def test_wait_times_out_with_the_current_state_and_checks_the_owner(service):
    from server.domain.errors import NotFound

    task = Task.new(TaskKind.STT, "alice")
    service.store.create(task)

    async def scenario():
        state = await service.wait(task.id, "alice", TaskKind.STT, timeout=0.3)
        with pytest.raises(NotFound):
            await service.wait(task.id, "mallory", TaskKind.STT, timeout=0.3)
        return state

    assert asyncio.run(scenario()).status is TaskStatus.QUEUED
