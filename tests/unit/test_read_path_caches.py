"""The small caches on the read path: health snapshots and the in-process tier of the catalog cache."""

from __future__ import annotations

import asyncio

from server.dispatch.base import QueueHealth
from server.services.cache import MemoryCache, TieredCache
from server.services.health import HealthSnapshots
from tests.support.clock import FakeClock


def test_health_is_probed_at_most_once_per_max_age_and_concurrent_callers_share_a_probe():
    clock = FakeClock(100.0)
    probes = []

    def probe() -> QueueHealth:
        probes.append(clock.now)
        return QueueHealth(reachable=len(probes) < 3, mode="embedded")

    snapshots = HealthSnapshots(probe, max_age_s=0.1, clock=clock)

    async def ask(times: int) -> list[QueueHealth]:
        return await asyncio.gather(*(snapshots.current() for _ in range(times)))

    assert all(h.reachable for h in asyncio.run(ask(20))) and len(probes) == 1
    clock.now += 0.05
    asyncio.run(ask(5))
    assert len(probes) == 1
    clock.now += 0.05
    asyncio.run(ask(5))
    assert len(probes) == 2
    clock.now += 0.1
    assert not any(h.reachable for h in asyncio.run(ask(3)))  # an outage shows after one max age
    assert len(probes) == 3


class CountingCache(MemoryCache):
    reads = 0

    def get(self, key):
        self.reads += 1
        return super().get(key)

    async def aget(self, key):
        return self.get(key)


def test_the_local_tier_answers_repeat_reads_and_a_new_key_always_reaches_the_shared_cache():
    shared = CountingCache()
    tiered = TieredCache(shared, local_ttl_s=5.0)
    shared.set("models:gen1", {"total": 1}, 60)  # written by another node
    assert asyncio.run(tiered.aget("models:gen1")) == {"total": 1}
    assert asyncio.run(tiered.aget("models:gen1")) == {"total": 1}
    assert tiered.get("models:gen1") == {"total": 1}
    assert shared.reads == 1
    assert asyncio.run(tiered.aget("models:gen2")) is None  # the generation moved: a miss, not the old page
    assert shared.reads == 2
    tiered.set("models:gen2", {"total": 2}, 60)
    assert shared.get("models:gen2") == {"total": 2}  # written through for the other nodes
