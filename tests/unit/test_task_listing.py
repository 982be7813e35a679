"""Listing one owner's tasks, newest first, with filters and cursors: both stores, one contract."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from server.domain.redis_store import RedisTaskStore
from server.domain.sqlite_store import SqliteTaskStore
from server.domain.task_store import TaskQuery
from server.domain.tasks import Task, TaskKind, TaskStatus, utcnow
from tests.conftest import sqlite_or_redis


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    return sqlite_or_redis(
        request,
        lambda: SqliteTaskStore(tmp_path / "tasks.sqlite3"),
        lambda client, prefix: RedisTaskStore(client, prefix=prefix, finished_ttl=60),
    )


def make(store, owner: str, kind: TaskKind, minutes_ago: float, status: TaskStatus = TaskStatus.QUEUED) -> Task:
    task = replace(Task.new(kind, owner), created_at=utcnow() - timedelta(minutes=minutes_ago))
    store.create(task)
    if status is TaskStatus.SUCCEEDED:
        store.start(task.id)
        store.succeed(task.id, {})
    return task


def test_pages_are_newest_first_and_cursors_walk_every_task_once(store):
    mine = [make(store, "alice", TaskKind.STT, minutes_ago=m) for m in range(7)]
    same_instant = [replace(Task.new(TaskKind.TTS, "alice"), created_at=mine[3].created_at) for _ in range(2)]
    for task in same_instant:  # ties on created_at are ordered by id, never lost between pages
        store.create(task)
    make(store, "bob", TaskKind.STT, minutes_ago=0.5)
    seen, after = [], None
    while True:
        page = store.list_owned("alice", TaskQuery(after=after, limit=3))
        if not page:
            break
        seen += page
        after = (page[-1].created_at, page[-1].id)
    assert len(seen) == 9 and len({t.id for t in seen}) == 9
    assert all(t.owner == "alice" for t in seen)
    assert [(t.created_at, t.id) for t in seen] == sorted(((t.created_at, t.id) for t in seen), reverse=True)


def test_filters_by_kind_status_and_creation_time(store):
    make(store, "alice", TaskKind.STT, minutes_ago=30, status=TaskStatus.SUCCEEDED)
    recent = make(store, "alice", TaskKind.STT, minutes_ago=1)
    make(store, "alice", TaskKind.TTS, minutes_ago=2)
    assert [t.kind for t in store.list_owned("alice", TaskQuery(kind=TaskKind.TTS))] == [TaskKind.TTS]
    done = store.list_owned("alice", TaskQuery(status=TaskStatus.SUCCEEDED))
    assert [t.status for t in done] == [TaskStatus.SUCCEEDED]
    since = store.list_owned("alice", TaskQuery(created_after=utcnow() - timedelta(minutes=10), kind=TaskKind.STT))
    assert [t.id for t in since] == [recent.id]
    store.delete(recent.id)
    assert recent.id not in {t.id for t in store.list_owned("alice", TaskQuery())}
