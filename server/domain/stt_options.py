"""Options of an STT request, validated once at the API edge and stored with the task."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from model_store.speakers import is_valid_id as is_valid_speaker_id
from server.domain.form_options import FormOptions
from server.services.languages import normalise_language

MAX_SPEAKERS = 20
MAX_KNOWN_SPEAKERS = 100
MAX_REFERENCES = 4  # OpenAI's limit on known_speaker_references[]


class SttOptions(FormOptions):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    language: str | None = None
    """ISO 639-1 code; omit to detect (multilingual models) or use the model's only language."""
    diarize: bool = True
    """Label speakers (SPEAKER_00, SPEAKER_01, … in order of first appearance)."""
    num_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    """Exact number of speakers, when known."""
    min_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    """Lower bound on the number of speakers."""
    max_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    """Upper bound on the number of speakers."""
    word_timestamps: bool = False
    """Include words with start, end, probability and speaker in each segment."""
    callback_url: str | None = Field(default=None, max_length=2000)
    """Webhook: when the task ends, its status document is POSTed here, signed with your key's
    webhook secret (Standard Webhooks). Not stored with the task's options."""
    prompt: str | None = Field(default=None, max_length=2000)
    """Context for the decoder (Whisper's initial prompt): names, spellings, the previous sentence."""
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    """Decoding temperature; omit for Whisper's fallback schedule (0.0 rising when decoding fails)."""
    streaming: bool = False
    """Decode the first few seconds on their own so the first segments reach a follower of the task's
    output sooner (the OpenAI route's stream=true); a word at that cut can differ from a plain decode."""
    task: Literal["transcribe", "translate"] = "transcribe"
    """translate: speech in any language to English text (needs a multilingual model)."""
    speakers: list[str] | None = Field(default=None, max_length=MAX_KNOWN_SPEAKERS)
    """Known speakers to recognise: `all` (every speaker you enrolled with POST /v1/speakers) or
    speaker ids (comma-separated or repeated). A recognised cluster carries the speaker's name."""
    known_speakers: list[str] | None = Field(default=None, max_length=MAX_REFERENCES)
    """Names of reference clips sent with this request only (OpenAI's known_speaker_names[], with
    known_speaker_references[] on /v1/audio/transcriptions); matched like enrolled speakers."""
    keep_speaker_audio: bool = False
    """Keep each speaker's clean speech with the task (as identification does), so a cluster labelled
    later with POST /v1/stt/{task_id}/speakers can become a sample of that speaker."""

    @field_validator("speakers", mode="before")
    @classmethod
    def _split_speakers(cls, value: Any) -> Any:
        values = value if isinstance(value, list) else [value] if isinstance(value, str) else value
        if not isinstance(values, list):
            return values
        return [part.strip() for item in values for part in str(item).split(",") if part.strip()] or None

    @field_validator("speakers", mode="after")
    @classmethod
    def _known_speakers(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if "all" in value:
            if len(value) > 1:
                raise ValueError("give `all` or speaker ids, not both")
            return value
        bad = [v for v in value if not is_valid_speaker_id(v)]
        if bad:
            raise ValueError(f"not a speaker id: {bad[0]!r} (ids look like spk_ and 32 hex digits)")
        return list(dict.fromkeys(value))

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> str | None:
        return normalise_language(value) if isinstance(value, str) or value is None else value

    @model_validator(mode="after")
    def _speaker_bounds(self) -> SttOptions:
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")
        if self.num_speakers and (self.min_speakers or self.max_speakers):
            raise ValueError("give num_speakers, or min_speakers/max_speakers, not both")
        if (self.speakers or self.keep_speaker_audio or self.known_speakers) and not self.diarize:
            raise ValueError("speakers, known_speakers and keep_speaker_audio need diarize=true")
        return self
