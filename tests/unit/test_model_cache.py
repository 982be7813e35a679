from __future__ import annotations

import threading

import pytest

from engines.model_cache import ModelCache, ModelTooLarge
from tests.support.clock import FakeClock
from tests.support.concurrency import race


def test_loads_once_and_shares():
    cache = ModelCache(idle_ttl=10)
    calls = []
    with cache.use("m", lambda: calls.append(1) or object()) as first, cache.use("m", lambda: 0) as again:
        assert again is first and cache.in_use("m") == 2
    with cache.use("m", lambda: calls.append(1) or object()) as later:
        assert later is first
    assert calls == [1] and cache.in_use("m") == 0


def test_concurrent_first_use_loads_once():
    cache = ModelCache(idle_ttl=10)
    calls = []

    def loader():
        calls.append(1)
        return object()

    def task(_):
        with cache.use("m", loader) as model:
            return model

    results = race(task, threads=5)
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_different_models_do_not_wait_on_each_other():
    """While "a" loads, "b" loads: a global lock held during loading would keep b out until a's
    loader gave up waiting for it."""
    cache = ModelCache(idle_ttl=10)
    started, b_loaded = threading.Event(), threading.Event()
    outcome = {}

    def blocking_loader():
        started.set()
        outcome["saw_b"] = b_loaded.wait(timeout=10)
        return "a"

    def load_a():
        with cache.use("a", blocking_loader):
            pass

    thread = threading.Thread(target=load_a)
    thread.start()
    started.wait()
    with cache.use("b", lambda: "b") as b:
        assert b == "b"
    b_loaded.set()
    thread.join()
    assert outcome["saw_b"]


def test_idle_time_counts_from_the_last_release():
    clock = FakeClock(0.0)
    cache = ModelCache(idle_ttl=60, clock=clock)
    with cache.use("m", lambda: "model"):
        clock.now = 500  # held far past the TTL
        assert cache.evict_idle() == []
    clock.now = 550
    assert cache.evict_idle() == []  # released 50 s ago
    clock.now = 561
    assert cache.evict_idle() == ["m"]
    assert cache.resident() == []


def test_a_failed_load_leaves_nothing_counted():
    cache = ModelCache(budget_bytes=100)

    def broken():
        raise RuntimeError("bad weights")

    with pytest.raises(RuntimeError), cache.use("a", broken, 80):
        pass
    with cache.use("b", lambda: "b", 80) as b:  # the 80 bytes reserved for "a" were given back
        assert b == "b"
    assert cache.resident() == ["b"]


# --- the bug of issue 20: a model held by a running task is dropped while in use ----------------
# Reproduced first against get() (strict xfail); these two helpers were the only lines that changed
# when the cache started counting references.


def _cache(clock, budget_bytes=None):
    return ModelCache(idle_ttl=60, clock=clock, budget_bytes=budget_bytes, wait_s=0)


def _held(cache, key, loader, size_bytes=0):
    return cache.use(key, loader, size_bytes)


class _Task(threading.Thread):
    """A worker thread that holds a model until told to finish (a long transcription)."""

    def __init__(self, cache, key, loader, size_bytes=0):
        super().__init__(daemon=True)  # a failed assert must not leave pytest waiting on it
        self.cache, self.key, self.loader, self.size_bytes = cache, key, loader, size_bytes
        self.holding, self.finish = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def run(self):
        try:
            with _held(self.cache, self.key, self.loader, self.size_bytes):
                self.holding.set()
                self.finish.wait()
        except BaseException as exc:  # surfaced by the test through .error
            self.error = exc
            self.holding.set()


def test_a_model_in_use_is_not_evicted_and_not_loaded_twice():
    clock = FakeClock(0.0)
    cache = _cache(clock)
    loads = []
    long_task = _Task(cache, "whisper", lambda: loads.append(1) or object())
    long_task.start()
    long_task.holding.wait()
    clock.now = 1000  # the transcription runs far past the idle TTL
    try:
        second = _Task(cache, "whisper", lambda: loads.append(2) or object())
        second.start()
        second.holding.wait()
        second.finish.set()
        second.join()
        assert second.error is None
        assert loads == [1]  # one copy, shared: not a second one the budget never sees
        assert cache.evict_idle() == []  # the runner's housekeeping after a task, while the first still runs
        assert cache.resident() == ["whisper"]
    finally:
        long_task.finish.set()
        long_task.join()


def test_the_budget_counts_a_model_in_use():
    clock = FakeClock(0.0)
    cache = _cache(clock, budget_bytes=100)
    long_task = _Task(cache, "whisper", lambda: "whisper", size_bytes=60)
    long_task.start()
    long_task.holding.wait()
    clock.now = 1000
    loaded = []
    try:
        other = _Task(cache, "piper", lambda: loaded.append("piper") or "piper", size_bytes=60)
        other.start()
        other.holding.wait()
        other.finish.set()
        other.join()
        # 60 + 60 does not fit in 100 while whisper is held: piper must not load beside it.
        assert loaded == []
        assert isinstance(other.error, ModelTooLarge) and other.error.code == "insufficient_memory"
        assert cache.resident() == ["whisper"] and cache.resident_bytes() == 60
    finally:
        long_task.finish.set()
        long_task.join()


# --- the budget with models in use ---------------------------------------------------------------


def _wait_until(condition):
    """Synchronisation, not timing: poll until another thread has reached the state we need."""
    pause = threading.Event()
    for _ in range(2000):
        if condition():
            return
        pause.wait(0.005)
    raise AssertionError("the other thread never got there")


def test_a_load_that_does_not_fit_waits_for_a_release_then_evicts_the_released_model():
    cache = ModelCache(budget_bytes=100, wait_s=30)
    holder = _Task(cache, "a", lambda: "a", size_bytes=60)
    holder.start()
    holder.holding.wait()
    seen = {}

    def load_b():
        seen["a_holders_at_load"] = cache.in_use("a")
        return "b"

    waiter = _Task(cache, "b", load_b, size_bytes=60)
    waiter.start()
    try:
        _wait_until(lambda: cache.waiting() == 1)
        assert "b" not in cache.resident()
        holder.finish.set()
        holder.join()
        waiter.holding.wait()
        assert waiter.error is None
        assert seen == {"a_holders_at_load": 0}
        assert cache.resident() == ["b"] and cache.resident_bytes() == 60
    finally:
        holder.finish.set()
        waiter.finish.set()
        holder.join()
        waiter.join()


def test_a_load_that_still_does_not_fit_after_the_wait_fails_with_insufficient_memory():
    cache = ModelCache(budget_bytes=100, wait_s=0.05)
    holder = _Task(cache, "a", lambda: "a", size_bytes=60)
    holder.start()
    holder.holding.wait()
    loaded = []
    try:
        with pytest.raises(ModelTooLarge, match="in use") as failure, cache.use("b", lambda: loaded.append(1), 60):
            pass
        assert failure.value.code == "insufficient_memory" and "waited" in str(failure.value)
        assert loaded == [] and cache.resident() == ["a"] and cache.waiting() == 0
    finally:
        holder.finish.set()
        holder.join()


def test_a_load_in_progress_counts_against_the_budget():
    cache = ModelCache(budget_bytes=100, wait_s=0)
    loading, finish = threading.Event(), threading.Event()

    def slow_a():
        loading.set()
        finish.wait(timeout=10)
        return "a"

    def load_a():
        with cache.use("a", slow_a, 60):
            pass

    thread = threading.Thread(target=load_a)
    thread.start()
    loading.wait()
    try:
        with pytest.raises(ModelTooLarge), cache.use("b", lambda: "b", 60):
            pass
    finally:
        finish.set()
        thread.join()
    assert cache.resident() == ["a"]


def test_idle_models_are_evicted_least_recently_released_first_and_only_as_needed():
    clock = FakeClock(0.0)
    cache = ModelCache(idle_ttl=1e9, clock=clock, budget_bytes=100)
    for t, key in enumerate(["old", "newer", "newest"]):
        clock.now = t
        with cache.use(key, lambda k=key: k, 30):
            pass
    with cache.use("big", lambda: "big", 50):
        pass
    assert sorted(cache.resident()) == ["big", "newest"]  # 30 + 50 fit: "newest" stays warm


def test_a_pinned_model_stays_loaded_and_counted():
    clock = FakeClock(0.0)
    cache = ModelCache(idle_ttl=60, clock=clock, budget_bytes=100, wait_s=0)
    with cache.use("voice", lambda: "voice", 60, pinned=True):
        pass
    clock.now = 10_000
    assert cache.evict_idle() == [] and cache.resident() == ["voice"]
    with pytest.raises(ModelTooLarge, match="pinned"), cache.use("whisper", lambda: "whisper", 60):
        pass
    cache.unpin("voice")
    with cache.use("whisper", lambda: "whisper", 60):
        assert cache.resident() == ["whisper"]


def test_pin_before_first_load():
    clock = FakeClock(0.0)
    cache = ModelCache(idle_ttl=60, clock=clock)
    cache.pin("m")
    with cache.use("m", lambda: "m"):
        pass
    clock.now = 10_000
    assert cache.evict_idle() == []


def test_a_model_larger_than_the_budget_fails_without_waiting():
    cache = ModelCache(budget_bytes=100, wait_s=3600)
    with pytest.raises(ModelTooLarge, match="budget is"), cache.use("big", lambda: "big", 101):
        pass
