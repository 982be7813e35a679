"""Race helper for tests of atomicity: many threads released at one instant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def race(worker: Callable[[int], T], threads: int) -> list[T]:
    """Run worker(0..threads-1), one thread each, all released together by a barrier; return their
    results in order. An exception (a failed assert) in any worker is raised here, in the test."""
    barrier = threading.Barrier(threads)

    def run(i: int) -> T:
        barrier.wait()
        return worker(i)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(run, i) for i in range(threads)]
        return [future.result() for future in futures]
