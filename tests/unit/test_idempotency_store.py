"""Idempotency claims, both stores: first claim wins, release frees only one's own claim, a day later
the key is free again."""

from __future__ import annotations

import pytest

from server.domain.idempotency import TTL_S, Claim, RedisIdempotencyStore, SqliteIdempotencyStore
from tests.conftest import sqlite_or_redis
from tests.support.clock import FakeClock


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    return sqlite_or_redis(
        request,
        lambda: SqliteIdempotencyStore(tmp_path / "idem.sqlite3", clock=FakeClock(1000.0)),
        lambda client, prefix: RedisIdempotencyStore(client, prefix),
    )


def test_first_claim_wins_and_release_frees_only_ones_own(store):
    first, second = Claim("fp-a", "task-1"), Claim("fp-a", "task-2")
    assert store.claim("alice", "k", first) == first
    assert store.claim("alice", "k", second) == first  # the loser learns whose claim it met
    assert store.claim("bob", "k", second) == second  # keys are per owner
    store.release("alice", "k", second)  # not its claim: nothing happens
    assert store.current("alice", "k") == first
    store.release("alice", "k", first)
    assert store.current("alice", "k") is None
    assert store.claim("alice", "k", second) == second


def test_a_claim_expires_after_a_day(tmp_path):
    clock = FakeClock(1000.0)
    store = SqliteIdempotencyStore(tmp_path / "idem.sqlite3", clock=clock)
    store.claim("alice", "k", Claim("fp-a", "task-1"))
    clock.now += TTL_S + 1
    assert store.current("alice", "k") is None
    assert store.claim("alice", "k", Claim("fp-b", "task-2")) == Claim("fp-b", "task-2")
