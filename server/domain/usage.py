"""How often each voice model was used in TTS (the catalog's `task_count` and popularity sort)."""

from __future__ import annotations

import abc
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from server.domain.sqlite_local import ThreadLocalSqlite

if TYPE_CHECKING:
    from redis import Redis

_SCHEMA = "CREATE TABLE IF NOT EXISTS voice_usage (model_id TEXT PRIMARY KEY, uses INTEGER NOT NULL);"


class UsageCounter(abc.ABC):
    @abc.abstractmethod
    def add(self, model_ids: list[str]) -> None: ...

    @abc.abstractmethod
    def counts(self) -> dict[str, int]: ...


class SqliteUsageCounter(UsageCounter):
    def __init__(self, path: Path) -> None:
        self._db = ThreadLocalSqlite(path, _SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        return self._db.conn()

    def add(self, model_ids: list[str]) -> None:
        for model_id in set(model_ids):
            self._conn().execute(
                "INSERT INTO voice_usage VALUES (?, 1) ON CONFLICT(model_id) DO UPDATE SET uses = uses + 1",
                (model_id,),
            )

    def counts(self) -> dict[str, int]:
        return dict(self._conn().execute("SELECT model_id, uses FROM voice_usage").fetchall())


class RedisUsageCounter(UsageCounter):
    def __init__(self, client: Redis, prefix: str) -> None:
        self._redis = client
        self._key = f"{prefix}voice_usage"

    def add(self, model_ids: list[str]) -> None:
        with self._redis.pipeline() as pipe:
            for model_id in set(model_ids):
                pipe.hincrby(self._key, model_id, 1)
            pipe.execute()

    def counts(self) -> dict[str, int]:
        return {_text(k): int(v) for k, v in self._redis.hgetall(self._key).items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
