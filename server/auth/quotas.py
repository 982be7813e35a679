"""Monthly usage counters with limits: TTS characters, STT seconds, clones, per owner and UTC month.

`consume` checks and increments in one atomic step, and a refused request increments nothing, so
concurrent requests cannot together overshoot a quota. Counters are keyed by the UTC year-month;
a new month simply starts new counters.
"""

from __future__ import annotations

import abc
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from server.domain.sqlite_local import ThreadLocalSqlite
from server.domain.tasks import utcnow

if TYPE_CHECKING:
    import redis

    from server.settings import Settings

METRICS = ("tts_characters", "stt_seconds", "clones")


def month_of(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m")


class QuotaStore(abc.ABC):
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock

    def consume(self, owner: str, metric: str, amount: int, limit: int | None) -> tuple[bool, int]:
        """Add `amount` unless that would pass `limit` (None: unlimited, still counted).
        Returns (allowed, used this month afterwards); a refused call leaves `used` unchanged."""
        amount = self._check(metric, amount)
        return self._consume(owner, month_of(self._clock()), metric, amount, -1 if limit is None else limit)

    def refund(self, owner: str, metric: str, amount: int) -> int:
        """Give back usage for work that did not happen (a failed task); never below zero."""
        amount = self._check(metric, amount)
        return self._refund(owner, month_of(self._clock()), metric, amount)

    def usage(self, owner: str, month: str | None = None) -> dict[str, int]:
        """Every metric's count for `month` (YYYY-MM, default this UTC month), zeros included."""
        return {metric: 0 for metric in METRICS} | self._usage(owner, month or month_of(self._clock()))

    @staticmethod
    def _check(metric: str, amount: int) -> int:
        if metric not in METRICS:
            raise ValueError(f"unknown quota metric {metric!r}; one of {METRICS}")
        if amount < 0 or int(amount) != amount:
            raise ValueError(f"amount must be a whole number >= 0, got {amount!r}")
        return int(amount)  # 3.0 from a duration computation is fine; Redis HINCRBY wants "3"

    @abc.abstractmethod
    def _consume(self, owner: str, month: str, metric: str, amount: int, limit: int) -> tuple[bool, int]:
        """`limit` < 0 means unlimited."""

    @abc.abstractmethod
    def _refund(self, owner: str, month: str, metric: str, amount: int) -> int: ...

    @abc.abstractmethod
    def _usage(self, owner: str, month: str) -> dict[str, int]: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_usage (
    owner TEXT NOT NULL,
    month TEXT NOT NULL,
    metric TEXT NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (owner, month, metric)
) WITHOUT ROWID;
"""


class SqliteQuotaStore(QuotaStore):
    def __init__(self, path: Path, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(clock)
        self.path = path
        self._db = ThreadLocalSqlite(path, _SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return self._db.conn()

    def _read_modify_write(
        self, owner: str, month: str, metric: str, fn: Callable[[int], int | None]
    ) -> tuple[int, int | None]:
        """(count before, count written or None when `fn` declined)."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")  # the write lock before the read: no two requests see the same count
        try:
            row = conn.execute(
                "SELECT used FROM quota_usage WHERE owner = ? AND month = ? AND metric = ?", (owner, month, metric)
            ).fetchone()
            new = fn(row[0] if row else 0)
            if new is not None:
                conn.execute(
                    "INSERT INTO quota_usage (owner, month, metric, used) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (owner, month, metric) DO UPDATE SET used = excluded.used",
                    (owner, month, metric, new),
                )
            conn.execute("COMMIT")
            return (row[0] if row else 0), new
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _consume(self, owner: str, month: str, metric: str, amount: int, limit: int) -> tuple[bool, int]:
        before, new = self._read_modify_write(
            owner, month, metric, lambda used: None if 0 <= limit < used + amount else used + amount
        )
        return (False, before) if new is None else (True, new)

    def _refund(self, owner: str, month: str, metric: str, amount: int) -> int:
        _, written = self._read_modify_write(owner, month, metric, lambda used: max(0, used - amount))
        assert written is not None  # the refund function always writes
        return written

    def _usage(self, owner: str, month: str) -> dict[str, int]:
        rows = (
            self._connect()
            .execute("SELECT metric, used FROM quota_usage WHERE owner = ? AND month = ?", (owner, month))
            .fetchall()
        )
        return dict(rows)


# Usage stays readable for about a year after its month, for reports; then Redis drops it.
_KEEP_S = 400 * 86400

_CONSUME_LUA = """
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1])) or 0
local amount, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
if limit >= 0 and used + amount > limit then return {0, used} end
used = redis.call('HINCRBY', KEYS[1], ARGV[1], amount)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, used}
"""

_REFUND_LUA = """
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1])) or 0
local left = math.max(0, used - tonumber(ARGV[2]))
if left ~= used then redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', left)) end
return left
"""


class RedisQuotaStore(QuotaStore):
    """One hash per owner and month at `{prefix}quota:{month}:{owner}`, a field per metric."""

    def __init__(self, client: redis.Redis, prefix: str = "voice:", clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(clock)
        self._redis = client
        self._prefix = prefix
        self._consume_script = client.register_script(_CONSUME_LUA)
        self._refund_script = client.register_script(_REFUND_LUA)

    def _key(self, owner: str, month: str) -> str:
        return f"{self._prefix}quota:{month}:{owner}"

    def _consume(self, owner: str, month: str, metric: str, amount: int, limit: int) -> tuple[bool, int]:
        allowed, used = self._consume_script(keys=[self._key(owner, month)], args=[metric, amount, limit, _KEEP_S])
        return bool(allowed), int(used)

    def _refund(self, owner: str, month: str, metric: str, amount: int) -> int:
        return int(self._refund_script(keys=[self._key(owner, month)], args=[metric, amount]))

    def _usage(self, owner: str, month: str) -> dict[str, int]:
        raw = self._redis.hgetall(self._key(owner, month))
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}


def open_quota_store(settings: Settings) -> QuotaStore:
    """Redis when the server runs distributed, else SQLite at `<data_dir>/usage.sqlite3`."""
    if settings.redis_url:
        from server.domain.factory import redis_client

        return RedisQuotaStore(redis_client(settings.redis_url), prefix=settings.redis_prefix)
    return SqliteQuotaStore(settings.storage.data_dir / "usage.sqlite3")
