"""Who is calling, and what their plan allows. Every route receives the caller from this one
dependency; health and the API docs do not ask for it, so they stay public.

Rate limiting lives here too, because it is per caller: routes marked `opt={"counts": True}`
(task submissions) spend one request of the plan's hourly budget; every other authenticated route
only reports the budget. Polling therefore never burns a plan.

The hot path does no store round trip and no thread hop: keys come from server/auth/key_cache.py,
reported budgets from server/auth/budget_reports.py (each says how fresh it stays).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import Parameter

from server.auth.budget_reports import BudgetReports
from server.auth.caller import LOCAL_OWNER, Caller
from server.auth.keys import extract_key
from server.domain.errors import Forbidden, RateLimited, Unauthorized
from server.services.container import Services

COUNTS = "counts"  # route opt flag: this route spends rate-limit budget


async def provide_caller(request: Request, services: NamedDependency[Services]) -> Caller:
    # `services` as a parameter, not read from app state: a dependency of a dependency is resolved
    # before it, one at a time, whereas two independent ones are resolved in an anyio task group
    # per request (two spawned tasks, measured as the largest framework cost on cached routes).
    auth = services.settings.auth
    if not auth.enabled:
        return Caller(owner=LOCAL_OWNER)
    plaintext = extract_key(request.headers)
    key = await services.key_cache.authenticate(plaintext) if plaintext else None
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
            await _rate_limit(request, caller.owner, plan.name, plan.requests_per_hour, services.budgets)
        except RateLimited:
            services.rate_limited.increment()
            raise
    return caller


async def _rate_limit(request: Request, owner: str, plan_name: str, per_hour: int, budgets: BudgetReports) -> None:
    # Keyed by owner, not key: rotating or adding keys must not reset a team's budget.
    counts = bool(request.route_handler.opt.get(COUNTS))
    spend = budgets.spend if counts else budgets.report
    decision = await spend(owner, per_hour)
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


# The header a client sets to make a submission safe to retry (see server/services/idempotency.py).
IdempotencyKey = Annotated[
    str | None,
    Parameter(
        header="Idempotency-Key",
        required=False,
        description="Retry-safe submission: the same key and body within 24 h return the first task",
    ),
]
