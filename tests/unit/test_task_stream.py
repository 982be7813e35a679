"""The partial-output channel in both modes: in memory (embedded) and a Redis Stream (distributed).

A follower started before the worker publishes gets every item in order and stops at the end
marker; one started late still gets everything kept; a task that ended without an end marker (a
worker that died) ends the follow once the store says so; a capped stream says it lost items.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.services.task_stream import AUDIO, LocalTaskStream, RedisTaskStream, StreamTruncated


@pytest.fixture(params=["local", "redis"])
def make_stream(request):
    def make(max_items: int = 1000):
        if request.param == "local":
            return LocalTaskStream(max_items=max_items, retain_s=60)
        import redis

        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        return RedisTaskStream(redis.Redis.from_url(url), url, prefix, max_items=max_items, retain_s=60)

    return make


async def never() -> bool:
    return False


def collect(stream, task_id, is_over=never, poll_s=0.2):
    async def run():
        try:
            return [item async for item in stream.follow(task_id, is_over, poll_s)]
        finally:
            if hasattr(stream, "close"):
                await stream.close()

    return asyncio.run(asyncio.wait_for(run(), 20))


def worker(stream, task_id, n, delay=0.02):
    def run():
        stream.reset(task_id)
        for i in range(n):
            stream.publish(task_id, AUDIO, bytes([i]) * 3, {"i": i})
            threading.Event().wait(delay)
        stream.end(task_id)

    return threading.Thread(target=run)


def test_a_follower_gets_every_item_in_order_and_stops_at_the_end(make_stream):
    stream = make_stream()
    thread = worker(stream, "t1", 8)
    threading.Timer(0.2, thread.start).start()  # the follower is waiting before the first item
    items = collect(stream, "t1")
    thread.join()
    assert [i.seq for i in items] == list(range(8))
    assert [i.meta["i"] for i in items] == list(range(8)) and items[3].data == b"\x03\x03\x03"
    assert {i.kind for i in items} == {AUDIO}


def test_a_late_follower_gets_what_is_kept(make_stream):
    stream = make_stream()
    thread = worker(stream, "t2", 5, delay=0)
    thread.start()
    thread.join()
    assert [i.seq for i in collect(stream, "t2")] == list(range(5))


def test_a_task_that_ended_without_an_end_marker_ends_the_follow(make_stream):
    stream = make_stream()
    stream.reset("t3")
    stream.publish("t3", AUDIO, b"abc")

    async def over() -> bool:
        return True

    items = collect(stream, "t3", is_over=over)
    assert [i.data for i in items] == [b"abc"]


def test_items_dropped_by_the_cap_are_reported(make_stream):
    stream = make_stream(max_items=16)
    stream.reset("t4")
    for i in range(400):  # Redis trims approximately (whole nodes), so well past the cap
        stream.publish("t4", AUDIO, bytes([i % 256]))
    stream.end("t4")
    with pytest.raises(StreamTruncated):
        collect(stream, "t4")


def test_publishing_while_redis_is_away_does_not_fail_the_task(redis_url, redis_prefix):
    """Partial output is advisory, like progress: with Redis unreachable the worker's publish,
    end and reset log and return (the fault test restarts Redis mid-task and expects it to finish);
    the item lost leaves a gap its followers report as StreamTruncated once Redis is back."""
    import redis

    away = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    stream = RedisTaskStream(redis.Redis.from_url(away, socket_connect_timeout=0.2), away, redis_prefix)
    stream.reset("t1")
    stream.publish("t1", AUDIO, b"abc", {"i": 0})
    stream.end("t1")

    back = RedisTaskStream(redis.Redis.from_url(redis_url), redis_url, redis_prefix, retain_s=60)
    back._seq["t2"] = 1  # item 0 was published while Redis was away
    back.publish("t2", AUDIO, b"def", {"i": 1})
    back.end("t2")
    with pytest.raises(StreamTruncated):
        collect(back, "t2")
