"""Plans: what a key may do, per hour and per month. Configured under `settings.auth`.

A limit of None means unlimited. Entries in `plans` are merged over DEFAULT_PLANS field by field,
so VOICE_API_AUTH__PLANS__PRO__REQUESTS_PER_HOUR=5000 changes one number and keeps the rest.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ADMIN_PLAN = "admin"


class Plan(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    name: str = ""
    """The plan's name; filled in from its key in `plans`."""
    requests_per_hour: int | None = Field(default=None, ge=1)
    """Counted requests (submissions) per rolling hour; None is unlimited."""
    tts_characters_per_month: int | None = Field(default=None, ge=0)
    """Spoken characters per UTC calendar month; None is unlimited."""
    stt_minutes_per_month: int | None = Field(default=None, ge=0)
    """Minutes of transcribed audio per UTC calendar month; None is unlimited."""
    clones_per_month: int | None = Field(default=None, ge=0)
    """Voice clones per UTC calendar month; None is unlimited."""
    max_concurrent_tasks: int | None = Field(default=None, ge=1)
    """Tasks of one owner queued or running at once; None is unlimited."""
    max_upload_mb: float | None = Field(default=None, gt=0)
    """Largest upload for this plan, never above the server's api.max_upload_mb; None: that limit."""
    max_audio_minutes: float | None = Field(default=None, gt=0)
    """Longest audio per upload (STT or clone reference), never above stt.max_duration_s; None: that
    limit. Read from the container's header before a task is created."""
    admin: bool = False
    """May manage keys (create, list, revoke, change plans) through the API."""

    def quota_limits(self) -> dict[str, int | None]:
        """Monthly limits in the units QuotaStore counts (stt in seconds, so partial minutes count)."""
        stt = None if self.stt_minutes_per_month is None else self.stt_minutes_per_month * 60
        return {"tts_characters": self.tts_characters_per_month, "stt_seconds": stt, "clones": self.clones_per_month}


# The hosted listing: BASIC is free with a small monthly allowance, PRO and ULTRA are sold by
# hourly request rate. Operators change any of it through configuration.
DEFAULT_PLANS: dict[str, Plan] = {
    "basic": Plan(
        name="basic",
        requests_per_hour=100,
        tts_characters_per_month=10_000,
        stt_minutes_per_month=60,
        clones_per_month=5,
        max_concurrent_tasks=1,
        max_upload_mb=25,
        max_audio_minutes=30,
    ),
    "pro": Plan(name="pro", requests_per_hour=2000, max_concurrent_tasks=5),
    "ultra": Plan(name="ultra", requests_per_hour=3000, max_concurrent_tasks=10),
    ADMIN_PLAN: Plan(name=ADMIN_PLAN, admin=True),
}


class AuthSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    enabled: bool = True
    """Require an API key on /v1 requests (health and docs stay open). Off: every request belongs to
    one local owner and no limits apply."""
    plans: dict[str, Plan] = DEFAULT_PLANS
    """Plans by name (basic, pro, ultra, admin), merged over the defaults field by field."""
    default_plan: str = "basic"
    """Plan given to new keys when none is named."""
    key_cache_ttl_s: float = Field(default=10.0, ge=0)
    """How long an API node remembers a verified key (by its hash) before asking the store again;
    0 asks every time. Revocations do not wait for this: see key_check_interval_s."""
    key_check_interval_s: float = Field(default=0.5, gt=0, le=1.0)
    """How often a node reads the key store's revocation generation; a revocation or plan change
    made anywhere is honoured by every node within this (plus one store round trip)."""
    budget_report_max_age_s: float = Field(default=1.0, ge=0)
    """Routes that only report the rate-limit budget (polls, downloads, listings) answer from the
    last decision this node saw for the owner, extrapolated, if it is at most this old; submissions
    on other nodes show within it. Submissions always decide in the shared store."""

    @field_validator("plans", mode="before")
    @classmethod
    def _merge_over_defaults(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {name: plan.model_dump() for name, plan in DEFAULT_PLANS.items()}
        for name, override in value.items():
            override = override.model_dump(exclude_unset=True) if isinstance(override, Plan) else override
            if not isinstance(override, dict):
                raise ValueError(f"plan {name!r} must be a mapping of fields")
            if override.get("name", name) not in ("", name):
                raise ValueError(f"plan {name!r} names itself {override['name']!r}")
            merged[name] = {**merged.get(name, {}), **override, "name": name}
        return merged

    @model_validator(mode="after")
    def _default_plan_exists(self) -> AuthSettings:
        if self.default_plan not in self.plans:
            raise ValueError(f"default_plan {self.default_plan!r} is not one of {sorted(self.plans)}")
        return self

    def plan(self, name: str) -> Plan | None:
        return self.plans.get(name)
