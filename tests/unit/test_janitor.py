from __future__ import annotations

import os
import time
from datetime import timedelta

from server.domain.artifacts import ArtifactStore
from server.domain.sqlite_store import SqliteTaskStore
from server.domain.tasks import Task, TaskKind, utcnow
from server.services.janitor import ORPHAN_GRACE_S, sweep


def finished_task(store, artifacts, age_hours: float) -> Task:
    task = Task.new(TaskKind.TTS, "alice")
    store.create(task)
    artifacts.write_bytes(task.id, "audio.mp3", b"x")
    store.start(task.id)
    store.succeed(task.id, {"duration": 1.0})
    old = (utcnow() - timedelta(hours=age_hours)).isoformat()
    store._mutate(task.id, lambda t: Task.from_record({**t.to_record(), "updated_at": old}))
    return task


def test_expired_tasks_and_orphans_go_fresh_ones_stay(tmp_path):
    store, artifacts = SqliteTaskStore(tmp_path / "t.sqlite3"), ArtifactStore(tmp_path / "artifacts")
    expired = finished_task(store, artifacts, age_hours=3)
    fresh = finished_task(store, artifacts, age_hours=0.5)
    running = Task.new(TaskKind.STT, "bob")
    store.create(running)
    store.start(running.id)
    artifacts.write_bytes(running.id, "input", b"x")
    orphan_old, orphan_new = "a" * 32, "b" * 32  # staged files whose task record never got written
    for orphan in (orphan_old, orphan_new):
        artifacts.write_bytes(orphan, "input", b"x")
    stale = time.time() - ORPHAN_GRACE_S - 10
    os.utime(artifacts.task_dir(orphan_old), (stale, stale))

    assert sweep(store, artifacts, ttl_seconds=2 * 3600) == 2
    assert store.get(expired.id) is None and not artifacts.task_dir(expired.id).exists()
    assert store.get(fresh.id) and artifacts.exists(fresh.id, "audio.mp3")
    assert store.get(running.id) and artifacts.exists(running.id, "input")  # running tasks are never swept
    assert not artifacts.task_dir(orphan_old).exists() and artifacts.task_dir(orphan_new).exists()
