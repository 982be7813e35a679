"""What every Wyoming connection shares: the services, the listener's settings and the one caller
that Wyoming connections act as (the protocol has no authentication)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from server.auth.caller import Caller
from server.domain.errors import InvalidRequest, RateLimited
from server.services.container import Services
from server.settings import Settings, WyomingSettings


def wyoming_caller(settings: Settings) -> Caller:
    """The operator's owner/plan for Wyoming connections, so quotas and limits apply as to a key."""
    name = settings.wyoming.plan
    if name is None:
        return Caller(owner=settings.wyoming.owner)
    plan = settings.auth.plan(name)
    if plan is None:
        raise InvalidRequest(
            f"wyoming.plan {name!r} is not a configured plan ({', '.join(settings.auth.plans)})", code="unknown_plan"
        )
    return Caller(owner=settings.wyoming.owner, plan=plan)


@dataclass(frozen=True)
class WyomingContext:
    services: Services
    caller: Caller

    @classmethod
    def build(cls, services: Services) -> WyomingContext:
        return cls(services=services, caller=wyoming_caller(services.settings))

    @property
    def settings(self) -> WyomingSettings:
        return self.services.settings.wyoming

    async def admit(self) -> None:
        """Spend one request of the plan's hourly budget, as an HTTP submission does."""
        plan = self.caller.plan
        if plan is None or plan.requests_per_hour is None:
            return
        decision = await asyncio.to_thread(self.services.limiter.hit, self.caller.owner, plan.requests_per_hour)
        if not decision.allowed:
            self.services.rate_limited.increment()
            raise RateLimited(
                f"the {plan.name} plan allows {decision.limit} requests per hour; "
                f"retry in {decision.retry_after_s:.0f} s"
            )
