"""The body of POST /v1/tts, validated at the API edge."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# C0 controls other than tab/newline/carriage return: no engine can speak them, some crash on NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TtsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    text: str = Field(min_length=1)
    """The script: text with optional `<|speaker:N|>` markers and `[cue]` emotion/event cues."""
    model_ids: list[str] = Field(default_factory=list, max_length=32)
    """Voices; `<|speaker:N|>` selects the N-th. Empty: the server's default voice."""
    format: Literal["mp3", "wav", "flac", "opus", "aac", "pcm"] = "mp3"
    """Audio format of the result (aac: ADTS; pcm: raw 16-bit little-endian mono at `sample_rate`)."""
    mp3_bitrate: Literal[64, 128, 192] = 128
    """MP3 (and Opus) bitrate in kbit/s."""
    sample_rate: int | None = Field(default=None, ge=8000, le=48000)
    """Output sample rate; default: the voice's own (snapped to what the codec allows)."""
    speed: float = Field(default=1.0, ge=0.5, le=2.0)
    """Speaking rate multiplier."""
    volume_db: float = Field(default=0.0, ge=-30.0, le=12.0)
    """Gain applied to the finished audio, in dB (a limiter prevents clipping)."""
    first_chunk_characters: int | None = Field(default=None, ge=20, le=250)
    """Cut the first sentence after at most this many characters (at a clause, else a word), so the
    first audio of a streamed download comes sooner; default: whole sentences."""
    language: str | None = Field(default=None, max_length=16)
    """Language hint for multilingual engines (XTTS); Piper voices have a fixed language."""
    callback_url: str | None = Field(default=None, max_length=2000)
    """Webhook: when the task ends, its status document is POSTed here, signed with your key's
    webhook secret (Standard Webhooks). Not stored with the task's options."""

    @field_validator("text")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if match := _CONTROL.search(value):
            raise ValueError(f"text contains a control character (U+{ord(match.group()):04X}) at {match.start()}")
        return value
