"""Webhook deliveries that are due: durable, so a delivery survives a worker's restart.

Each entry is a task id with the time its next attempt is due. A deliverer claims due entries by
pushing their due time a lease ahead (not by removing them): if it dies mid-delivery, the entry comes
due again and another deliverer sends it (at least once; the webhook-id lets receivers deduplicate).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from server.domain.sqlite_local import ThreadLocalSqlite

if TYPE_CHECKING:
    from redis import Redis

_SCHEMA = "CREATE TABLE IF NOT EXISTS webhooks_due (task_id TEXT PRIMARY KEY, due REAL NOT NULL);"


class WebhookQueue(Protocol):
    def schedule(self, task_id: str, delay_s: float = 0.0) -> None: ...

    def claim_due(self, lease_s: float, limit: int = 20) -> list[str]: ...

    def done(self, task_id: str) -> None: ...


class SqliteWebhookQueue:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._db = ThreadLocalSqlite(path, _SCHEMA)
        self._clock = clock

    def schedule(self, task_id: str, delay_s: float = 0.0) -> None:
        self._db.conn().execute("INSERT OR REPLACE INTO webhooks_due VALUES (?, ?)", (task_id, self._clock() + delay_s))

    def claim_due(self, lease_s: float, limit: int = 20) -> list[str]:
        conn, now = self._db.conn(), self._clock()
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute("SELECT task_id FROM webhooks_due WHERE due <= ? LIMIT ?", (now, limit)).fetchall()
            ids = [r[0] for r in rows]
            conn.executemany("UPDATE webhooks_due SET due = ? WHERE task_id = ?", [(now + lease_s, i) for i in ids])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return ids

    def done(self, task_id: str) -> None:
        self._db.conn().execute("DELETE FROM webhooks_due WHERE task_id = ?", (task_id,))


class RedisWebhookQueue:
    # Claim atomically: entries due now get their score pushed a lease ahead in the same script.
    _CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""

    def __init__(self, client: Redis, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._key = f"{prefix}webhooks-due"
        self._clock = clock

    def schedule(self, task_id: str, delay_s: float = 0.0) -> None:
        self._redis.zadd(self._key, {task_id: self._clock() + delay_s})

    def claim_due(self, lease_s: float, limit: int = 20) -> list[str]:
        now = self._clock()
        ids = self._redis.eval(self._CLAIM, 1, self._key, now, now + lease_s, limit)
        return [i.decode() if isinstance(i, bytes) else i for i in ids]

    def done(self, task_id: str) -> None:
        self._redis.zrem(self._key, task_id)
