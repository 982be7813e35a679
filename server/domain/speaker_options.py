"""The fields of POST /v1/speakers and of a speaker task, validated at the API edge."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from server.domain.form_options import FormOptions


class SpeakerOptions(FormOptions):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field(min_length=1, max_length=120)
    """The name transcripts give this person when they are recognised."""
    description: str = Field(default="", max_length=2000)
    """Free text, kept with the speaker."""


class SpeakerTaskParams(FormOptions):
    """What a speaker task does (stored with the task; never sent by a client as such)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["enrol", "add_sample", "learn"]
    name: str | None = None  # enrol
    description: str = ""  # enrol
    speaker_id: str | None = None  # add_sample, learn
    source_task: str | None = None  # learn: the STT task whose cluster audio becomes a sample
    label: str | None = None  # learn: that cluster
