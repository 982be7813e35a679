"""Both key stores against one contract (SQLite file, real Redis), and header parsing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from server.auth.keys import KEY_PREFIX, ApiKey, RedisKeyStore, SqliteKeyStore, extract_key, hash_key
from tests.conftest import sqlite_or_redis
from tests.support.clock import FakeClock


@pytest.fixture
def clock():
    return FakeClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path, clock):
    return sqlite_or_redis(
        request,
        lambda: SqliteKeyStore(tmp_path / "keys.sqlite3", clock=clock),
        lambda client, prefix: RedisKeyStore(client, prefix=prefix, clock=clock),
    )


def test_create_then_authenticate(store):
    key, plaintext = store.create("alice", "pro")
    assert plaintext.startswith(KEY_PREFIX) and len(plaintext) == len(KEY_PREFIX) + 43
    assert key.owner == "alice" and key.plan == "pro" and key.active
    found = store.authenticate(plaintext)
    assert isinstance(found, ApiKey) and found.key_id == key.key_id and found.owner == "alice"
    assert not any(plaintext in str(value) for value in vars(found).values())
    assert store.get(key.key_id).plan == "pro"


def test_keys_are_unique_and_unguessable(store):
    created = [store.create("alice", "basic") for _ in range(5)]
    assert len({k.key_id for k, _ in created}) == 5 and len({p for _, p in created}) == 5
    assert store.authenticate(created[0][1]).key_id == created[0][0].key_id
    assert store.authenticate(created[1][1]).key_id == created[1][0].key_id


@pytest.mark.parametrize("attempt", ["", "va_", "va_wrong", "nope", "va_" + "x" * 43, "va_" + "y" * 5000])
def test_unknown_keys_are_refused(store, attempt):
    store.create("alice", "basic")
    assert store.authenticate(attempt) is None


def test_revocation_takes_effect_at_once(store):
    key, plaintext = store.create("alice", "basic")
    other, other_plain = store.create("bob", "basic")
    assert store.authenticate(plaintext) is not None
    assert store.revoke(key.key_id) is True
    assert store.authenticate(plaintext) is None
    assert store.authenticate(other_plain).owner == "bob"
    assert store.revoke(key.key_id) is False  # already revoked
    assert store.revoke("0" * 16) is False
    assert store.get(key.key_id).revoked_at == store._clock()
    assert store.count() == 1


def test_set_plan(store):
    key, plaintext = store.create("alice", "basic")
    assert store.set_plan(key.key_id, "ultra") is True
    assert store.authenticate(plaintext).plan == "ultra"
    assert store.set_plan("missing", "pro") is False
    store.revoke(key.key_id)
    assert store.set_plan(key.key_id, "pro") is False  # a revoked key stays revoked and unchanged
    assert store.get(key.key_id).plan == "ultra" and not store.get(key.key_id).active
    assert store.authenticate(plaintext) is None


def test_list_shows_every_key_without_secrets(store, clock):
    a, a_plain = store.create("alice", "basic")
    clock.now += timedelta(seconds=1)
    b, b_plain = store.create("bob", "pro")
    store.revoke(a.key_id)
    listed = store.list()
    assert [k.key_id for k in listed] == [a.key_id, b.key_id]
    assert [k.active for k in listed] == [False, True]
    text = repr(listed)
    assert a_plain not in text and b_plain not in text and hash_key(a_plain) not in text
    assert store.count() == 1


def test_last_used_is_written_at_most_once_a_minute(store, clock, monkeypatch):
    key, plaintext = store.create("alice", "basic")
    assert store.get(key.key_id).last_used_at is None
    writes = []
    original = store._update
    monkeypatch.setattr(store, "_update", lambda key_id, **f: (writes.append(f), original(key_id, **f))[1])
    first = clock.now
    for _ in range(20):
        assert store.authenticate(plaintext).last_used_at == first
        clock.now += timedelta(seconds=2)  # 40 s of traffic
    assert len(writes) == 1 and store.get(key.key_id).last_used_at == first
    clock.now = first + timedelta(seconds=61)
    store.authenticate(plaintext)
    assert len(writes) == 2 and store.get(key.key_id).last_used_at == clock.now


def test_only_the_hash_is_stored(store):
    key, plaintext = store.create("alice", "basic")
    if isinstance(store, SqliteKeyStore):
        conn = sqlite3.connect(store.path)
        rows = conn.execute("SELECT * FROM api_keys").fetchall()
        conn.close()
        raw = repr(rows)
    else:
        client = store._redis
        raw = repr({k: client.dump(k) for k in client.scan_iter(match=f"{store._prefix}*")})
        raw += repr({k: client.hgetall(k) for k in client.scan_iter(match=f"{store._prefix}apikey:*")})
    assert plaintext not in raw and plaintext[len(KEY_PREFIX) :] not in raw
    assert hash_key(plaintext) in raw and key.key_id in raw


def test_sqlite_store_survives_reopening(tmp_path):
    key, plaintext = SqliteKeyStore(tmp_path / "k.sqlite3").create("alice", "pro")
    reopened = SqliteKeyStore(tmp_path / "k.sqlite3")
    assert reopened.authenticate(plaintext).key_id == key.key_id


KEY = "va_" + "A1b2-_" * 7 + "z"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": f"Bearer {KEY}"}, KEY),
        ({"authorization": f"bearer {KEY}"}, KEY),
        ({"AUTHORIZATION": f"  BEARER   {KEY}  "}, KEY),
        ({"X-API-Key": KEY}, KEY),
        ({"x-api-key": f" {KEY} "}, KEY),
        ({"X-Api-Key": KEY, "Authorization": f"Bearer {KEY}"}, KEY),  # the same key twice is fine
        ({"X-Api-Key": KEY, "Authorization": "Basic dXNlcjpwYXNz"}, KEY),  # a proxy's Basic auth is not ours
        ({}, None),
        ({"Content-Type": "application/json"}, None),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"Authorization": "Bearer"}, None),
        ({"Authorization": "Bearer "}, None),
        ({"Authorization": f"Bearer {KEY} extra"}, None),
        ({"Authorization": f"Bearer{KEY}"}, None),
        ({"Authorization": KEY}, None),
        ({"Authorization": "Bearer ké€y"}, None),
        ({"Authorization": "Bearer " + "x" * 300}, None),
        ({"X-API-Key": ""}, None),
        ({"X-API-Key": "two words"}, None),
        ({"X-API-Key": KEY, "Authorization": "Bearer va_other"}, None),  # two different keys: refuse, not guess
    ],
)
def test_extract_key(headers, expected):
    assert extract_key(headers) == expected
