"""Idempotency keys: the same key and the same request from one owner within a day is one task.

A submission first claims (owner, key) with its request's fingerprint and the task id it is about to
create, atomically (SQLite: an INSERT on the primary key; Redis: SET NX with a 24 h expiry), so two
identical submissions racing on any number of API nodes create one task. The loser is told whose
claim it met; a claim whose submission failed is released, so a retry can succeed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from server.domain.sqlite_local import ThreadLocalSqlite

if TYPE_CHECKING:
    from redis import Redis

TTL_S = 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (owner, key)
);
"""


@dataclass(frozen=True)
class Claim:
    fingerprint: str
    task_id: str


class IdempotencyStore(Protocol):
    def claim(self, owner: str, key: str, wanted: Claim) -> Claim: ...

    def release(self, owner: str, key: str, claim: Claim) -> None: ...

    def current(self, owner: str, key: str) -> Claim | None: ...


class SqliteIdempotencyStore:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._db = ThreadLocalSqlite(path, _SCHEMA)
        self._clock = clock

    def claim(self, owner: str, key: str, wanted: Claim) -> Claim:
        """The claim on (owner, key) after this call: `wanted` if it was free (or expired)."""
        conn = self._db.conn()
        now = self._clock()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "DELETE FROM idempotency WHERE owner = ? AND key = ? AND created < ?", (owner, key, now - TTL_S)
            )
            conn.execute(
                "INSERT OR IGNORE INTO idempotency VALUES (?, ?, ?, ?, ?)",
                (owner, key, wanted.fingerprint, wanted.task_id, now),
            )
            row = conn.execute(
                "SELECT fingerprint, task_id FROM idempotency WHERE owner = ? AND key = ?", (owner, key)
            ).fetchone()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return Claim(*row)

    def release(self, owner: str, key: str, claim: Claim) -> None:
        self._db.conn().execute(
            "DELETE FROM idempotency WHERE owner = ? AND key = ? AND task_id = ?", (owner, key, claim.task_id)
        )

    def current(self, owner: str, key: str) -> Claim | None:
        row = (
            self._db.conn()
            .execute(
                "SELECT fingerprint, task_id FROM idempotency WHERE owner = ? AND key = ? AND created >= ?",
                (owner, key, self._clock() - TTL_S),
            )
            .fetchone()
        )
        return Claim(*row) if row else None


class RedisIdempotencyStore:
    # Deletes the claim only if it is still ours (a later claim after expiry must survive).
    _RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

    def __init__(self, client: Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def _key(self, owner: str, key: str) -> str:
        return f"{self._prefix}idem:{owner}:{key}"

    def claim(self, owner: str, key: str, wanted: Claim) -> Claim:
        value = json.dumps([wanted.fingerprint, wanted.task_id])
        redis_key = self._key(owner, key)
        if self._redis.set(redis_key, value, nx=True, ex=TTL_S):
            return wanted
        current = self.current(owner, key)
        return current if current is not None else self.claim(owner, key, wanted)  # expired in between

    def release(self, owner: str, key: str, claim: Claim) -> None:
        self._redis.eval(self._RELEASE, 1, self._key(owner, key), json.dumps([claim.fingerprint, claim.task_id]))

    def current(self, owner: str, key: str) -> Claim | None:
        raw = self._redis.get(self._key(owner, key))
        return Claim(*json.loads(raw)) if raw else None
