"""Who is calling and what their plan lets them spend, for every front-end.

`resolve(api_key, counts=...)` turns the key a client presented (or none) into a `Caller` and, for a
plan with an hourly budget, spends one request of it (`counts`: a task submission) or only reads it
(polls, downloads, listings: polling never burns a plan). `admit(caller)` is that budget step
alone, for a front-end whose caller is configured rather than authenticated (`configured_caller`:
Wyoming, whose protocol has no authentication). The HTTP dependency (server/http/identity.py) only
reads the key from the headers and puts the decision's X-RateLimit-* headers on the response.

The hot path does no store round trip and no thread hop: keys come from server/auth/key_cache.py,
reported budgets from server/auth/budget_reports.py (each says how fresh it stays).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from server.auth.budget_reports import BudgetReports
from server.auth.caller import LOCAL_OWNER, Caller
from server.auth.key_cache import VerifiedKeyCache
from server.auth.plans import AuthSettings
from server.auth.ratelimit import RateLimitDecision
from server.domain.errors import Forbidden, InvalidRequest, RateLimited, Unauthorized


@dataclass(frozen=True)
class Admission:
    caller: Caller
    budget: RateLimitDecision | None  # None: the caller's plan has no hourly budget


class Identity:
    def __init__(
        self,
        auth: AuthSettings,
        key_cache: VerifiedKeyCache,
        budgets: BudgetReports,
        on_refused: Callable[[], None] = lambda: None,
    ) -> None:
        self._auth = auth
        self._key_cache = key_cache
        self._budgets = budgets
        self._on_refused = on_refused  # counts refusals (the rate_limited metric)

    async def resolve(self, api_key: str | None, *, counts: bool) -> Admission:
        """The caller behind `api_key` (None: the client sent none, or a malformed one)."""
        if not self._auth.enabled:
            return Admission(Caller(owner=LOCAL_OWNER), None)
        key = await self._key_cache.authenticate(api_key) if api_key else None
        if key is None:
            raise Unauthorized(
                "a valid API key is required: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                code="invalid_api_key" if api_key else "missing_api_key",
            )
        plan = self._auth.plan(key.plan)
        if plan is None:
            raise Forbidden(f"the key's plan {key.plan!r} is not configured on this server", code="unknown_plan")
        caller = Caller(owner=key.owner, plan=plan, key_id=key.key_id)
        return Admission(caller, await self.admit(caller, counts=counts))

    async def admit(self, caller: Caller, *, counts: bool = True) -> RateLimitDecision | None:
        """Spend (`counts`) or report one request of the caller's hourly budget; RateLimited, with
        the decision's headers, when a counted request is over it."""
        plan = caller.plan
        if plan is None or plan.requests_per_hour is None:
            return None
        # Keyed by owner, not key: rotating or adding keys must not reset a team's budget.
        spend = self._budgets.spend if counts else self._budgets.report
        decision = await spend(caller.owner, plan.requests_per_hour)
        if counts and not decision.allowed:
            self._on_refused()
            error = RateLimited(
                f"the {plan.name} plan allows {decision.limit} task submissions per hour; "
                f"retry in {decision.retry_after_s:.0f} s",
            )
            error.headers = decision.headers()
            raise error
        return decision


def configured_caller(auth: AuthSettings, owner: str, plan_name: str | None, setting: str = "plan") -> Caller:
    """A caller the operator set for a listener without authentication (`setting` names the
    setting in errors); its plan's limits apply as to a key's."""
    if plan_name is None:
        return Caller(owner=owner)
    plan = auth.plan(plan_name)
    if plan is None:
        raise InvalidRequest(
            f"{setting} {plan_name!r} is not a configured plan ({', '.join(auth.plans)})", code="unknown_plan"
        )
    return Caller(owner=owner, plan=plan)
