"""Rate-limit budgets for routes that only report them (polls, downloads, listings), mostly without
a store round trip.

Submissions spend budget in the shared limiter exactly as before (GCRA, atomic in Redis when
distributed), and the decision they get back is remembered per owner. A reporting route then
answers from the last decision this node saw, carried forward in time with the same GCRA arithmetic
(a budget refills at a known rate, so "how full is it now" follows from "how full was it then"),
as long as that decision is at most `max_age_s` old; otherwise it peeks the limiter once and
remembers that. Submissions made on other nodes therefore show in the reports within `max_age_s`,
and never affect what a submission is allowed: that is always decided by the store.

No web framework here: the identity dependency calls `spend` or `report`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from anyio import to_thread

from server.auth.ratelimit import RateLimitDecision, RateLimiter, gcra


@dataclass(frozen=True)
class _Seen:
    limit: int
    decision: RateLimitDecision
    at: float  # the clock when the decision was known


class BudgetReports:
    def __init__(
        self,
        limiter: RateLimiter,
        max_age_s: float = 1.0,
        max_owners: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = limiter
        self._max_age_s = max_age_s
        self._max_owners = max_owners
        self._clock = clock
        self._seen: dict[str, _Seen] = {}

    async def spend(self, owner: str, limit: int) -> RateLimitDecision:
        """One counted request, decided by the limiter (the shared store); refused ones spend nothing."""
        decision = await to_thread.run_sync(self._limiter.hit, owner, limit)
        self._remember(owner, limit, decision)
        return decision

    async def report(self, owner: str, limit: int) -> RateLimitDecision:
        """The budget now, as a peek would tell it, from what this node last saw when recent enough."""
        now = self._clock()
        seen = self._seen.get(owner)
        if seen is not None and seen.limit == limit and now - seen.at <= self._max_age_s:
            return self.carried_forward(seen, now)
        decision = await self._limiter.apeek(owner, limit)
        self._remember(owner, limit, decision)
        return decision

    def carried_forward(self, seen: _Seen, now: float) -> RateLimitDecision:
        # The decision's reset_after_s is how far the owner's TAT was ahead of `seen.at`.
        tat = seen.at + seen.decision.reset_after_s
        decision, _ = gcra(now, tat, self._limiter.period_s, seen.limit, 1, spend=False)
        return decision

    def _remember(self, owner: str, limit: int, decision: RateLimitDecision) -> None:
        now = self._clock()
        if owner not in self._seen and len(self._seen) >= self._max_owners:
            self._seen = {o: s for o, s in self._seen.items() if now - s.at <= self._max_age_s}
            while len(self._seen) >= self._max_owners:
                del self._seen[next(iter(self._seen))]
        self._seen[owner] = _Seen(limit, decision, now)
