"""Both quota stores (SQLite file, real Redis): atomic check-and-increment per owner and UTC month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.auth.plans import DEFAULT_PLANS, AuthSettings
from server.auth.quotas import RedisQuotaStore, SqliteQuotaStore, month_of
from tests.conftest import sqlite_or_redis
from tests.support.clock import FakeClock
from tests.support.concurrency import race


@pytest.fixture
def clock():
    return FakeClock(datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC))


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path, clock):
    return sqlite_or_redis(
        request,
        lambda: SqliteQuotaStore(tmp_path / "usage.sqlite3", clock=clock),
        lambda client, prefix: RedisQuotaStore(client, prefix=prefix, clock=clock),
    )


def test_consume_until_the_limit(store):
    assert store.consume("alice", "tts_characters", 600, limit=1000) == (True, 600)
    assert store.consume("alice", "tts_characters", 400, limit=1000) == (True, 1000)  # exactly at the limit
    assert store.consume("alice", "tts_characters", 1, limit=1000) == (False, 1000)
    assert store.usage("alice") == {"tts_characters": 1000, "stt_seconds": 0, "clones": 0}


def test_a_refused_request_does_not_count(store):
    store.consume("alice", "clones", 2, limit=3)
    assert store.consume("alice", "clones", 5, limit=3) == (False, 2)  # too big: nothing added
    assert store.consume("alice", "clones", 1, limit=3) == (True, 3)  # a smaller one still fits


def test_unlimited_still_counts_and_owners_are_separate(store):
    assert store.consume("alice", "stt_seconds", 10_000, limit=None) == (True, 10_000)
    assert store.consume("alice", "stt_seconds", 5, limit=None) == (True, 10_005)
    assert store.consume("bob", "stt_seconds", 5.0, limit=10) == (True, 5)
    assert store.usage("bob")["stt_seconds"] == 5 and store.usage("carol")["stt_seconds"] == 0


def test_zero_amount_checks_without_counting(store):
    store.consume("alice", "clones", 3, limit=3)
    assert store.consume("alice", "clones", 0, limit=3) == (True, 3)
    assert store.consume("alice", "clones", 0, limit=2) == (False, 3)  # plan lowered below the usage


def test_monthly_buckets_follow_the_utc_month(store, clock):
    store.consume("alice", "clones", 3, limit=3)
    assert store.consume("alice", "clones", 1, limit=3)[0] is False
    clock.now += timedelta(seconds=1)  # 2025-02-01 00:00:00 UTC
    assert store.consume("alice", "clones", 1, limit=3) == (True, 1)
    assert store.usage("alice", "2025-01")["clones"] == 3 and store.usage("alice")["clones"] == 1


def test_month_is_taken_in_utc():
    late_evening_new_york = datetime(2025, 1, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert month_of(late_evening_new_york) == "2025-02"


def test_refund_never_goes_below_zero(store):
    store.consume("alice", "tts_characters", 100, limit=None)
    assert store.refund("alice", "tts_characters", 30) == 70
    assert store.refund("alice", "tts_characters", 500) == 0
    assert store.usage("alice")["tts_characters"] == 0


def test_bad_arguments(store):
    with pytest.raises(ValueError):
        store.consume("alice", "gpu_hours", 1, limit=None)
    with pytest.raises(ValueError):
        store.consume("alice", "clones", -1, limit=None)
    with pytest.raises(ValueError):
        store.consume("alice", "stt_seconds", 1.5, limit=None)


def test_concurrent_consumers_never_overshoot(store):
    limit, threads, attempts = 50, 8, 20

    def consumer(_: int) -> list[bool]:
        granted = []
        for _ in range(attempts):
            allowed, used = store.consume("alice", "clones", 1, limit=limit)
            assert used <= limit
            granted.append(allowed)
        return granted

    granted = [allowed for per_thread in race(consumer, threads) for allowed in per_thread]
    assert len(granted) == threads * attempts and sum(granted) == limit
    assert store.usage("alice")["clones"] == limit


def test_plan_limits_are_in_quota_units():
    basic = DEFAULT_PLANS["basic"]
    limits = basic.quota_limits()
    assert limits == {"tts_characters": 10_000, "stt_seconds": 3600, "clones": 5}
    assert DEFAULT_PLANS["admin"].quota_limits() == {"tts_characters": None, "stt_seconds": None, "clones": None}


def test_plans_merge_over_defaults_from_the_environment(monkeypatch):
    from server.settings import Settings

    class Root(Settings):  # how the lead mounts the section: settings.auth
        auth: AuthSettings = AuthSettings()

    monkeypatch.setenv("VOICE_API_AUTH__PLANS__PRO__REQUESTS_PER_HOUR", "5000")
    monkeypatch.setenv("VOICE_API_AUTH__PLANS__TEAM__REQUESTS_PER_HOUR", "9000")
    monkeypatch.setenv("VOICE_API_AUTH__DEFAULT_PLAN", "team")
    auth = Root().auth
    assert auth.plans["pro"].requests_per_hour == 5000 and auth.plans["pro"].max_concurrent_tasks == 5
    assert auth.plans["basic"] == DEFAULT_PLANS["basic"] and auth.plans["admin"].admin
    assert auth.plans["team"].name == "team" and auth.default_plan == "team"
    assert AuthSettings().plans["ultra"].requests_per_hour == 3000


def test_default_plan_must_exist():
    with pytest.raises(ValueError, match="default_plan"):
        AuthSettings(default_plan="gold")
    with pytest.raises(ValueError, match="names itself"):
        AuthSettings(plans={"pro": {"name": "ultra"}})
