"""Task leases and the orphan reaper on a real Redis."""

from __future__ import annotations

import time
from datetime import timedelta

import redis

from server.domain.leases import LeaseKeeper, RedisTaskLeases, requeue_orphans
from server.domain.redis_store import RedisTaskStore
from server.domain.tasks import Task, TaskKind, TaskStatus, utcnow


def test_lease_is_exclusive_renewable_and_released_only_by_its_holder(redis_url, redis_prefix):
    leases = RedisTaskLeases(redis.Redis.from_url(redis_url), redis_prefix, ttl_s=1.0)
    assert leases.acquire("t1", "a") and not leases.acquire("t1", "b")
    leases.release("t1", "b")  # not b's to release
    assert leases.held("t1")
    time.sleep(0.6)
    leases.renew("t1", "a")
    time.sleep(0.6)
    assert leases.held("t1")  # renewed past its first expiry
    leases.release("t1", "a")
    assert not leases.held("t1") and leases.acquire("t1", "b")


def test_keeper_renews_while_work_runs_and_releases_after(redis_url, redis_prefix):
    leases = RedisTaskLeases(redis.Redis.from_url(redis_url), redis_prefix, ttl_s=1.0)
    assert leases.acquire("t2", "a")
    with LeaseKeeper(leases, "t2", "a", every_s=0.3):
        time.sleep(1.5)
        assert leases.held("t2")
    assert not leases.held("t2")


def running_task(store, age_s: float) -> Task:
    task = Task.new(TaskKind.STT, "alice")
    store.create(task)
    store.start(task.id)
    old = (utcnow() - timedelta(seconds=age_s)).isoformat()
    store._mutate(task.id, lambda t: Task.from_record({**t.to_record(), "updated_at": old}))
    return task


def test_reaper_requeues_only_running_tasks_whose_lease_lapsed(redis_url, redis_prefix):
    client = redis.Redis.from_url(redis_url)
    store = RedisTaskStore(client, prefix=redis_prefix)
    leases = RedisTaskLeases(client, redis_prefix, ttl_s=30)
    orphan, alive, fresh = running_task(store, 60), running_task(store, 60), running_task(store, 0)
    leases.acquire(alive.id, "someone")
    published = []
    assert requeue_orphans(store, leases, published.append, grace_s=30) == [orphan.id]
    assert [t.id for t in published] == [orphan.id]
    assert store.get(orphan.id).status is TaskStatus.QUEUED
    assert store.get(alive.id).status is TaskStatus.RUNNING and store.get(fresh.id).status is TaskStatus.RUNNING
    # a second reaper finds nothing left to do: the task is published once
    assert requeue_orphans(store, leases, published.append, grace_s=30) == []


def test_a_dead_local_holder_is_taken_over_a_live_one_is_not(redis_url, redis_prefix):
    import os
    import socket
    import subprocess

    leases = RedisTaskLeases(redis.Redis.from_url(redis_url), redis_prefix, ttl_s=30)
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs, like a SIGKILLed pool child
    assert leases.acquire("t3", f"{socket.gethostname()}:{gone.pid}:dead")
    assert leases.acquire("t3", "new-holder")  # taken over at once, not after 30 s
    assert leases.acquire("t4", f"{socket.gethostname()}:{os.getpid()}:alive")
    assert not leases.acquire("t4", "other")  # the holder lives
    assert leases.acquire("t5", f"other-host:{gone.pid}:x")
    assert not leases.acquire("t5", "other")  # another machine: only expiry can tell
