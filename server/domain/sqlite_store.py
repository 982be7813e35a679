"""Task state in SQLite, for the embedded mode: survives a restart of the process."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from server.domain.sqlite_local import ThreadLocalSqlite
from server.domain.task_store import Mutation, TaskQuery, TaskStore, TooManyActive
from server.domain.tasks import Task, TaskStatus

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_status_updated ON tasks (status, updated_at);
-- An expression index, so databases written before it existed need no migration.
CREATE INDEX IF NOT EXISTS tasks_owner_status ON tasks (json_extract(record, '$.owner'), status);
"""


class SqliteTaskStore(TaskStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = ThreadLocalSqlite(path, _SCHEMA)
        # Called with a task id after every committed change: in embedded mode the API's waiters
        # and the workers share this process, so no broker is needed to wake them.
        self.change_listeners: list[Callable[[str], None]] = []

    def _changed(self, task_id: str) -> None:
        for listener in self.change_listeners:
            try:
                listener(task_id)
            except Exception:  # a waiter's bookkeeping must never fail a task's update
                log.exception("task change listener failed")

    def _connect(self) -> sqlite3.Connection:
        return self._db.conn()

    @staticmethod
    def _row(task: Task) -> tuple[str, str, str, str]:
        return task.id, task.status.value, task.updated_at.isoformat(), json.dumps(task.to_record())

    def create(self, task: Task, max_active: int | None = None) -> None:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")  # the write lock spans the count and the insert
        try:
            if max_active is not None:
                active = self.active_count(task.owner)
                if active >= max_active:
                    raise TooManyActive(active, max_active)
            conn.execute("INSERT INTO tasks (id, status, updated_at, record) VALUES (?, ?, ?, ?)", self._row(task))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._changed(task.id)

    def get(self, task_id: str) -> Task | None:
        row = self._connect().execute("SELECT record FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return Task.from_record(json.loads(row[0])) if row else None

    async def aget(self, task_id: str) -> Task | None:
        # On the event loop itself: a primary-key read measured 22 us here against 150-220 us for
        # the same read handed to a worker thread and back, and WAL readers never wait for writers.
        return self.get(task_id)

    def delete(self, task_id: str) -> None:
        self._connect().execute("DELETE FROM tasks WHERE id = ?", (task_id,))

    def ping(self) -> None:
        self._connect().execute("SELECT 1").fetchone()

    def _mutate(self, task_id: str, fn: Mutation) -> Task | None:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock before reading: no lost updates
        try:
            row = conn.execute("SELECT record FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is None:
                conn.execute("COMMIT")
                return None
            task = Task.from_record(json.loads(row[0]))
            changed = fn(task)
            if changed is not None:
                _, status, updated_at, record = self._row(changed)
                conn.execute(
                    "UPDATE tasks SET status = ?, updated_at = ?, record = ? WHERE id = ?",
                    (status, updated_at, record, task_id),
                )
                task = changed
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if changed is not None:
            self._changed(task_id)
        return task

    def active_count(self, owner: str) -> int:
        row = (
            self._connect()
            .execute(
                "SELECT COUNT(*) FROM tasks WHERE json_extract(record, '$.owner') = ? AND status IN (?, ?)",
                (owner, TaskStatus.QUEUED.value, TaskStatus.RUNNING.value),
            )
            .fetchone()
        )
        return int(row[0])

    def list_owned(self, owner: str, query: TaskQuery) -> list[Task]:
        # Filtered in SQL on the owner (indexed) and the newest-first order; the rest of the query is
        # applied to the decoded records, reading in pages until `limit` match.
        sql = (
            "SELECT record FROM tasks WHERE json_extract(record, '$.owner') = ?"
            " AND (json_extract(record, '$.created_at'), id) < (?, ?)"
            " ORDER BY json_extract(record, '$.created_at') DESC, id DESC LIMIT ?"
        )
        after_at, after_id = (query.after[0].isoformat(), query.after[1]) if query.after else ("9999", "")
        found: list[Task] = []
        while len(found) < query.limit:
            rows = self._connect().execute(sql, (owner, after_at, after_id, 200)).fetchall()
            for (record,) in rows:
                task = Task.from_record(json.loads(record))
                after_at, after_id = task.created_at.isoformat(), task.id
                if query.matches(task):
                    found.append(task)
            if len(rows) < 200 or (query.created_after and after_at <= query.created_after.isoformat()):
                break
        return found[: query.limit]

    def find(self, statuses: set[TaskStatus], updated_before: datetime | None = None) -> list[Task]:
        marks = ",".join("?" for _ in statuses)
        query = f"SELECT record FROM tasks WHERE status IN ({marks})"
        args: list[str] = [s.value for s in statuses]
        if updated_before is not None:
            query += " AND updated_at < ?"
            args.append(updated_before.isoformat())
        rows = self._connect().execute(query, args).fetchall()
        tasks = [Task.from_record(json.loads(r[0])) for r in rows]
        return sorted(tasks, key=lambda t: t.created_at)
