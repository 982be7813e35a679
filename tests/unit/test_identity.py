"""The protocol-neutral identity core: API key to caller, plan budgets spent or only reported, and
the configured caller of a listener without authentication. No web framework in sight."""

from __future__ import annotations

import asyncio

import pytest

from server.auth.budget_reports import BudgetReports
from server.auth.key_cache import VerifiedKeyCache
from server.auth.keys import SqliteKeyStore
from server.auth.plans import AuthSettings
from server.auth.ratelimit import MemoryRateLimiter
from server.domain.errors import Forbidden, InvalidRequest, RateLimited, Unauthorized
from server.services.container import Counter
from server.services.identity import Identity, configured_caller
from tests.support.clock import FakeClock

AUTH = AuthSettings(plans={"tiny": {"requests_per_hour": 2}})


@pytest.fixture
def keys(tmp_path):
    return SqliteKeyStore(tmp_path / "keys.sqlite3")


def identity(keys, auth=AUTH, refused: Counter | None = None) -> Identity:
    clock = FakeClock(100.0)

    async def generation() -> int:
        return keys.generation()

    cache = VerifiedKeyCache(keys, generation, ttl_s=10.0, check_every_s=0.5, clock=clock)
    budgets = BudgetReports(MemoryRateLimiter(clock=clock), clock=clock)
    return Identity(auth, cache, budgets, on_refused=(refused or Counter()).increment)


def test_a_key_becomes_its_owner_and_plan(keys):
    key, plaintext = keys.create("team-a", "tiny")
    admission = asyncio.run(identity(keys).resolve(plaintext, counts=False))
    assert admission.caller.owner == "team-a" and admission.caller.key_id == key.key_id
    assert admission.caller.plan is not None and admission.caller.plan.name == "tiny"
    assert admission.budget is not None and admission.budget.limit == 2


def test_missing_bad_and_unplanned_keys_are_refused_with_their_codes(keys):
    core = identity(keys)
    for api_key, code in ((None, "missing_api_key"), ("va_nonsense", "invalid_api_key")):
        with pytest.raises(Unauthorized) as caught:
            asyncio.run(core.resolve(api_key, counts=False))
        assert caught.value.code == code
    _, plaintext = keys.create("team-b", "tiny")
    with pytest.raises(Forbidden) as caught:
        asyncio.run(identity(keys, auth=AuthSettings()).resolve(plaintext, counts=False))
    assert caught.value.code == "unknown_plan"


def test_counted_requests_spend_the_budget_and_reports_do_not(keys):
    refused = Counter()
    core = identity(keys, refused=refused)
    _, plaintext = keys.create("team-c", "tiny")

    async def scenario() -> None:
        for _ in range(3):  # polls: never spend
            assert (await core.resolve(plaintext, counts=False)).budget.remaining == 2
        await core.resolve(plaintext, counts=True)
        caller = (await core.resolve(plaintext, counts=True)).caller
        with pytest.raises(RateLimited) as caught:
            await core.admit(caller)  # the step a listener without keys (Wyoming) calls alone
        assert caught.value.headers["X-RateLimit-Remaining"] == "0" and "Retry-After" in caught.value.headers

    asyncio.run(scenario())
    assert refused.value == 1


def test_without_authentication_everyone_is_the_local_owner(keys):
    admission = asyncio.run(identity(keys, auth=AuthSettings(enabled=False)).resolve(None, counts=True))
    assert admission.caller.owner == "local" and admission.caller.plan is None and admission.budget is None


def test_configured_callers_take_a_configured_plan_only():
    assert configured_caller(AUTH, "kitchen", None).plan is None
    caller = configured_caller(AUTH, "kitchen", "tiny")
    assert caller.owner == "kitchen" and caller.plan is not None
    assert (caller.plan.name, caller.plan.requests_per_hour) == ("tiny", 2)
    with pytest.raises(InvalidRequest) as caught:
        configured_caller(AUTH, "kitchen", "gold", setting="wyoming.plan")
    assert caught.value.code == "unknown_plan" and "wyoming.plan" in caught.value.message
