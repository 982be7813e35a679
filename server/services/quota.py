"""Monthly quota charges made when a task is accepted, refunded if the submission fails."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from server.auth.plans import Plan
from server.auth.quotas import QuotaStore
from server.domain.errors import ServiceError
from server.domain.task_store import TooManyActive


class QuotaExceeded(ServiceError):
    status = 429
    code = "quota_exceeded"


@contextlib.contextmanager
def charged(quotas: QuotaStore, owner: str, plan: Plan | None, metric: str, amount: int) -> Iterator[dict[str, int]]:
    """Consume `amount` of the owner's monthly `metric` for the duration of a submission; refunded
    if it fails. Yields what was consumed ({} when the plan has no such quota), for the task to
    keep so that cancelling it can refund the same."""
    if plan is None or amount <= 0:  # authentication off: nobody to count for
        yield {}
        return
    limit = plan.quota_limits().get(metric)  # None: unlimited, but still counted for /v1/usage
    allowed, used = quotas.consume(owner, metric, amount, limit)
    if not allowed:
        raise QuotaExceeded(
            f"this request needs {amount} {metric.replace('_', ' ')}; {used} of the {plan.name} plan's "
            f"{limit} per month are used",
            used=used,
            limit=limit,
        )
    try:
        yield {metric: amount}
    except BaseException:
        quotas.refund(owner, metric, amount)
        raise


def refund(quotas: QuotaStore, owner: str, charge: dict[str, int]) -> None:
    for metric, amount in charge.items():
        quotas.refund(owner, metric, amount)


def upload_limit_bytes(api_limit_bytes: int, plan: Plan | None) -> int:
    if plan is None or plan.max_upload_mb is None:
        return api_limit_bytes
    return min(api_limit_bytes, int(plan.max_upload_mb * 1_000_000))


def audio_limit_seconds(server_limit_s: float, plan: Plan | None) -> float:
    if plan is None or plan.max_audio_minutes is None:
        return server_limit_s
    return min(server_limit_s, float(plan.max_audio_minutes * 60))


def too_many_tasks(plan: Plan | None, exc: TooManyActive) -> QuotaExceeded:
    who = f"the {plan.name} plan" if plan is not None else "this server"
    return QuotaExceeded(
        f"{who} allows {exc.limit} task(s) queued or running at once; {exc.active} are; wait for one to finish",
        code="too_many_tasks",
        active=exc.active,
        limit=exc.limit,
    )
