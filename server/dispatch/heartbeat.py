"""Distributed workers announce themselves in Redis so /v1/health can say who serves what.

A key per worker with a TTL of three beats: a worker that dies disappears by itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def worker_key(prefix: str, name: str) -> str:
    return f"{prefix}worker:{name}"


def start_heartbeat(
    client,
    prefix: str,
    queues: list[str],
    engines: dict[str, Any],
    interval: float,
    housekeeping: Callable[[], object] | None = None,
) -> threading.Event:
    """Announce this worker every `interval` seconds, and run `housekeeping` (the orphan reaper)
    on the same beat."""
    name = f"{socket.gethostname()}:{threading.get_native_id()}"
    stop = threading.Event()
    payload = json.dumps({"name": name, "queues": queues, "engines": engines, "started_at": time.time()})

    def beat() -> None:
        while not stop.is_set():
            try:
                client.set(worker_key(prefix, name), payload, ex=max(1, int(interval * 3)))
            except Exception as exc:  # Redis down: keep trying, the worker itself keeps working
                log.warning("heartbeat failed: %s", exc)
            if housekeeping is not None:
                try:
                    housekeeping()
                except Exception as exc:
                    log.warning("housekeeping failed: %s", exc)
            stop.wait(interval)
        with contextlib.suppress(Exception):  # best effort: the TTL removes the key anyway
            client.delete(worker_key(prefix, name))

    threading.Thread(target=beat, name="voice-heartbeat", daemon=True).start()
    return stop


def live_workers(client, prefix: str) -> list[dict[str, Any]]:
    workers = []
    for key in client.scan_iter(match=worker_key(prefix, "*"), count=100):
        raw = client.get(key)
        if raw:
            workers.append(json.loads(raw))
    return sorted(workers, key=lambda w: w["name"])
