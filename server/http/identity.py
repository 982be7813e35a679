"""Who is calling, and what their plan allows. Every route receives the caller from this one
dependency; health and the API docs do not ask for it, so they stay public.

Rate limiting lives here too, because it is per caller: routes marked `opt={"counts": True}`
(task submissions) spend one request of the plan's hourly budget; every other authenticated route
only reports the budget. Polling therefore never burns a plan.
"""

from __future__ import annotations

from anyio import to_thread
from litestar import Request

from server.auth.caller import LOCAL_OWNER, Caller
from server.auth.keys import extract_key
from server.auth.ratelimit import RateLimiter
from server.domain.errors import Forbidden, RateLimited, Unauthorized

COUNTS = "counts"  # route opt flag: this route spends rate-limit budget


async def provide_caller(request: Request) -> Caller:
    services = request.app.state.services
    auth = services.settings.auth
    if not auth.enabled:
        return Caller(owner=LOCAL_OWNER)
    plaintext = extract_key(request.headers)
    key = await to_thread.run_sync(services.keys.authenticate, plaintext) if plaintext else None
    if key is None:
        raise Unauthorized(
            "a valid API key is required: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            code="invalid_api_key" if plaintext else "missing_api_key",
        )
    plan = auth.plan(key.plan)
    if plan is None:
        raise Forbidden(f"the key's plan {key.plan!r} is not configured on this server", code="unknown_plan")
    caller = Caller(owner=key.owner, plan=plan, key_id=key.key_id)
    if plan.requests_per_hour is not None:
        try:
            await to_thread.run_sync(
                _rate_limit, request, caller.owner, plan.name, plan.requests_per_hour, services.limiter
            )
        except RateLimited:
            services.rate_limited.increment()
            raise
    return caller


def _rate_limit(request: Request, owner: str, plan_name: str, per_hour: int, limiter: RateLimiter) -> None:
    # Keyed by owner, not key: rotating or adding keys must not reset a team's budget.
    counts = bool(request.route_handler.opt.get(COUNTS))
    spend = limiter.hit if counts else limiter.peek
    decision = spend(owner, per_hour)
    request.state.rate_limit_headers = decision.headers()
    if counts and not decision.allowed:
        error = RateLimited(
            f"the {plan_name} plan allows {decision.limit} task submissions per hour; "
            f"retry in {decision.retry_after_s:.0f} s",
        )
        error.headers = decision.headers()
        raise error


def require_admin(caller: Caller) -> None:
    if caller.plan is not None and not caller.plan.admin:
        raise Forbidden("this needs an admin key")
