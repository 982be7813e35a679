"""API keys: random secrets shown once, stored only as a hash, in SQLite (embedded) or Redis (distributed).

Keys have 256 bits of entropy, so a plain SHA-256 is enough: a slow KDF only helps against guessing
low-entropy passwords, and it would cost every request. The hash doubles as the lookup index.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from server.domain.sqlite_local import ThreadLocalSqlite
from server.domain.tasks import utcnow

if TYPE_CHECKING:
    import redis
    from redis.typing import EncodableT, FieldT

    from server.settings import Settings

KEY_PREFIX = "va_"
# last_used_at is informative; writing it on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Changes that can make a cached verification wrong; each one bumps the store's generation.
_INVALIDATING = ("plan", "revoked_at")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,256}")  # RFC 6750 b64token, bounded
_BEARER = re.compile(r"bearer +(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    owner: str
    plan: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def extract_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`; None if absent or malformed.

    Other Authorization schemes (Basic from a proxy) are ignored. Two different keys in one request
    are refused rather than guessed between.
    """
    found: set[str] = set()
    for name, value in headers.items():
        name, value = name.lower(), value.strip()
        if name == "authorization" and value.lower().startswith("bearer"):
            match = _BEARER.fullmatch(value)
            value = match.group(1) if match else ""
        elif name != "x-api-key":
            continue
        if not _TOKEN.fullmatch(value):
            return None
        found.add(value)
    return found.pop() if len(found) == 1 else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _stored(value: object) -> str:
    """A field as both stores keep it: datetimes as ISO 8601 text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _s(value):
    return value.decode() if isinstance(value, bytes) else value  # clients may or may not decode


def _dt(value: str | bytes | None) -> datetime | None:
    return datetime.fromisoformat(_s(value)) if value else None


_FIELDS = ("key_id", "owner", "plan", "created_at", "last_used_at", "revoked_at")


def _from_values(values) -> ApiKey:
    """An ApiKey from stored values in _FIELDS order (a SQLite row, or a Redis hash's fields)."""
    return ApiKey(*map(_s, values[:3]), *map(_dt, values[3:6]))


class KeyStore(abc.ABC):
    """Also keeps a generation: a counter that every revocation and plan change bumps in the same
    atomic step, so caches of verified keys (server/auth/key_cache.py) on any node can tell cheaply
    that they must forget what they know. Listeners registered with `on_change` hear of changes
    made through this very object at once, so the node that revokes never waits for its next check."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def create(self, owner: str, plan: str) -> tuple[ApiKey, str]:
        """A new key; the plaintext is returned here and never again."""
        if not owner.strip():
            raise ValueError("owner must not be empty")
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(key_id=secrets.token_hex(8), owner=owner, plan=plan, created_at=self._clock())
        self._insert(key, hash_key(plaintext))
        return key, plaintext

    def authenticate(self, plaintext: str) -> ApiKey | None:
        """The active key for this secret, or None. The store never caches: a revocation is felt at once
        here, and server/auth/key_cache.py bounds how long a cached verification may outlive one."""
        if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > 256:
            return None
        digest = hash_key(plaintext)
        found = self._by_hash(digest)
        if found is None:
            return None
        key, stored = found
        if not hmac.compare_digest(stored, digest) or not key.active:
            return None
        now = self._clock()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            self._update(key.key_id, last_used_at=now)
            key = replace(key, last_used_at=now)
        return key

    def revoke(self, key_id: str) -> bool:
        """True if the key existed and was active; revoked keys stay listed for audit."""
        return self._changed(self._update(key_id, revoked_at=self._clock()))

    def set_plan(self, key_id: str, plan: str) -> bool:
        return self._changed(self._update(key_id, plan=plan))

    def _changed(self, changed: bool) -> bool:
        if changed:
            for listener in self._listeners:
                listener()
        return changed

    def count(self) -> int:
        """Active (unrevoked) keys."""
        return sum(1 for key in self.list() if key.active)

    @abc.abstractmethod
    def generation(self) -> int:
        """How many revocations and plan changes this store has seen; only ever grows."""

    @abc.abstractmethod
    def get(self, key_id: str) -> ApiKey | None: ...

    @abc.abstractmethod
    def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""

    @abc.abstractmethod
    def _insert(self, key: ApiKey, key_hash: str) -> None: ...

    @abc.abstractmethod
    def _by_hash(self, key_hash: str) -> tuple[ApiKey, str] | None: ...

    @abc.abstractmethod
    def _update(self, key_id: str, **fields: str | datetime) -> bool:
        """Set one of plan, revoked_at, last_used_at on an active key; False if there is none.
        Setting plan or revoked_at bumps the generation in the same atomic step."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS api_key_generation (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO api_key_generation (id, value) VALUES (0, 0);
"""
_COLUMNS = ", ".join(_FIELDS)


class SqliteKeyStore(KeyStore):
    def __init__(self, path: Path, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(clock)
        self.path = path
        self._db = ThreadLocalSqlite(path, _SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return self._db.conn()

    def _sql(self, query: str, *args: object) -> sqlite3.Cursor:
        return self._connect().execute(query, args)

    def _insert(self, key: ApiKey, key_hash: str) -> None:
        self._sql(
            f"INSERT INTO api_keys (key_hash, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL)",
            *(key_hash, key.key_id, key.owner, key.plan, _iso(key.created_at)),
        )

    def _by_hash(self, key_hash: str) -> tuple[ApiKey, str] | None:
        row = self._sql(f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_hash = ?", key_hash).fetchone()
        return (_from_values(row), row[6]) if row else None

    def _update(self, key_id: str, **fields: str | datetime) -> bool:
        ((name, value),) = fields.items()
        if name not in ("plan", "revoked_at", "last_used_at"):  # a column name goes into the SQL text
            raise ValueError(name)
        value = _stored(value)
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")  # the change and the generation bump commit together
        try:
            cur = conn.execute(
                f"UPDATE api_keys SET {name} = ? WHERE key_id = ? AND revoked_at IS NULL", (value, key_id)
            )
            changed = cur.rowcount == 1
            if changed and name in _INVALIDATING:
                conn.execute("UPDATE api_key_generation SET value = value + 1 WHERE id = 0")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changed

    def generation(self) -> int:
        return self._sql("SELECT value FROM api_key_generation WHERE id = 0").fetchone()[0]

    def get(self, key_id: str) -> ApiKey | None:
        row = self._sql(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", key_id).fetchone()
        return _from_values(row) if row else None

    def list(self) -> list[ApiKey]:
        rows = self._sql(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, key_id").fetchall()
        return [_from_values(r) for r in rows]

    def count(self) -> int:
        return self._sql("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[0]


# Changes a field only while the key is active, so a set-plan racing a revoke cannot revive it;
# a change that invalidates cached verifications (ARGV[3] = '1') bumps the generation KEYS[2] with it.
_UPDATE_ACTIVE = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'revoked_at') == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '1' then redis.call('INCR', KEYS[2]) end
return 1
"""


class RedisKeyStore(KeyStore):
    """One hash per key at `{prefix}apikey:{hash}` (authenticating is one HGETALL), an index
    `{prefix}apikey-id:{key_id}` -> hash for management, the set `{prefix}apikeys` of hashes, and
    the counter `{prefix}apikeys:generation`."""

    def __init__(self, client: redis.Redis, prefix: str = "voice:", clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(clock)
        self._redis = client
        self._prefix = prefix
        self._update_active = client.register_script(_UPDATE_ACTIVE)

    def _record(self, key_hash: str) -> str:
        return f"{self._prefix}apikey:{key_hash}"

    @property
    def generation_key(self) -> str:
        return f"{self._prefix}apikeys:generation"

    def generation(self) -> int:
        return int(self._redis.get(self.generation_key) or 0)

    def _hash_of(self, key_id: str) -> str | None:
        return _s(self._redis.get(f"{self._prefix}apikey-id:{key_id}"))

    @staticmethod
    def _key(raw: Mapping) -> ApiKey:
        record = {_s(k): v for k, v in raw.items()}
        return _from_values([record.get(field) for field in _FIELDS])

    def _insert(self, key: ApiKey, key_hash: str) -> None:
        record: dict[FieldT, EncodableT] = {f: _stored(v) for f, v in asdict(key).items() if v is not None}
        with self._redis.pipeline() as pipe:  # MULTI: a key is never half-created
            pipe.hset(self._record(key_hash), mapping=record | {"key_hash": key_hash})
            pipe.set(f"{self._prefix}apikey-id:{key.key_id}", key_hash)
            pipe.sadd(f"{self._prefix}apikeys", key_hash)
            pipe.execute()

    def _by_hash(self, key_hash: str) -> tuple[ApiKey, str] | None:
        raw = self._redis.hgetall(self._record(key_hash))
        return (self._key(raw), _s(raw.get(b"key_hash", raw.get("key_hash")))) if raw else None

    def _update(self, key_id: str, **fields: str | datetime) -> bool:
        ((name, field_value),) = fields.items()
        key_hash = self._hash_of(key_id)
        value = _stored(field_value)
        keys = [self._record(key_hash), self.generation_key] if key_hash else []
        return bool(key_hash and self._update_active(keys=keys, args=[name, value, int(name in _INVALIDATING)]))

    def get(self, key_id: str) -> ApiKey | None:
        key_hash = self._hash_of(key_id)
        raw = self._redis.hgetall(self._record(key_hash)) if key_hash else None
        return self._key(raw) if raw else None

    def list(self) -> list[ApiKey]:
        with self._redis.pipeline(transaction=False) as pipe:
            for key_hash in self._redis.smembers(f"{self._prefix}apikeys"):
                pipe.hgetall(self._record(_s(key_hash)))
            keys = [self._key(raw) for raw in pipe.execute() if raw]
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))


def open_key_store(settings: Settings) -> KeyStore:
    """Redis when the server runs distributed, else SQLite at `<data_dir>/keys.sqlite3`."""
    if settings.redis_url:
        from server.domain.factory import redis_client

        return RedisKeyStore(redis_client(settings.redis_url), prefix=settings.redis_prefix)
    return SqliteKeyStore(settings.storage.data_dir / "keys.sqlite3")
