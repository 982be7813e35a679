"""The fields of POST /v1/clone, validated at the API edge and stored with the task."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from server.domain.form_options import FormOptions


class CloneOptions(FormOptions):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    title: str = Field(min_length=1, max_length=120)
    """Name of the new voice, shown in the catalog."""
    description: str = Field(default="", max_length=2000)
    """Free text shown in the catalog."""
    tags: list[str] = Field(default_factory=list, max_length=20)
    """Comma-separated or repeated; used by the catalog's tag filter."""
    languages: list[str] = Field(default_factory=list, max_length=10)
    """Languages the voice is meant for (e.g. en, en-US); comma-separated or repeated."""
    visibility: Literal["private", "public"] = "private"
    """private: only you see and use it; public: every API user can."""
    transcript: str | None = Field(default=None, max_length=5000)
    """What is said in the clip, if known (kept with the voice for engines that use it)."""
    callback_url: str | None = Field(default=None, max_length=2000)
    """Webhook: when the task ends, its status document is POSTed here, signed with your key's
    webhook secret (Standard Webhooks). Not stored with the task's options."""

    @field_validator("tags", "languages", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        values = value if isinstance(value, list) else [value] if isinstance(value, str) else value
        if not isinstance(values, list):
            return values
        return [part.strip() for item in values for part in str(item).split(",") if part.strip()]
