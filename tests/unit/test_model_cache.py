from __future__ import annotations

import threading
import time

from engines.model_cache import ModelCache
from tests.support.clock import FakeClock


def test_loads_once_and_shares():
    cache = ModelCache(idle_ttl=10)
    calls = []
    first = cache.get("m", lambda: calls.append(1) or object())
    assert cache.get("m", lambda: calls.append(1) or object()) is first
    assert calls == [1]


def test_concurrent_first_use_loads_once():
    cache = ModelCache(idle_ttl=10)
    calls = []

    def slow_loader():
        calls.append(1)
        time.sleep(0.2)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("m", slow_loader))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_different_models_do_not_wait_on_each_other():
    cache = ModelCache(idle_ttl=10)
    started = threading.Event()

    def blocking_loader():
        started.set()
        time.sleep(0.5)
        return "a"

    thread = threading.Thread(target=cache.get, args=("a", blocking_loader))
    thread.start()
    started.wait()
    t0 = time.perf_counter()
    assert cache.get("b", lambda: "b") == "b"
    assert time.perf_counter() - t0 < 0.3
    thread.join()


def test_idle_models_are_evicted():
    clock = FakeClock(0.0)
    cache = ModelCache(idle_ttl=60, clock=clock)
    cache.get("m", lambda: "model")
    clock.now = 30
    cache.touch("m")
    clock.now = 80
    assert cache.evict_idle() == []
    clock.now = 200
    assert cache.evict_idle() == ["m"]
    assert cache.resident() == []
