"""Task state in Redis, for the distributed mode: every API node and worker sees the same tasks.

Each task is one JSON string at `{prefix}task:{id}`; an index sorted set per status lets recovery
and expiry find tasks without SCAN, and a set per owner of its unfinished tasks answers the per-plan
concurrency check without reading every active task. Finished tasks carry a Redis TTL, so state
never grows without bound even if no janitor runs.

Status polls (`aget`) are answered from `read_cache` while the API process's change subscription
keeps it live (task_cache.py); every other read goes to Redis.
"""

from __future__ import annotations

import json
from datetime import datetime

import redis
from redis.client import Pipeline

from server.domain.async_redis import LoopBoundRedis
from server.domain.task_cache import TaskReadCache
from server.domain.task_store import Mutation, TaskQuery, TaskStore, TooManyActive
from server.domain.tasks import Task, TaskStatus


class RedisTaskStore(TaskStore):
    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "voice:",
        finished_ttl: int = 7 * 86400,
        async_redis: LoopBoundRedis | None = None,
        read_cache: TaskReadCache | None = None,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._finished_ttl = finished_ttl
        self._async_redis = async_redis
        # Inert until a change subscription confirms it (RedisTaskEvents): a worker never uses it.
        self.read_cache = read_cache if read_cache is not None else TaskReadCache()

    @property
    def changes_channel(self) -> str:
        """Pub/sub channel that carries the id of every task written, for waiters on any API node."""
        return f"{self._prefix}task-changed"

    def _key(self, task_id: str) -> str:
        return f"{self._prefix}task:{task_id}"

    def _index(self, status: TaskStatus) -> str:
        return f"{self._prefix}tasks:{status.value}"

    def _owned(self, owner: str) -> str:
        return f"{self._prefix}owned:{owner}"  # every task of one owner, scored by creation time

    def _active(self, owner: str) -> str:
        return f"{self._prefix}active:{owner}"

    def _write(self, pipe: Pipeline, task: Task, previous: TaskStatus | None) -> None:
        key = self._key(task.id)
        pipe.set(key, json.dumps(task.to_record()))
        if previous is None:
            pipe.zadd(self._owned(task.owner), {task.id: task.created_at.timestamp()})
        if previous is not None and previous is not task.status:
            pipe.zrem(self._index(previous), task.id)
        pipe.zadd(self._index(task.status), {task.id: task.updated_at.timestamp()})
        if task.status.terminal:
            pipe.expire(key, self._finished_ttl)
            pipe.srem(self._active(task.owner), task.id)
        else:
            pipe.sadd(self._active(task.owner), task.id)
        pipe.publish(self.changes_channel, task.id)  # in the same MULTI: never before the write lands

    def create(self, task: Task, max_active: int | None = None) -> None:
        if max_active is None:
            with self._redis.pipeline() as pipe:
                self._write(pipe, task, None)
                pipe.execute()
            self.read_cache.invalidate(task.id)
            return
        self.active_count(task.owner)  # drops stale members first, outside the transaction below
        active_key = self._active(task.owner)
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    # Any change to the owner's set (another submission, a task finishing) between
                    # this count and EXEC aborts the transaction, and the count is taken again.
                    pipe.watch(active_key)
                    active = pipe.scard(active_key)
                    if active >= max_active:
                        pipe.unwatch()
                        raise TooManyActive(active, max_active)
                    pipe.multi()
                    self._write(pipe, task, None)
                    pipe.execute()
                    self.read_cache.invalidate(task.id)
                    return
                except redis.WatchError:
                    continue

    def get(self, task_id: str) -> Task | None:
        raw = self._redis.get(self._key(task_id))
        return Task.from_record(json.loads(raw)) if raw else None

    async def aget(self, task_id: str) -> Task | None:
        if self._async_redis is None:
            return await super().aget(task_id)
        return await self.read_cache.get(task_id, lambda: self._aread(task_id))

    async def _aread(self, task_id: str) -> Task | None:
        assert self._async_redis is not None
        raw = await self._async_redis.client().get(self._key(task_id))  # awaited: no thread hop
        return Task.from_record(json.loads(raw)) if raw else None

    def delete(self, task_id: str) -> None:
        task = self.get(task_id)
        with self._redis.pipeline() as pipe:
            if task is not None:
                pipe.srem(self._active(task.owner), task_id)
                pipe.zrem(self._owned(task.owner), task_id)
            pipe.delete(self._key(task_id))
            for status in TaskStatus:
                pipe.zrem(self._index(status), task_id)
            pipe.publish(self.changes_channel, task_id)  # other nodes' caches forget it too
            pipe.execute()
        self.read_cache.invalidate(task_id)

    def ping(self) -> None:
        self._redis.ping()

    def _mutate(self, task_id: str, fn: Mutation) -> Task | None:
        key = self._key(task_id)
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)  # optimistic lock: retried if another writer got there first
                    raw = pipe.get(key)
                    if raw is None:
                        pipe.unwatch()
                        return None
                    task = Task.from_record(json.loads(raw))
                    changed = fn(task)
                    if changed is None:
                        pipe.unwatch()
                        return task
                    pipe.multi()
                    self._write(pipe, changed, task.status)
                    pipe.execute()
                    self.read_cache.invalidate(task_id)
                    return changed
                except redis.WatchError:
                    continue

    def active_count(self, owner: str) -> int:
        members = [m.decode() if isinstance(m, bytes) else m for m in self._redis.smembers(self._active(owner))]
        if not members:
            return 0
        # Check each member (one MGET, bounded by the owner's own active tasks): a task removed
        # behind the store's back (FLUSH, manual DEL) must not hold a slot forever.
        records = self._redis.mget([self._key(m) for m in members])
        stale = [m for m, raw in zip(members, records, strict=True) if raw is None or _terminal(raw)]
        if stale:
            self._redis.srem(self._active(owner), *stale)
        return len(members) - len(stale)

    def list_owned(self, owner: str, query: TaskQuery) -> list[Task]:
        index = self._owned(owner)
        upper = f"{query.after[0].timestamp()}" if query.after else "+inf"
        lower = f"({query.created_after.timestamp()}" if query.created_after else "-inf"
        found: list[Task] = []
        offset = 0
        while len(found) < query.limit:
            raw_ids = self._redis.zrevrangebyscore(index, upper, lower, start=offset, num=200)
            ids = [i.decode() if isinstance(i, bytes) else str(i) for i in raw_ids]
            if not ids:
                break
            records = self._redis.mget([self._key(i) for i in ids])
            stale = [i for i, raw in zip(ids, records, strict=True) if raw is None]
            if stale:  # expired by their TTL: the index forgets them too
                self._redis.zrem(index, *stale)
            offset += len(ids) - len(stale)  # removed members no longer count in the offsets
            tasks = [Task.from_record(json.loads(raw)) for raw in records if raw is not None]
            # Scores tie at equal timestamps; the (created_at, id) order is settled here.
            found += [t for t in sorted(tasks, key=lambda t: (t.created_at, t.id), reverse=True) if query.matches(t)]
        found.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return found[: query.limit]

    def find(self, statuses: set[TaskStatus], updated_before: datetime | None = None) -> list[Task]:
        upper = updated_before.timestamp() if updated_before else "+inf"
        tasks: list[Task] = []
        for status in statuses:
            for member in self._redis.zrangebyscore(self._index(status), "-inf", upper):
                task_id = member.decode() if isinstance(member, bytes) else str(member)
                task = self.get(task_id)
                if task is None:  # expired by Redis TTL: drop the stale index entry
                    self._redis.zrem(self._index(status), task_id)
                elif task.status is status:
                    tasks.append(task)
        return sorted(tasks, key=lambda t: t.created_at)


def _terminal(raw: bytes | str) -> bool:
    return TaskStatus(json.loads(raw)["status"]).terminal
