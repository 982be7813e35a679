"""Who is calling and what their plan allows, independent of the protocol they called through."""

from __future__ import annotations

from dataclasses import dataclass

from server.auth.plans import Plan

LOCAL_OWNER = "local"  # the owner of every task when authentication is disabled


@dataclass(frozen=True)
class Caller:
    owner: str
    plan: Plan | None = None  # None: authentication is disabled (local development)
    key_id: str | None = None
