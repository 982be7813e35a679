"""Deletes finished tasks and their artifacts once their time to live has passed."""

from __future__ import annotations

import logging
import time

from server.domain.artifacts import ArtifactStore
from server.domain.task_store import TaskStore

log = logging.getLogger(__name__)

ORPHAN_GRACE_S = 3600  # an artifact dir without a task record: a crash between staging and create


def sweep(store: TaskStore, artifacts: ArtifactStore, ttl_seconds: float) -> int:
    removed = 0
    for task in store.expired(ttl_seconds):
        artifacts.remove_task(task.id)
        store.delete(task.id)
        removed += 1
    now = time.time()
    for task_id in list(artifacts.task_ids()):
        directory = artifacts.task_dir(task_id)
        if store.get(task_id) is None and now - directory.stat().st_mtime > max(ORPHAN_GRACE_S, 0):
            artifacts.remove_task(task_id)
            removed += 1
    if removed:
        log.info("janitor removed %d expired task(s)/artifact dir(s)", removed)
    return removed
