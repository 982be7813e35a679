"""A per-process cache of loaded models: load on first use, share across tasks, drop after idle.

A task holds a model for as long as it runs on it: `with cache.use(key, loader, size) as model:`.
The cache counts those references, so a model in use is never evicted; its idle time starts at
its last release. (A plain `get()` that handed out the model and forgot about it let a long
transcription lose its model to the idle sweep, and the next task load a second copy that the
budget never saw: issue 20.)

One lock per key, so two tasks that need the same model load it once, while tasks that need
different models do not wait on each other: no global lock is held while loading. Modelled on
speaches' SelfDisposingModel, without its background timer: idle models are evicted whenever the
cache is touched or `evict_idle()` is called by the worker's housekeeping.

With a memory budget, each model declares its size (its weights on disk are a good estimate of its
resident size). Before a new model loads, idle models are evicted least recently released first;
models in use, pinned models and loads in progress all count against the budget and are never
evicted. A load that does not fit even then waits up to `wait_s` for a release, then fails with
ModelTooLarge, so the task fails clearly instead of the worker running out of (GPU) memory. A
model larger than the whole budget fails at once. Pinned models (`pin(key)`, or `pinned=True`)
are never evicted: the ones that must stay warm for interactive work.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from engines.types import EngineError

log = logging.getLogger(__name__)


class ModelTooLarge(EngineError):
    code = "insufficient_memory"


@dataclass
class _Entry:
    model: Any
    size: int
    last_released: float
    refs: int = 0


class ModelCache:
    def __init__(
        self,
        idle_ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        budget_bytes: int | None = None,
        wait_s: float = 0.0,
    ) -> None:
        """`clock` measures idle time (tests pass a fake one); waits for room use real time, since
        they sleep on a condition. `wait_s` is how long a load waits for a model in use to be released."""
        self._idle_ttl = idle_ttl
        self._budget = budget_bytes
        self._clock = clock
        self._wait_s = wait_s
        self._entries: dict[Hashable, _Entry] = {}
        self._pinned: set[Hashable] = set()
        self._reserved = 0  # bytes of loads in progress: counted before the loader allocates them
        self._waiting = 0  # loads now waiting for room
        self._key_locks: dict[Hashable, threading.Lock] = {}
        # Guards the dicts and counters only, never held while loading; notified on every release.
        self._changed = threading.Condition(threading.Lock())

    # -- holding a model --------------------------------------------------------------------
    @contextmanager
    def use(
        self,
        key: Hashable,
        loader: Callable[[], Any],
        size_bytes: int = 0,
        *,
        pinned: bool = False,
        wait_s: float | None = None,
    ) -> Iterator[Any]:
        """The model for `key`, held until the block ends; `loader()` runs once if it is not resident.

        Hold it for all the work that touches it (a lazy generator of results included): outside
        the block it may be evicted, and another task may then load a fresh copy."""
        if pinned:
            self.pin(key)
        self.evict_idle()
        entry = self._acquire(key, loader, size_bytes, self._wait_s if wait_s is None else wait_s)
        try:
            yield entry.model
        finally:
            with self._changed:
                entry.refs -= 1
                entry.last_released = self._clock()
                self._changed.notify_all()

    def _acquire(self, key: Hashable, loader: Callable[[], Any], size: int, wait_s: float) -> _Entry:
        if (entry := self._reference(key)) is not None:
            return entry
        with self._key_lock(key):
            if (entry := self._reference(key)) is not None:  # loaded by another task meanwhile
                return entry
            self._reserve(key, size, wait_s)
            try:
                started = time.perf_counter()
                model = loader()
                log.info("loaded model %s in %.2fs", key, time.perf_counter() - started)
            except BaseException:
                with self._changed:
                    self._reserved -= size
                    self._changed.notify_all()
                raise
            with self._changed:
                self._reserved -= size
                entry = self._entries[key] = _Entry(model=model, size=size, last_released=self._clock(), refs=1)
            return entry

    def _reference(self, key: Hashable) -> _Entry | None:
        with self._changed:
            entry = self._entries.get(key)
            if entry is not None:
                entry.refs += 1
            return entry

    def _key_lock(self, key: Hashable) -> threading.Lock:
        with self._changed:
            return self._key_locks.setdefault(key, threading.Lock())

    def _reserve(self, key: Hashable, size: int, wait_s: float) -> None:
        """Count `size` bytes against the budget for a load of `key`, evicting idle models to make
        room, and waiting up to `wait_s` for models in use to be released when that is not enough."""
        if self._budget is None:
            return
        if size > self._budget:
            raise ModelTooLarge(
                f"model {key} needs about {_mib(size)} MiB; this worker's model memory budget is "
                f"{_mib(self._budget)} MiB"
            )
        deadline = time.monotonic() + wait_s
        evicted: list[Hashable] = []
        with self._changed:
            while True:
                evictable = sorted(
                    (k for k, e in self._entries.items() if e.refs == 0 and k not in self._pinned),
                    key=lambda k: self._entries[k].last_released,
                )
                held = self._counted_bytes() - sum(self._entries[k].size for k in evictable)
                if held + size <= self._budget:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ModelTooLarge(
                        f"model {key} needs about {_mib(size)} MiB, but {_mib(held)} MiB of this worker's "
                        f"{_mib(self._budget)} MiB model memory budget is held by models in use, loading or pinned"
                        + (f" (waited {wait_s:g} s for one to be released)" if wait_s > 0 else "")
                    )
                self._waiting += 1
                try:
                    self._changed.wait(remaining)
                finally:
                    self._waiting -= 1
            # Evict only once it is known to be enough: a load that must wait keeps the others warm.
            for k in evictable:
                if self._counted_bytes() + size <= self._budget:
                    break
                del self._entries[k]
                evicted.append(k)
            self._reserved += size
        if evicted:
            log.info("evicted %s to make room for %s", evicted, key)
            _free_memory()

    def _counted_bytes(self) -> int:
        return sum(e.size for e in self._entries.values()) + self._reserved

    # -- pinning ----------------------------------------------------------------------------
    def pin(self, key: Hashable) -> None:
        """Keep `key` loaded once it is (never evicted, still counted against the budget)."""
        with self._changed:
            self._pinned.add(key)

    def unpin(self, key: Hashable) -> None:
        with self._changed:
            self._pinned.discard(key)
            self._changed.notify_all()  # a load waiting for room may now evict it

    # -- housekeeping -----------------------------------------------------------------------
    def evict_idle(self) -> list[Hashable]:
        """Unload models nobody holds and nobody released for longer than the idle TTL."""
        now = self._clock()
        with self._changed:
            stale = [
                k
                for k, e in self._entries.items()
                if e.refs == 0 and k not in self._pinned and now - e.last_released > self._idle_ttl
            ]
            for key in stale:
                del self._entries[key]
        if stale:
            log.info("unloaded idle models %s", stale)
            _free_memory()
        return stale

    def clear(self) -> None:
        """Unload every model not in use (pinned ones too)."""
        with self._changed:
            for key in [k for k, e in self._entries.items() if e.refs == 0]:
                del self._entries[key]
        _free_memory()

    # -- introspection ----------------------------------------------------------------------
    def resident(self) -> list[Hashable]:
        with self._changed:
            return list(self._entries)

    def resident_bytes(self) -> int:
        with self._changed:
            return sum(e.size for e in self._entries.values())

    def waiting(self) -> int:
        """How many loads are waiting for a model in use to be released."""
        with self._changed:
            return self._waiting

    def in_use(self, key: Hashable) -> int:
        """How many holders `key` has now (0 when idle or not loaded)."""
        with self._changed:
            entry = self._entries.get(key)
            return entry.refs if entry is not None else 0


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f}"


def _free_memory() -> None:
    gc.collect()
    _release_accelerator_memory()


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
