"""Run torch work on one thread of its own, with a fixed number of torch threads.

Why: with OpenMP builds of torch, `torch.set_num_threads` applies to the calling thread (and the
OpenMP pool it starts), and torch's default is one thread per core. On the 2 shared cores of the
development machine, a diarization run with two torch threads took 46 CPU s / 204 s wall against
2.6 CPU s / 11 s with one (docs/benchmarks.md, issue 11): OpenMP's spinning workers collapse when
other processes hold the cores. Every CPU-bound torch engine that runs inside a worker beside
Whisper therefore runs its forwards here, on a dedicated thread set to `threads`, and leaves the
process-wide setting of the calling threads alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def _set_torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


class TorchThread:
    """`run(fn, ...)` calls fn on one dedicated thread whose torch uses `threads` threads, and
    returns its result (or raises its exception) in the caller. `threads` <= 0: fn runs in the
    calling thread with torch's own setting. The thread starts on first use."""

    def __init__(self, threads: int, name: str) -> None:
        self.threads = threads
        self._name = name
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        if self.threads <= 0:
            return fn(*args, **kwargs)
        return self._pool().submit(fn, *args, **kwargs).result()

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    1, self._name, initializer=_set_torch_threads, initargs=(self.threads,)
                )
            return self._executor
