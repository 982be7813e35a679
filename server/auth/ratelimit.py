"""Per-key request rate limits with GCRA (the generic cell rate algorithm), shared by all API nodes.

GCRA keeps one timestamp per key, the theoretical arrival time (TAT): when the key's budget would be
full again if no more requests came. A request of cost c moves it c * period/limit into the future
and is refused if that puts it more than one period ahead of now. The effect is a bucket of `limit`
requests refilling continuously, one every period/limit seconds: a spent budget comes back one
request at a time, with no window edge where a fixed-window counter would let 2x limit through in
a few seconds. (Over any span t the most a key gets is limit + t * limit/period.)

`limit_per_hour` is the limit per `period_s`, which is an hour except in tests.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

    from server.domain.async_redis import LoopBoundRedis
    from server.settings import Settings

HOUR = 3600.0
_EPSILON_S = 1e-6  # the Redis script's resolution; below it, float error is not a reason to refuse


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    """Requests (of cost 1) that would still be accepted right now."""
    reset_after_s: float
    """Seconds until the full budget is available again (0 when it is full)."""
    retry_after_s: float | None
    """Seconds until this request would be accepted; None when it was."""

    def headers(self) -> dict[str, str]:
        """X-RateLimit-* (Reset in seconds from now, not a unix time) and, when refused, Retry-After."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_after_s)),
        }
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_s)))  # 0 would invite a busy loop
        return headers


class RateLimiter(Protocol):
    period_s: float

    def hit(self, key: str, limit_per_hour: int, cost: int = 1) -> RateLimitDecision:
        """Spend `cost` from the key's budget if it fits; a refused hit spends nothing."""

    def peek(self, key: str, limit_per_hour: int, cost: int = 1) -> RateLimitDecision:
        """Whether `cost` would fit now, and the current budget, without spending anything."""

    async def apeek(self, key: str, limit_per_hour: int) -> RateLimitDecision:
        """`peek` with cost 1, awaited on the event loop instead of blocking it."""


def _check(limit: int, cost: int) -> None:
    if limit < 1:
        raise ValueError("limit must be at least 1 (leave unlimited plans out of rate limiting)")
    if not 1 <= cost <= limit:
        raise ValueError(f"cost must be between 1 and the limit ({limit}), got {cost}")


def _fits(span: float, limit: int, period: float) -> int:
    # Requests that fit in `span` of budget; the epsilon absorbs float error (2/3 * 3 < 2).
    return max(0, min(limit, math.floor(span * limit / period + 1e-6)))


def gcra(now: float, tat: float | None, period: float, limit: int, cost: int, spend: bool):
    """One GCRA step: (decision, TAT to store or None). The Lua script below is this, in microseconds.

    Works with how far the TAT is ahead of now rather than with absolute times, so that float
    cancellation (now + period - period > now) cannot refuse a request that exactly fits."""
    ahead = 0.0 if tat is None else max(0.0, tat - now)
    new_ahead = ahead + cost * period / limit
    late = new_ahead - period
    if late > _EPSILON_S or not spend:
        retry = late if late > _EPSILON_S else None
        return RateLimitDecision(retry is None, limit, _fits(period - ahead, limit, period), ahead, retry), None
    return RateLimitDecision(True, limit, _fits(period - new_ahead, limit, period), new_ahead, None), now + new_ahead


class MemoryRateLimiter:
    """For the embedded mode: one process, so a dict and a lock are the whole shared state."""

    def __init__(self, period_s: float = HOUR, clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s = period_s
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()
        self._hits = 0

    def _step(self, key: str, limit: int, cost: int, spend: bool) -> RateLimitDecision:
        _check(limit, cost)
        with self._lock:
            now = self._clock()
            decision, new_tat = gcra(now, self._tat.get(key), self.period_s, limit, cost, spend)
            if new_tat is not None:
                self._tat[key] = new_tat
                self._hits += 1
                if self._hits % 4096 == 0:  # keys whose budget is full again carry no state
                    self._tat = {k: v for k, v in self._tat.items() if v > now}
            return decision

    def hit(self, key: str, limit_per_hour: int, cost: int = 1) -> RateLimitDecision:
        return self._step(key, limit_per_hour, cost, True)

    def peek(self, key: str, limit_per_hour: int, cost: int = 1) -> RateLimitDecision:
        return self._step(key, limit_per_hour, cost, False)

    async def apeek(self, key: str, limit_per_hour: int) -> RateLimitDecision:
        return self.peek(key, limit_per_hour)  # a dict read under a lock held for microseconds


# Integer microseconds throughout: Redis truncates Lua numbers it returns, and TIME is the server's
# clock, so API nodes with skewed clocks still share one timeline. The key expires when the budget
# is full again, so idle keys cost nothing.
_GCRA_LUA = """
local period, limit, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function fits(span)
  return math.max(0, math.min(limit, math.floor(span * limit / period + 1e-6)))
end
local ahead = math.max(0, (tonumber(redis.call('GET', KEYS[1])) or now) - now)
local new_ahead = ahead + cost * period / limit
local late = new_ahead - period
if late > 0.5 or ARGV[4] == '0' then
  local retry = -1
  if late > 0.5 then retry = math.ceil(late) end
  return {fits(period - ahead), ahead, retry}
end
new_ahead = math.floor(new_ahead + 0.5)
redis.call('SET', KEYS[1], string.format('%d', now + new_ahead), 'PX', math.max(1, math.ceil(new_ahead / 1000)))
return {fits(period - new_ahead), new_ahead, -1}
"""


class RedisRateLimiter:
    """For the distributed mode: the TAT lives at `{prefix}ratelimit:{key}`; one script, one round trip."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "voice:",
        period_s: float = HOUR,
        async_redis: LoopBoundRedis | None = None,
    ) -> None:
        self.period_s = period_s
        self._prefix = prefix
        self._script = client.register_script(_GCRA_LUA)
        self._async_redis = async_redis

    def _args(self, key: str, limit: int, cost: int, spend: bool) -> dict:
        _check(limit, cost)
        return {
            "keys": [f"{self._prefix}ratelimit:{key}"],
            "args": [round(self.period_s * 1e6), limit, cost, int(spend)],
        }

    @staticmethod
    def _decision(limit: int, reply) -> RateLimitDecision:
        remaining, reset_us, retry_us = reply
        retry = None if retry_us < 0 else retry_us / 1e6
        return RateLimitDecision(retry is None, limit, int(remaining), reset_us / 1e6, retry)

    def _step(self, key: str, limit: int, cost: int, spend: bool) -> RateLimitDecision:
        return self._decision(limit, self._script(**self._args(key, limit, cost, spend)))

    async def apeek(self, key: str, limit_per_hour: int) -> RateLimitDecision:
        if self._async_redis is None:
            raise RuntimeError("this limiter was built without an asyncio client")
        script = self._async_redis.client().register_script(_GCRA_LUA)  # a sha1 of the text: no round trip
        return self._decision(limit_per_hour, await script(**self._args(key, limit_per_hour, 1, False)))

    def hit(self, key: str, limit_per_hour: int, cost: int = 1) -> RateLimitDecision:
        return self._step(key, limit_per_hour, cost, True)

    def peek(self, key: str, limit_per_hour: int, cost: int = 1) -> RateLimitDecision:
        return self._step(key, limit_per_hour, cost, False)


def open_rate_limiter(settings: Settings, period_s: float = HOUR) -> RateLimiter:
    """Redis when the server runs distributed (every node shares the budget), else in-process."""
    if settings.redis_url:
        from server.domain.async_redis import LoopBoundRedis
        from server.domain.factory import redis_client

        return RedisRateLimiter(
            redis_client(settings.redis_url),
            prefix=settings.redis_prefix,
            period_s=period_s,
            async_redis=LoopBoundRedis(settings.redis_url),
        )
    return MemoryRateLimiter(period_s=period_s)
