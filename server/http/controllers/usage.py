"""/v1/usage: the caller's plan, rate-limit budget and monthly quota use."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency

from server.auth.caller import Caller
from server.services.container import Services


@get("/usage", sync_to_thread=True, tags=["usage"], summary="Your plan, requests left this hour, quota use")
def usage(request: Request, caller: NamedDependency[Caller], services: NamedDependency[Services]) -> dict[str, Any]:
    plan = caller.plan
    if plan is None:
        return {"owner": caller.owner, "plan": None, "requests": None, "quotas": {}}
    limits = plan.quota_limits()
    used = services.quotas.usage(caller.owner)
    rate = request.state.get("rate_limit_headers") or {}
    return {
        "owner": caller.owner,
        "plan": plan.name,
        "requests": {
            "limit_per_hour": plan.requests_per_hour,
            "remaining": int(rate["X-RateLimit-Remaining"]) if rate else None,
            "reset_in_s": int(rate["X-RateLimit-Reset"]) if rate else None,
        },
        "quotas": {metric: {"used": used.get(metric, 0), "limit": limits.get(metric)} for metric in limits},
    }
