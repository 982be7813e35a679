"""Who is calling, over HTTP: the thin adapter over the protocol-neutral identity service
(server/services/identity.py). Every route receives the caller from this one dependency; health and
the API docs do not ask for it, so they stay public.

Routes marked `opt={"counts": True}` (task submissions) spend one request of the plan's hourly
budget; every other authenticated route only reports it. Either way the budget goes out as
X-RateLimit-* headers (server/http/headers.py).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import Parameter

from server.auth.caller import Caller
from server.auth.keys import extract_key
from server.domain.errors import Forbidden
from server.services.container import Services

COUNTS = "counts"  # route opt flag: this route spends rate-limit budget


async def provide_caller(request: Request, services: NamedDependency[Services]) -> Caller:
    # `services` as a parameter, not read from app state: a dependency of a dependency is resolved
    # before it, one at a time, whereas two independent ones are resolved in an anyio task group
    # per request (two spawned tasks, measured as the largest framework cost on cached routes).
    counts = bool(request.route_handler.opt.get(COUNTS))
    admission = await services.identity.resolve(extract_key(request.headers), counts=counts)
    if admission.budget is not None:
        request.state.rate_limit_headers = admission.budget.headers()
    return admission.caller


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
