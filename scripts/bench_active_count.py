"""Cost of the per-plan concurrency check (TaskStore.active_count), run on every submission from a
plan with max_concurrent_tasks: many queued tasks from many owners, one owner's count.

Compares the per-owner index each store keeps with scanning every active task (what the check did
before the index). Uses the real Redis at --redis-url (a throwaway key prefix, removed afterwards)
and a SQLite file in a temporary folder.

Usage (from the repository root): .venv/bin/python -m scripts.bench_active_count [--tasks 5000] [--owners 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import redis

from server.domain.redis_store import RedisTaskStore
from server.domain.sqlite_store import SqliteTaskStore
from server.domain.task_store import TaskStore
from server.domain.tasks import Task, TaskKind, TaskStatus


def scan_all_active(store: TaskStore, owner: str) -> int:
    return sum(1 for task in store.find({TaskStatus.QUEUED, TaskStatus.RUNNING}) if task.owner == owner)


def per_call_ms(fn, owner: str, repeats: int) -> tuple[float, int]:
    started = time.perf_counter()
    for _ in range(repeats):
        count = fn(owner)
    return (time.perf_counter() - started) / repeats * 1000, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()

    client = redis.Redis.from_url(args.redis_url)
    prefix = f"bench-active-{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory() as tmp:
        stores = {"redis": RedisTaskStore(client, prefix=prefix), "sqlite": SqliteTaskStore(Path(tmp) / "tasks.db")}
        try:
            print(f"{args.tasks} queued tasks from {args.owners} owners; one owner's count, ms per call")
            for name, store in stores.items():
                for i in range(args.tasks):
                    store.create(Task.new(TaskKind.TTS, f"owner{i % args.owners}"))
                scan, _ = per_call_ms(lambda owner, s=store: scan_all_active(s, owner), "owner7", args.repeats)
                index, count = per_call_ms(store.active_count, "owner7", args.repeats)
                print(f"  {name:6s}  scan all active: {scan:8.2f}   per-owner index: {index:6.2f}   (count {count})")
        finally:
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)


if __name__ == "__main__":
    main()
