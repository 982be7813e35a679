"""OpenAI's transcription and translation forms, mapped to our STT options. The transcript's
renderings in OpenAI's response formats are in server/domain/transcript_formats.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.domain.errors import BadRequest
from server.domain.stt_options import SttOptions
from server.domain.transcript_formats import OPENAI_FORMATS, openai_body
from server.domain.transcripts import SttResult

GRANULARITIES = ("word", "segment")
# Accepted for compatibility and not used: our chunking is automatic, logprobs are not reported.
IGNORED_FIELDS = ("chunking_strategy", "include[]", "include")
KNOWN_FIELDS = (
    "model",
    "language",
    "prompt",
    "temperature",
    "response_format",
    "stream",
    "timestamp_granularities[]",
    "known_speaker_names[]",
    "known_speaker_references[]",
)
NAMES, REFERENCES = "known_speaker_names[]", "known_speaker_references[]"
MAX_REFERENCES = 4
MAX_REFERENCE_BYTES = 2_000_000  # one data URL, as sent (base64): ~10 s of 16-bit 48 kHz WAV


@dataclass(frozen=True)
class TranscriptionForm:
    model: str
    response_format: str
    granularities: tuple[str, ...]
    stream: bool
    options: SttOptions
    references: tuple[bytes, ...] = ()  # decoded known_speaker_references[], one per known_speakers name

    @property
    def origin(self) -> dict[str, str]:
        return {"api": "openai", "model": self.model, "response_format": self.response_format}

    def render(self, result: SttResult, task: str) -> tuple[Any, str]:
        """(body, media type) of the transcript in this form's response_format."""
        return openai_body(result, self.response_format, task, words="word" in self.granularities)


def parse_form(fields: dict[str, str | list[str]], translate: bool) -> TranscriptionForm:
    for name in fields:
        if name not in KNOWN_FIELDS and name not in IGNORED_FIELDS:
            raise BadRequest(f"unknown parameter {name!r}", code="unknown_parameter", param=name)
    model = _one(fields, "model") or ""
    if not model:
        raise BadRequest("'model' is required (any name: the server's own model transcribes)", param="model")
    response_format = _one(fields, "response_format") or "json"
    allowed = OPENAI_FORMATS if not translate else tuple(f for f in OPENAI_FORMATS if f != "diarized_json")
    if response_format not in allowed:
        raise BadRequest(
            f"response_format must be one of {', '.join(allowed)}", code="invalid_value", param="response_format"
        )
    asked = fields.get("timestamp_granularities[]") or []
    granularities = tuple([asked] if isinstance(asked, str) else asked)
    if bad := [g for g in granularities if g not in GRANULARITIES]:
        raise BadRequest(
            f"timestamp_granularities[] takes word and segment, not {bad[0]!r}",
            code="invalid_value",
            param="timestamp_granularities[]",
        )
    stream = (_one(fields, "stream") or "false").lower() == "true"
    options: dict[str, Any] = {
        "diarize": response_format == "diarized_json",
        "word_timestamps": "word" in granularities,
    }
    for name in ("language", "prompt", "temperature"):
        if (value := _one(fields, name)) not in (None, ""):
            options[name] = value
    if stream:
        options["streaming"] = True
    if translate:
        options.pop("language", None)  # the target is English; the source is detected
        options["task"] = "translate"
    names, references = _list(fields, NAMES), _list(fields, REFERENCES)
    if names or references:
        if response_format != "diarized_json":
            raise BadRequest(
                f"{NAMES} and {REFERENCES} need response_format=diarized_json", code="invalid_value", param=NAMES
            )
        if len(names) != len(references) or len(names) > MAX_REFERENCES:
            raise BadRequest(
                f"give one {REFERENCES} per {NAMES}, at most {MAX_REFERENCES}", code="invalid_value", param=REFERENCES
            )
        if any(not name.strip() for name in names) or len(set(names)) != len(names):
            # Two clips under one name would be two voiceprints of one person, matched apart.
            raise BadRequest(f"{NAMES} must be distinct, non-empty names", code="invalid_value", param=NAMES)
        options["known_speakers"] = names
    clips = tuple(data_url_bytes(r) for r in references)
    return TranscriptionForm(model, response_format, granularities, stream, SttOptions.parse(options), clips)


def _list(fields: dict[str, str | list[str]], name: str) -> list[str]:
    value = fields.get(name) or []
    return [value] if isinstance(value, str) else list(value)


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 `data:` URL (audio/wav, audio/mpeg, …), as OpenAI takes references."""
    import base64
    import binascii

    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise BadRequest(f"{REFERENCES} must be base64 data URLs (data:audio/wav;base64,…)", code="invalid_value",
                         param=REFERENCES)  # fmt: skip
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(
            f"{REFERENCES}: the base64 payload is malformed", code="invalid_value", param=REFERENCES
        ) from exc


def _one(fields: dict[str, str | list[str]], name: str) -> str | None:
    value = fields.get(name)
    return value[-1] if isinstance(value, list) else value
