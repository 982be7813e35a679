"""Per-key webhook settings: the signing secret (Standard Webhooks: `whsec_` + base64 of 24 random
bytes) and an optional default callback URL, used by submissions that name none.

Unlike API keys, these cannot be stored hashed: the worker needs the secret itself to sign each
delivery. They live beside the keys (SQLite in embedded mode, a Redis hash in distributed mode),
are shown once when made, and rotating one replaces it at once.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from server.domain.sqlite_local import ThreadLocalSqlite
from server.settings import Settings

if TYPE_CHECKING:
    from redis import Redis

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_secrets (key_id TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_defaults (key_id TEXT PRIMARY KEY, url TEXT NOT NULL);
"""


class WebhookSecrets(Protocol):
    def rotate(self, key_id: str) -> str: ...

    def get(self, key_id: str) -> str | None: ...

    def set_default_url(self, key_id: str, url: str | None) -> None: ...

    def default_url(self, key_id: str) -> str | None: ...


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class SqliteWebhookSecrets:
    def __init__(self, path: Path) -> None:
        self._db = ThreadLocalSqlite(path, _SCHEMA)

    def rotate(self, key_id: str) -> str:
        secret = new_secret()
        self._db.conn().execute("INSERT OR REPLACE INTO webhook_secrets VALUES (?, ?)", (key_id, secret))
        return secret

    def get(self, key_id: str) -> str | None:
        row = self._db.conn().execute("SELECT secret FROM webhook_secrets WHERE key_id = ?", (key_id,)).fetchone()
        return row[0] if row else None

    def set_default_url(self, key_id: str, url: str | None) -> None:
        conn = self._db.conn()
        if url is None:
            conn.execute("DELETE FROM webhook_defaults WHERE key_id = ?", (key_id,))
        else:
            conn.execute("INSERT OR REPLACE INTO webhook_defaults VALUES (?, ?)", (key_id, url))

    def default_url(self, key_id: str) -> str | None:
        row = self._db.conn().execute("SELECT url FROM webhook_defaults WHERE key_id = ?", (key_id,)).fetchone()
        return row[0] if row else None


class RedisWebhookSecrets:
    def __init__(self, client: Redis, prefix: str) -> None:
        self._redis = client
        self._key = f"{prefix}webhook-secrets"
        self._defaults = f"{prefix}webhook-defaults"

    def rotate(self, key_id: str) -> str:
        secret = new_secret()
        self._redis.hset(self._key, key_id, secret)
        return secret

    def get(self, key_id: str) -> str | None:
        raw = self._redis.hget(self._key, key_id)
        return raw.decode() if isinstance(raw, bytes) else None if raw is None else str(raw)

    def set_default_url(self, key_id: str, url: str | None) -> None:
        if url is None:
            self._redis.hdel(self._defaults, key_id)
        else:
            self._redis.hset(self._defaults, key_id, url)

    def default_url(self, key_id: str) -> str | None:
        raw = self._redis.hget(self._defaults, key_id)
        return raw.decode() if isinstance(raw, bytes) else None if raw is None else str(raw)


def open_webhook_secrets(settings: Settings) -> WebhookSecrets:
    if settings.redis_url:
        from server.domain.factory import redis_client

        return RedisWebhookSecrets(redis_client(settings.redis_url), settings.redis_prefix)
    return SqliteWebhookSecrets(settings.storage.sqlite_path)
