"""Both task stores against the same lifecycle contract (SQLite file, real Redis)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from server.domain.redis_store import RedisTaskStore
from server.domain.sqlite_store import SqliteTaskStore
from server.domain.tasks import Task, TaskKind, TaskStatus, utcnow
from tests.conftest import sqlite_or_redis


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    return sqlite_or_redis(
        request,
        lambda: SqliteTaskStore(tmp_path / "tasks.sqlite3"),
        lambda client, prefix: RedisTaskStore(client, prefix=prefix, finished_ttl=60),
    )


def test_lifecycle_queued_running_succeeded(store):
    task = Task.new(TaskKind.STT, "alice", {"language": "en"})
    store.create(task)
    assert store.get(task.id).status is TaskStatus.QUEUED
    running = store.start(task.id)
    assert running.status is TaskStatus.RUNNING and running.attempts == 1
    store.set_progress(task.id, 50)
    store.set_progress(task.id, 40)  # progress never goes backwards
    assert store.get(task.id).progress == 50
    done = store.succeed(task.id, {"duration": 1.0})
    assert done.status is TaskStatus.SUCCEEDED and done.progress == 100 and done.result == {"duration": 1.0}
    assert done.updated_at >= done.created_at
    # a redelivered message finds a finished task and does not run it again
    assert store.start(task.id) is None
    # a finished task stays finished
    assert store.fail(task.id, "x", "y").status is TaskStatus.SUCCEEDED
    assert store.get(task.id).error is None


def test_fail_records_code_and_message(store):
    task = Task.new(TaskKind.STT, "alice")
    store.create(task)
    store.start(task.id)
    failed = store.fail(task.id, "unsupported_audio", "cannot decode")
    assert failed.status is TaskStatus.FAILED
    assert (failed.error.code, failed.error.message) == ("unsupported_audio", "cannot decode")
    assert store.get(task.id).to_record() == failed.to_record()


def test_progress_is_capped_below_100_until_success(store):
    task = Task.new(TaskKind.STT, "alice")
    store.create(task)
    store.start(task.id)
    store.set_progress(task.id, 250)
    assert store.get(task.id).progress == 99


def test_unknown_task(store):
    assert store.get("0" * 32) is None
    assert store.start("0" * 32) is None


def test_recover_interrupted_requeues_then_gives_up(store):
    a, b = Task.new(TaskKind.STT, "alice"), Task.new(TaskKind.STT, "bob")
    for task in (a, b):
        store.create(task)
        store.start(task.id)
    store.start(b.id)  # b has now been started twice (as after a previous crash)
    queued = store.recover_interrupted(max_attempts=2)
    assert [t.id for t in queued] == [a.id]
    assert store.get(a.id).status is TaskStatus.QUEUED
    failed = store.get(b.id)
    assert failed.status is TaskStatus.FAILED and failed.error.code == "interrupted"


def test_requeue_with_refund(store):
    task = Task.new(TaskKind.STT, "alice")
    store.create(task)
    store.start(task.id)
    requeued = store.requeue(task.id, refund_attempt=True)
    assert requeued.status is TaskStatus.QUEUED and requeued.attempts == 0


def test_expired_finds_only_old_finished_tasks(store):
    old, fresh, running = (Task.new(TaskKind.STT, "a") for _ in range(3))
    for task in (old, fresh, running):
        store.create(task)
        store.start(task.id)
    store.succeed(old.id, None)
    store.succeed(fresh.id, None)
    # age `old` by rewriting its timestamp through the store's own mutation primitive
    store._mutate(
        old.id, lambda t: Task.from_record({**t.to_record(), "updated_at": (utcnow() - timedelta(hours=2)).isoformat()})
    )
    assert [t.id for t in store.expired(ttl_seconds=3600)] == [old.id]
    store.delete(old.id)
    assert store.get(old.id) is None


def test_concurrent_progress_updates_are_not_lost(store):
    task = Task.new(TaskKind.STT, "alice")
    store.create(task)
    store.start(task.id)
    threads = [threading.Thread(target=store.set_progress, args=(task.id, p)) for p in range(1, 60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(task.id).progress == 59


def test_active_count_follows_each_owners_unfinished_tasks(store):
    tasks = [Task.new(TaskKind.TTS, owner) for owner in ("alice", "alice", "alice", "bob")]
    for task in tasks:
        store.create(task)
    store.start(tasks[1].id)
    assert (store.active_count("alice"), store.active_count("bob"), store.active_count("carol")) == (3, 1, 0)
    store.succeed(tasks[1].id, None)
    store.start(tasks[2].id)
    store.fail(tasks[2].id, "x", "y")
    store.delete(tasks[0].id)
    assert (store.active_count("alice"), store.active_count("bob")) == (0, 1)


def test_active_count_forgets_tasks_removed_behind_the_stores_back(redis_url, redis_prefix):
    import redis

    client = redis.Redis.from_url(redis_url)
    store = RedisTaskStore(client, prefix=redis_prefix)
    task = Task.new(TaskKind.STT, "alice")
    store.create(task)
    client.delete(f"{redis_prefix}task:{task.id}")  # e.g. an operator's DEL, or a restored backup
    assert store.active_count("alice") == 0
    assert not client.smembers(f"{redis_prefix}active:alice")


def test_create_with_max_active_admits_exactly_the_limit_under_concurrency(store):
    from concurrent.futures import ThreadPoolExecutor

    from server.domain.task_store import TooManyActive

    def submit(_: int) -> str:
        try:
            store.create(Task.new(TaskKind.TTS, "alice"), max_active=3)
            return "accepted"
        except TooManyActive as exc:
            assert (exc.active, exc.limit) == (3, 3)
            return "refused"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = sorted(pool.map(submit, range(24)))
    assert outcomes == ["accepted"] * 3 + ["refused"] * 21
    assert store.active_count("alice") == 3
    store.create(Task.new(TaskKind.TTS, "bob"), max_active=3)  # another owner has its own count
    finished = next(t for t in store.find({TaskStatus.QUEUED}) if t.owner == "alice")
    store.start(finished.id)
    store.succeed(finished.id, None)
    store.create(Task.new(TaskKind.TTS, "alice"), max_active=3)  # a finished task frees its slot
