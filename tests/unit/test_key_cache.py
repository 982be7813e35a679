"""The cache of verified keys: what it may answer from memory, and when it must ask the store."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from server.auth.key_cache import VerifiedKeyCache, _Entry, _generation_reader
from server.auth.keys import RedisKeyStore, SqliteKeyStore, hash_key
from server.settings import Settings
from tests.support.clock import FakeClock

CHECK_S = 0.5


class CountingStore(SqliteKeyStore):
    """A real SQLite key store that counts the lookups reaching it."""

    lookups = 0

    def authenticate(self, plaintext):
        self.lookups += 1
        return super().authenticate(plaintext)


@pytest.fixture
def clock():
    return FakeClock(1000.0)


@pytest.fixture
def store(tmp_path):
    return CountingStore(tmp_path / "keys.sqlite3")


def other_node_store(store: SqliteKeyStore) -> SqliteKeyStore:
    """The same database through another object: what a second API node or the CLI changes."""
    return SqliteKeyStore(store.path)


def make_cache(store, clock, generation=None, ttl_s=10.0) -> VerifiedKeyCache:
    async def read_generation() -> int:
        return store.generation()

    return VerifiedKeyCache(store, generation or read_generation, ttl_s=ttl_s, check_every_s=CHECK_S, clock=clock)


def auth(cache: VerifiedKeyCache, plaintext: str):
    return asyncio.run(cache.authenticate(plaintext))


def test_a_repeat_request_does_not_reach_the_store(store, clock):
    key, plaintext = store.create("alice", "pro")
    cache = make_cache(store, clock)
    assert auth(cache, plaintext).key_id == key.key_id
    clock.now += 0.2
    assert auth(cache, plaintext).key_id == key.key_id
    assert store.lookups == 1


def test_the_cache_never_authenticates_a_key_whose_hash_differs(store, clock):
    _, alice = store.create("alice", "pro")
    cache = make_cache(store, clock)
    assert auth(cache, alice).owner == "alice"
    assert auth(cache, alice[:-1] + ("A" if alice[-1] != "A" else "B")) is None  # one character off
    # An entry filed under another key's hash (a bug elsewhere, or a poisoned dict) is not trusted:
    # the store is asked, and it does not know that key.
    intruder = "va_" + "x" * 43
    cache._entries[hash_key(intruder)] = replace(cache._entries[hash_key(alice)], expires_at=clock.now + 10)
    before = store.lookups
    assert auth(cache, intruder) is None
    assert store.lookups == before + 1
    assert isinstance(cache._entries[hash_key(intruder)], _Entry)  # still there, still refused
    assert auth(cache, intruder) is None


def test_malformed_keys_are_refused_without_a_lookup(store, clock):
    cache = make_cache(store, clock)
    for attempt in ("", "nope", "va_" + "y" * 5000):
        assert auth(cache, attempt) is None
    assert store.lookups == 0


def test_a_revocation_on_another_node_is_honoured_after_one_check_interval(store, clock):
    key, plaintext = store.create("alice", "pro")
    cache = make_cache(store, clock)
    assert auth(cache, plaintext) is not None
    assert other_node_store(store).revoke(key.key_id)
    clock.now += CHECK_S - 0.01  # the documented bound: the cache may still answer this one
    assert auth(cache, plaintext) is not None
    clock.now += 0.01
    assert auth(cache, plaintext) is None


def test_a_revocation_through_this_nodes_store_is_honoured_at_once(store, clock):
    key, plaintext = store.create("alice", "pro")
    cache = make_cache(store, clock)
    assert auth(cache, plaintext) is not None
    store.revoke(key.key_id)
    assert auth(cache, plaintext) is None


def test_a_plan_change_on_another_node_applies_after_one_check_interval(store, clock):
    key, plaintext = store.create("alice", "basic")
    cache = make_cache(store, clock)
    assert auth(cache, plaintext).plan == "basic"
    other_node_store(store).set_plan(key.key_id, "ultra")
    clock.now += CHECK_S
    assert auth(cache, plaintext).plan == "ultra"


def test_entries_expire_after_their_ttl(store, clock):
    _, plaintext = store.create("alice", "pro")
    cache = make_cache(store, clock, ttl_s=2.0)
    auth(cache, plaintext)
    clock.now += 1.0
    auth(cache, plaintext)
    assert store.lookups == 1
    clock.now += 1.5
    auth(cache, plaintext)
    assert store.lookups == 2


def test_when_the_generation_cannot_be_read_every_request_asks_the_store(store, clock):
    _, plaintext = store.create("alice", "pro")

    async def unreachable() -> int:
        raise ConnectionError("redis down")

    cache = make_cache(store, clock, generation=unreachable)
    assert auth(cache, plaintext).owner == "alice"
    assert auth(cache, plaintext).owner == "alice"
    assert store.lookups == 2 and not cache._entries


def test_a_lookup_that_straddles_a_revocation_is_not_remembered(store, clock):
    key, plaintext = store.create("alice", "pro")
    cache = make_cache(store, clock)
    revoked_during_lookup = store.authenticate

    def slow_lookup(secret):
        found = revoked_during_lookup(secret)  # read while the key was still active...
        store.revoke(key.key_id)  # ...and revoked before the answer is back
        return found

    store.authenticate = slow_lookup
    assert auth(cache, plaintext) is not None  # this request raced the revocation
    del store.authenticate
    assert auth(cache, plaintext) is None  # but its answer was not cached


def test_distributed_mode_reads_the_generation_from_redis(redis_url, redis_prefix):
    import redis

    store = RedisKeyStore(redis.Redis.from_url(redis_url), prefix=redis_prefix)
    read = _generation_reader(Settings(redis_url=redis_url, redis_prefix=redis_prefix), store)
    key, _ = store.create("alice", "pro")
    assert asyncio.run(read()) == store.generation() == 0
    store.set_plan(key.key_id, "ultra")
    store.revoke(key.key_id)
    assert asyncio.run(read()) == store.generation() == 2
