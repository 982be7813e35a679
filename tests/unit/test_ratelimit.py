"""Both rate limiters (in-process, real Redis) against one GCRA contract, with a short period."""

from __future__ import annotations

import random
import time

import pytest

from server.auth.ratelimit import MemoryRateLimiter, RateLimitDecision, RedisRateLimiter
from tests.support.clock import FakeClock
from tests.support.concurrency import race

PERIOD = 2.0
LIMIT = 4  # one request comes back every PERIOD / LIMIT = 0.5 s


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request):
    if request.param == "memory":
        return lambda period=PERIOD: MemoryRateLimiter(period_s=period)
    import redis

    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = request.getfixturevalue("redis_prefix")
    return lambda period=PERIOD: RedisRateLimiter(client, prefix=prefix, period_s=period)


def test_exactly_limit_of_concurrent_requests_succeed(make_limiter):
    limiter = make_limiter(period=3600)  # nothing refills while the threads run
    limit, threads = 25, 16

    def client(_: int) -> list[bool]:
        return [limiter.hit("alice", limit).allowed for _ in range(5)]

    results = [allowed for per_thread in race(client, threads) for allowed in per_thread]
    assert len(results) == 80 and sum(results) == limit
    assert limiter.peek("alice", limit).remaining == 0


def test_the_window_slides_one_request_at_a_time(make_limiter):
    limiter = make_limiter()
    assert [limiter.hit("k", LIMIT).allowed for _ in range(LIMIT)] == [True] * LIMIT
    refused = limiter.hit("k", LIMIT)
    assert not refused.allowed and refused.remaining == 0
    assert 0.4 < refused.retry_after_s <= PERIOD / LIMIT
    time.sleep(refused.retry_after_s + 0.05)
    assert [limiter.hit("k", LIMIT).allowed for _ in range(3)] == [True, False, False]


def test_no_burst_after_the_budget_is_spent(make_limiter):
    limiter = make_limiter()
    assert sum(limiter.hit("k", LIMIT).allowed for _ in range(LIMIT)) == LIMIT
    deadline = time.monotonic() + 0.3  # shorter than one emission interval
    extra = 0
    while time.monotonic() < deadline:
        extra += limiter.hit("k", LIMIT).allowed
        time.sleep(0.01)
    assert extra == 0


def test_refused_hits_spend_nothing_and_peek_spends_nothing(make_limiter):
    limiter = make_limiter(period=3600)
    fresh = limiter.peek("k", 10)
    assert fresh.allowed and fresh.remaining == 10 and fresh.reset_after_s == 0 and fresh.retry_after_s is None
    assert limiter.peek("k", 10).remaining == 10
    assert limiter.hit("k", 10, cost=7).remaining == 3
    big = limiter.hit("k", 10, cost=5)
    assert not big.allowed and big.remaining == 3
    assert limiter.hit("k", 10, cost=3).allowed
    assert not limiter.peek("k", 10).allowed
    assert limiter.peek("other", 10).remaining == 10  # keys are independent
    with pytest.raises(ValueError):
        limiter.hit("k", 10, cost=11)
    with pytest.raises(ValueError):
        limiter.hit("k", 0)


@pytest.mark.parametrize("limit", [1, 3, 7, 2000])
def test_a_fresh_budget_admits_exactly_the_limit(make_limiter, limit):
    limiter = make_limiter(period=3600)  # limits whose interval is no exact float (3600/7) included
    assert limiter.hit("whole", limit, cost=limit).allowed
    results = [limiter.hit("k", limit).allowed for _ in range(limit + 2)]
    assert results == [True] * limit + [False, False]


def test_header_values(make_limiter):
    limiter = make_limiter()
    first = limiter.hit("k", LIMIT)
    assert first.headers() == {"X-RateLimit-Limit": "4", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1"}
    assert first.reset_after_s == pytest.approx(PERIOD / LIMIT, abs=0.05)
    for _ in range(LIMIT - 1):
        last = limiter.hit("k", LIMIT)
    assert last.remaining == 0 and last.reset_after_s == pytest.approx(PERIOD, abs=0.1)
    refused = limiter.hit("k", LIMIT)
    headers = refused.headers()
    assert headers["X-RateLimit-Remaining"] == "0" and headers["X-RateLimit-Reset"] == "2"
    assert headers["Retry-After"] == "1"  # 0.5 s rounded up, never 0


def test_nodes_share_one_budget(redis_url, redis_prefix):
    import redis

    nodes = [RedisRateLimiter(redis.Redis.from_url(redis_url), prefix=redis_prefix, period_s=60) for _ in range(3)]
    allowed = sum(node.hit("alice", 6).allowed for _ in range(4) for node in nodes)
    assert allowed == 6
    client = redis.Redis.from_url(redis_url)
    ttl_ms = client.pttl(f"{redis_prefix}ratelimit:alice")
    assert 0 < ttl_ms <= 60_000  # the state disappears once the budget is full again


def test_no_double_burst_at_the_hour_boundary():
    clock = FakeClock(1000.0)
    limiter = MemoryRateLimiter(clock=clock)
    clock.now = 3599.9
    assert sum(limiter.hit("k", 100).allowed for _ in range(150)) == 100
    clock.now = 3600.1  # where a fixed window would start afresh
    assert sum(limiter.hit("k", 100).allowed for _ in range(150)) == 0
    clock.now = 3599.9 + 36 * 10  # ten emission intervals later: ten requests, not a hundred
    assert sum(limiter.hit("k", 100).allowed for _ in range(150)) == 10


def test_any_span_admits_at_most_limit_plus_the_refill():
    clock = FakeClock(1000.0)
    limiter = MemoryRateLimiter(period_s=3600, clock=clock)
    rng = random.Random(7)
    admitted: list[float] = []
    for _ in range(20_000):
        clock.now += rng.expovariate(1 / 2.0)  # a greedy client: about 1800 attempts an hour
        if limiter.hit("k", 100).allowed:
            admitted.append(clock.now)
    for i, start in enumerate(admitted):
        for span in (1.0, 60.0, 600.0, 3600.0):
            inside = sum(1 for t in admitted[i : i + 300] if t - start <= span)
            assert inside <= 100 + span * 100 / 3600 + 1e-9


def test_decision_type():
    decision = MemoryRateLimiter().hit("k", 1)
    assert isinstance(decision, RateLimitDecision) and decision.allowed and decision.remaining == 0
