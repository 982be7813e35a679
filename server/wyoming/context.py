"""What every Wyoming connection shares: the services, the listener's settings and the one caller
that Wyoming connections act as (the protocol has no authentication)."""

from __future__ import annotations

from dataclasses import dataclass

from server.auth.caller import Caller
from server.services.container import Services
from server.services.identity import configured_caller
from server.settings import Settings, WyomingSettings


def wyoming_caller(settings: Settings) -> Caller:
    """The operator's owner/plan for Wyoming connections, so quotas and limits apply as to a key."""
    return configured_caller(settings.auth, settings.wyoming.owner, settings.wyoming.plan, setting="wyoming.plan")


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
        await self.services.identity.admit(self.caller, counts=True)
