"""Idempotent submissions: a retried request (same Idempotency-Key, same body) returns the first
task instead of creating and charging a second one."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread

from server.domain.errors import BadRequest, Conflict, InvalidRequest
from server.domain.idempotency import Claim, IdempotencyStore
from server.domain.tasks import Task, TaskKind
from server.services.tasks import TaskService

MAX_KEY_LENGTH = 255
# How long a duplicate waits for the first submission (still staging or recording) to create its task.
WAIT_FOR_FIRST_S = 30.0


def fingerprint(kind: TaskKind, params: dict[str, Any], content_sha256: str) -> str:
    """What makes two submissions "the same request": kind, options and the uploaded bytes (or text)."""
    canonical = json.dumps([kind.value, params, content_sha256], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters", code="invalid_idempotency_key"
        )
    return key


class Idempotency:
    def __init__(self, store: IdempotencyStore, tasks: TaskService) -> None:
        self._store = store
        self._tasks = tasks

    @contextlib.asynccontextmanager
    async def claimed(self, owner: str, key: str | None, wanted: Claim) -> AsyncIterator[Task | None]:
        """Yields None when this submission should go ahead (its claim is released if it then fails),
        or the task an identical earlier submission created."""
        if key is None:
            yield None
            return
        check_key(key)
        deadline = time.monotonic() + WAIT_FOR_FIRST_S
        while True:
            claim = await to_thread.run_sync(self._store.claim, owner, key, wanted)
            if claim == wanted:
                break
            if claim.fingerprint != wanted.fingerprint:
                raise InvalidRequest(
                    "this Idempotency-Key was used in the last 24 h for a different request; use a new key",
                    code="idempotency_key_reused",
                )
            existing = await self._first_task(owner, key, claim, deadline)
            if existing is not None:
                yield existing
                return
            # the first submission failed and released its claim: this one may take it now
        try:
            yield None
        except BaseException:
            await to_thread.run_sync(self._store.release, owner, key, wanted)
            raise

    async def _first_task(self, owner: str, key: str, claim: Claim, deadline: float) -> Task | None:
        while time.monotonic() < deadline:
            task = await to_thread.run_sync(self._tasks.store.get, claim.task_id)
            if task is not None and task.owner == owner:
                return task
            if await to_thread.run_sync(self._store.current, owner, key) != claim:
                return None
            await asyncio.sleep(0.05)
        raise Conflict(
            "an identical request with this Idempotency-Key is still being submitted; retry shortly",
            code="idempotency_key_in_use",
        )
