"""The queue's health for /v1/health, probed at most every MAX_AGE_S however often it is asked.

Load balancers and probes may call health thousands of times a second in aggregate; each probe of
the distributed queue is several Redis round trips (queue depths, a SCAN for worker heartbeats).
Requests within MAX_AGE_S of the last probe share its answer, and requests arriving while a probe
runs wait for that one instead of starting their own. An outage therefore shows within MAX_AGE_S.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from anyio import to_thread

from server.dispatch.base import QueueHealth

MAX_AGE_S = 0.1


class HealthSnapshots:
    def __init__(
        self,
        probe: Callable[[], QueueHealth],
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._max_age_s = max_age_s
        self._clock = clock
        self._last: QueueHealth | None = None
        self._fresh_until = float("-inf")
        self._running: asyncio.Future[QueueHealth] | None = None

    async def current(self) -> QueueHealth:
        if self._last is not None and self._clock() < self._fresh_until:
            return self._last
        running = self._running
        if running is None or running.done() or running.get_loop() is not asyncio.get_running_loop():
            running = self._running = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(running)

    async def _refresh(self) -> QueueHealth:
        started = self._clock()
        self._last = await to_thread.run_sync(self._probe)  # the probes catch their own errors
        self._fresh_until = started + self._max_age_s
        return self._last
