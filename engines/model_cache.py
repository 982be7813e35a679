"""A per-process cache of loaded models: load on first use, share across tasks, drop after idle.

One lock per key, so two tasks that need the same model load it once, while tasks that need
different models do not wait on each other (no global lock). Modelled on speaches'
SelfDisposingModel, without its background timer: idle models are evicted whenever the cache is
touched or `evict_idle()` is called by the worker's housekeeping.

With a memory budget, each model declares its size (its weights on disk are a good estimate of its
resident size), least-recently-used models are evicted before a new one loads, and a model that
can never fit is refused with ModelTooLarge, so the task fails clearly instead of the worker
running out of (GPU) memory.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from engines.types import EngineError

log = logging.getLogger(__name__)


class ModelTooLarge(EngineError):
    code = "insufficient_memory"


@dataclass
class _Entry:
    model: Any
    last_used: float
    size: int = 0


class ModelCache:
    def __init__(
        self, idle_ttl: float = 600.0, clock: Callable[[], float] = time.monotonic, budget_bytes: int | None = None
    ) -> None:
        self._idle_ttl = idle_ttl
        self._budget = budget_bytes
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the two dicts only, never held while loading

    def _key_lock(self, key: Hashable) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, key: Hashable, loader: Callable[[], Any], size_bytes: int = 0) -> Any:
        """Return the model for `key`, calling `loader()` once if it is not resident."""
        self.evict_idle()
        with self._key_lock(key):
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.last_used = self._clock()
                    return entry.model
            self._make_room(key, size_bytes)
            started = time.perf_counter()
            model = loader()
            log.info("loaded model %s in %.2fs", key, time.perf_counter() - started)
            with self._lock:
                self._entries[key] = _Entry(model=model, last_used=self._clock(), size=size_bytes)
            return model

    def _make_room(self, key: Hashable, size: int) -> None:
        if self._budget is None:
            return
        if size > self._budget:
            raise ModelTooLarge(
                f"model {key} needs about {size / 2**20:.0f} MiB; this worker's model memory budget is "
                f"{self._budget / 2**20:.0f} MiB"
            )
        evicted = []
        with self._lock:
            while self._entries and sum(e.size for e in self._entries.values()) + size > self._budget:
                oldest = min(self._entries, key=lambda k: self._entries[k].last_used)
                evicted.append(oldest)
                del self._entries[oldest]
        if evicted:
            log.info("evicted %s to make room for %s", evicted, key)
            gc.collect()
            _release_accelerator_memory()

    def resident_bytes(self) -> int:
        with self._lock:
            return sum(e.size for e in self._entries.values())

    def touch(self, key: Hashable) -> None:
        with self._lock:
            if key in self._entries:
                self._entries[key].last_used = self._clock()

    def evict_idle(self) -> list[Hashable]:
        now = self._clock()
        with self._lock:
            stale = [k for k, e in self._entries.items() if now - e.last_used > self._idle_ttl]
            for key in stale:
                del self._entries[key]
        if stale:
            log.info("unloaded idle models %s", stale)
            gc.collect()
            _release_accelerator_memory()
        return stale

    def resident(self) -> list[Hashable]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        gc.collect()


def _release_accelerator_memory() -> None:
    """Hand freed CUDA blocks back to the driver, so another process or model can use them."""
    import sys

    torch = sys.modules.get("torch")  # only if something already imported it: never import it here
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def weights_size(path) -> int:
    """Bytes of model weights on disk under `path` (a file or a directory): the size estimate."""
    from pathlib import Path

    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
