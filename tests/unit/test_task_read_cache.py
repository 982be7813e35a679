"""The API process's cache of task records for status polls (server/domain/task_cache.py): served
only while live, dropped by a change message or a local write, never keeping a read that a message
overtook, bounded in age and size. The Redis-backed tests put it behind a real subscription, with two
stores standing for an API node and a worker."""

from __future__ import annotations

import asyncio

import pytest

from server.domain.task_cache import TaskReadCache
from server.domain.tasks import Task, TaskKind, TaskStatus
from tests.support.clock import FakeClock


def task(status: TaskStatus = TaskStatus.RUNNING, progress: int = 1) -> Task:
    return Task.new(TaskKind.STT, "alice", task_id="t1").evolve(status=status, progress=progress)


class Store:
    """What the cache reads through: counts reads, and can hold one open until released."""

    def __init__(self, value: Task | None) -> None:
        self.value = value
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    async def fetch(self) -> Task | None:
        self.reads += 1
        value = self.value  # what the store holds when the read reaches it
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return value


async def reached(store: Store, reads: int = 1) -> None:
    while store.reads < reads:  # let the shared read task run up to the store
        await asyncio.sleep(0)


def live_cache(**kwargs) -> TaskReadCache:
    cache = TaskReadCache(**kwargs)
    cache.subscribed()
    return cache


def test_not_live_every_read_goes_to_the_store():
    cache, store = TaskReadCache(), Store(task())

    async def scenario():
        for _ in range(3):
            assert await cache.get("t1", store.fetch) == store.value

    asyncio.run(scenario())
    assert store.reads == 3 and len(cache) == 0


def test_live_repeat_reads_are_served_from_memory_until_a_change_arrives():
    cache, store = live_cache(), Store(task(progress=5))

    async def scenario():
        first = [await cache.get("t1", store.fetch) for _ in range(5)]
        assert store.reads == 1 and all(t.progress == 5 for t in first)
        store.value = task(progress=6)
        cache.invalidate("t1")  # the change message, or this process's own write
        assert (await cache.get("t1", store.fetch)).progress == 6
        assert store.reads == 2

    asyncio.run(scenario())


def test_a_read_overtaken_by_a_change_is_not_kept():
    cache, store = live_cache(), Store(task(progress=5))

    async def scenario():
        store.gate = asyncio.Event()
        reading = asyncio.create_task(cache.get("t1", store.fetch))
        await reached(store)  # the read has reached the store: it saw progress 5
        store.value = task(TaskStatus.SUCCEEDED, 100)
        cache.invalidate("t1")  # the write's message arrives before the read's answer
        store.gate.set()
        assert (await reading).progress == 5  # that caller asked before the change: fine
        store.gate = None
        assert (await cache.get("t1", store.fetch)).status is TaskStatus.SUCCEEDED  # not the stale read

    asyncio.run(scenario())
    assert store.reads == 2


def test_a_poll_after_a_change_does_not_join_a_read_started_before_it():
    cache, store = live_cache(), Store(task(progress=5))

    async def scenario():
        store.gate = asyncio.Event()
        early = asyncio.create_task(cache.get("t1", store.fetch))
        await reached(store)
        cache.invalidate("t1")
        store.value = task(TaskStatus.CANCELED)
        gate, store.gate = store.gate, None
        late = await cache.get("t1", store.fetch)  # its own read, not the early one's answer
        gate.set()
        assert (await early).progress == 5 and late.status is TaskStatus.CANCELED

    asyncio.run(scenario())
    assert store.reads == 2


def test_concurrent_misses_share_one_read_and_a_caller_that_leaves_does_not_cancel_it():
    cache, store = live_cache(), Store(task())

    async def scenario():
        store.gate = asyncio.Event()
        callers = [asyncio.create_task(cache.get("t1", store.fetch)) for _ in range(10)]
        await reached(store)
        callers[0].cancel()
        await asyncio.sleep(0)
        store.gate.set()
        results = await asyncio.gather(*callers[1:])
        assert all(r == store.value for r in results)
        assert await cache.get("t1", store.fetch) == store.value  # kept

    asyncio.run(scenario())
    assert store.reads == 1


def test_an_entry_is_served_at_most_max_age_after_its_read_began():
    clock = FakeClock(100.0)
    cache, store = live_cache(max_age_s=0.5, clock=clock), Store(task(progress=5))

    async def scenario():
        await cache.get("t1", store.fetch)
        store.value = task(progress=9)  # changed, and its message lost
        clock.now = 100.49
        assert (await cache.get("t1", store.fetch)).progress == 5
        clock.now = 100.5
        assert (await cache.get("t1", store.fetch)).progress == 9

    asyncio.run(scenario())
    assert store.reads == 2


def test_missing_tasks_and_failed_reads_are_not_cached():
    cache, store = live_cache(), Store(None)

    async def scenario():
        assert await cache.get("t1", store.fetch) is None
        store.value = task()
        assert await cache.get("t1", store.fetch) == store.value  # created since: found at once
        cache.invalidate("t1")
        store.error = ConnectionError("redis down")
        with pytest.raises(ConnectionError):
            await cache.get("t1", store.fetch)
        store.error = None
        assert await cache.get("t1", store.fetch) == store.value

    asyncio.run(scenario())
    assert store.reads == 4


def test_losing_the_subscription_empties_the_cache_and_a_new_confirmation_starts_afresh():
    cache, store = live_cache(), Store(task(progress=5))

    async def scenario():
        await cache.get("t1", store.fetch)
        cache.suspend()
        assert not cache.live and len(cache) == 0
        store.value = task(progress=7)  # changed while no message could arrive
        assert (await cache.get("t1", store.fetch)).progress == 7
        assert len(cache) == 0  # nothing kept while not live
        cache.subscribed()
        assert (await cache.get("t1", store.fetch)).progress == 7
        assert (await cache.get("t1", store.fetch)).progress == 7

    asyncio.run(scenario())
    assert store.reads == 3


def test_a_read_in_flight_across_a_reconnect_is_not_kept():
    cache, store = live_cache(), Store(task(progress=5))

    async def scenario():
        store.gate = asyncio.Event()
        reading = asyncio.create_task(cache.get("t1", store.fetch))
        await reached(store)
        cache.subscribed()  # redis-py reconnected and subscribed again: messages may be lost
        store.gate.set()
        await reading
        store.gate = None
        await cache.get("t1", store.fetch)

    asyncio.run(scenario())
    assert store.reads == 2


def test_zero_max_age_turns_the_cache_off():
    cache = live_cache(max_age_s=0)
    assert not cache.live


def test_the_oldest_entries_are_evicted_past_the_size_bound():
    cache = live_cache(max_entries=3)
    tasks = {i: Task.new(TaskKind.STT, "alice", task_id=f"t{i}") for i in range(5)}
    reads: list[str] = []

    def fetch(i: int):
        async def read() -> Task:
            reads.append(f"t{i}")
            return tasks[i]

        return read

    async def scenario():
        for i in range(5):
            await cache.get(f"t{i}", fetch(i))
        assert len(cache) == 3
        for i in (2, 3, 4, 0):
            await cache.get(f"t{i}", fetch(i))

    asyncio.run(scenario())
    assert reads == ["t0", "t1", "t2", "t3", "t4", "t0"]


# --- behind a real subscription: one store stands for the API node, another for a worker ------


@pytest.fixture
def nodes(redis_url, redis_prefix):
    """(the API node's store, with a cache that only messages can refresh, and its clock; a
    worker's store; the raw client)."""
    import redis

    from server.domain.async_redis import LoopBoundRedis
    from server.domain.redis_store import RedisTaskStore

    client = redis.Redis.from_url(redis_url)
    clock = FakeClock(0.0)  # never advances unless a test says so: no entry ages out by itself
    api = RedisTaskStore(
        client,
        prefix=redis_prefix,
        async_redis=LoopBoundRedis(redis_url),
        read_cache=TaskReadCache(max_age_s=60, clock=clock),
    )
    return api, clock, RedisTaskStore(client, prefix=redis_prefix), client


async def until(predicate, timeout: float = 5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await predicate()):
        assert asyncio.get_running_loop().time() < deadline, "not seen in time"
        await asyncio.sleep(0.01)
    return result


def subscribed(api, redis_url, scenario):
    from server.services.task_events import RedisTaskEvents

    async def run():
        events = RedisTaskEvents(redis_url, api.changes_channel, api.read_cache)
        await events.start()
        try:
            await until(lambda: asyncio.sleep(0, api.read_cache.live))
            await scenario()
        finally:
            await events.stop()
        assert not api.read_cache.live

    asyncio.run(run())


def behind_the_stores_back(client, api, task: Task, **changes) -> None:
    # A write that publishes nothing: only an entry's age could reveal it.
    import json

    client.set(f"{api._prefix}task:{task.id}", json.dumps(task.evolve(**changes).to_record()))


def test_changes_written_by_a_worker_are_seen_through_their_messages(nodes, redis_url):
    api, _, worker, client = nodes
    task = Task.new(TaskKind.STT, "alice")
    worker.create(task)

    async def scenario():
        assert (await api.aget(task.id)).status is TaskStatus.QUEUED
        behind_the_stores_back(client, api, task, progress=42)
        assert (await api.aget(task.id)).progress == 0  # served from memory
        worker.start(task.id)
        assert await until(lambda: status_is(api, task.id, TaskStatus.RUNNING))
        worker.set_progress(task.id, 50)  # past the 42 written behind the store's back
        await until(lambda: progress_is(api, task.id, 50))
        worker.succeed(task.id, {"text": "hi"})
        done = await until(lambda: status_is(api, task.id, TaskStatus.SUCCEEDED))
        assert done.progress == 100

    subscribed(api, redis_url, scenario)


def test_this_nodes_own_writes_are_seen_at_once(nodes, redis_url):
    api, _, _, _ = nodes
    running, finished = Task.new(TaskKind.TTS, "alice"), Task.new(TaskKind.TTS, "alice")
    api.create(running)
    api.create(finished)
    api.start(running.id)

    async def scenario():
        assert (await api.aget(running.id)).status is TaskStatus.RUNNING
        assert (await api.aget(finished.id)).status is TaskStatus.QUEUED
        api.cancel(running.id)  # no waiting for the message: the next poll must already see it
        assert (await api.aget(running.id)).status is TaskStatus.CANCELED
        api.succeed(finished.id, None)
        assert (await api.aget(finished.id)).status is TaskStatus.SUCCEEDED
        api.delete(finished.id)
        assert await api.aget(finished.id) is None

    subscribed(api, redis_url, scenario)


def test_a_forgotten_task_disappears_from_other_nodes_through_its_message(nodes, redis_url):
    api, _, other, _ = nodes
    task = Task.new(TaskKind.TTS, "alice")
    other.create(task)
    other.succeed(task.id, None)

    async def scenario():
        assert (await api.aget(task.id)).status is TaskStatus.SUCCEEDED
        other.delete(task.id)  # DELETE on another node: the task is forgotten

        async def gone():
            return await api.aget(task.id) is None

        await until(gone)

    subscribed(api, redis_url, scenario)


def test_a_lost_message_leaves_a_stale_status_for_at_most_the_max_age(nodes, redis_url):
    api, clock, _, client = nodes
    task = Task.new(TaskKind.STT, "alice")
    api.create(task)

    async def scenario():
        await api.aget(task.id)
        behind_the_stores_back(client, api, task, status=TaskStatus.CANCELED)
        clock.now = 59.9
        assert (await api.aget(task.id)).status is TaskStatus.QUEUED
        clock.now = 60.0
        assert (await api.aget(task.id)).status is TaskStatus.CANCELED

    subscribed(api, redis_url, scenario)


async def status_is(store, task_id: str, status: TaskStatus) -> Task | None:
    current = await store.aget(task_id)
    return current if current is not None and current.status is status else None


async def progress_is(store, task_id: str, progress: int) -> Task | None:
    current = await store.aget(task_id)
    return current if current is not None and current.progress == progress else None
