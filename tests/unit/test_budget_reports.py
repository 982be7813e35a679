"""Reported rate-limit budgets: carried forward from the last decision, equal to what a peek of the
shared limiter would say, and refreshed from the limiter once they are too old."""

from __future__ import annotations

import asyncio

import pytest

from server.auth.budget_reports import BudgetReports
from server.auth.ratelimit import MemoryRateLimiter, RedisRateLimiter
from server.domain.async_redis import LoopBoundRedis
from tests.support.clock import FakeClock

PERIOD, LIMIT = 60.0, 6  # one request back every 10 s


@pytest.fixture
def clock():
    return FakeClock(500.0)


def run(coro):
    return asyncio.run(coro)


def test_reports_carried_forward_match_a_peek_of_the_limiter(clock):
    limiter = MemoryRateLimiter(period_s=PERIOD, clock=clock)
    reports = BudgetReports(limiter, max_age_s=30.0, clock=clock)
    for _ in range(LIMIT):  # spend it all, then watch it refill without asking the limiter
        run(reports.spend("alice", LIMIT))
    peeks = 0
    limiter_peek = limiter.peek

    def counted_peek(*args, **kwargs):
        nonlocal peeks
        peeks += 1
        return limiter_peek(*args, **kwargs)

    for step in (0.0, 3.0, 7.0, 9.999, 10.0, 10.001, 25.0):
        clock.now = 500.0 + step
        limiter.peek = limiter_peek
        expected = limiter.peek("alice", LIMIT)
        limiter.peek = counted_peek
        reported = run(reports.report("alice", LIMIT))
        assert reported.headers() == expected.headers(), step
        assert reported.remaining == expected.remaining and reported.allowed == expected.allowed
    assert peeks == 0


def test_an_old_report_is_refreshed_from_the_limiter(clock):
    limiter = MemoryRateLimiter(period_s=PERIOD, clock=clock)
    this_node = BudgetReports(limiter, max_age_s=1.0, clock=clock)
    assert run(this_node.report("alice", LIMIT)).remaining == LIMIT
    limiter.hit("alice", LIMIT)  # a submission through another node
    limiter.hit("alice", LIMIT)
    clock.now += 0.5
    assert run(this_node.report("alice", LIMIT)).remaining == LIMIT  # within max_age: not seen yet
    clock.now += 0.6
    assert run(this_node.report("alice", LIMIT)).remaining == LIMIT - 2


def test_a_changed_limit_is_not_answered_from_the_old_plan(clock):
    limiter = MemoryRateLimiter(period_s=PERIOD, clock=clock)
    reports = BudgetReports(limiter, max_age_s=30.0, clock=clock)
    run(reports.spend("alice", LIMIT))
    assert run(reports.report("alice", 100)).limit == 100


def test_a_refused_submission_is_remembered_too(clock):
    limiter = MemoryRateLimiter(period_s=PERIOD, clock=clock)
    reports = BudgetReports(limiter, max_age_s=30.0, clock=clock)
    for _ in range(LIMIT):
        run(reports.spend("alice", LIMIT))
    refused = run(reports.spend("alice", LIMIT))
    assert not refused.allowed
    assert run(reports.report("alice", LIMIT)).headers() == limiter.peek("alice", LIMIT).headers()


def test_redis_async_peek_agrees_with_the_blocking_one(redis_url, redis_prefix):
    import redis

    limiter = RedisRateLimiter(
        redis.Redis.from_url(redis_url), prefix=redis_prefix, period_s=3600, async_redis=LoopBoundRedis(redis_url)
    )
    for _ in range(3):
        limiter.hit("alice", 10)
    assert run(limiter.apeek("alice", 10)).remaining == limiter.peek("alice", 10).remaining == 7
    assert limiter.peek("alice", 10).remaining == 7  # peeking spends nothing
