"""OpenAI's speech request (POST /v1/audio/speech) and its translation to our TTS request.

- `voice`: any /v1/models voice id, or an OpenAI name looked up in `openai.voice_aliases`.
- `model`: recorded with the task (tts-1, tts-1-hd, gpt-4o-mini-tts…); only an engine name (piper,
  xtts) is checked, against the voice's engine being available.
- `instructions`: the first style word found becomes a style cue before the input; the rest is
  reported in the X-Instructions-Ignored header.
- `speed`: OpenAI allows 0.25-4.0, our engines 0.5-2.0 (beyond that Piper's speech falls apart):
  values outside are clamped, and X-Speed-Applied says what was used.
- `response_format` pcm: raw 16-bit little-endian mono at 24 kHz, as OpenAI sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.domain.errors import BadRequest
from server.domain.tts_options import TtsRequest
from server.services.speech_style import style_from_instructions
from server.settings import Settings

ENGINE_MODELS = ("piper", "xtts")
SPEED_RANGE = (0.5, 2.0)  # TtsRequest's bounds
OPENAI_PCM_RATE = 24_000
_OUR_FIELDS = {"text": "input", "model_ids": "voice", "format": "response_format"}  # TtsRequest -> OpenAI


class VoiceRef(BaseModel):
    id: str = Field(min_length=1, max_length=128)


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    model: str = Field(min_length=1, max_length=128)
    """tts-1, tts-1-hd, gpt-4o-mini-tts (recorded), or an engine name: piper, xtts."""
    input: str = Field(min_length=1)
    """The text; our script language works here too (speaker markers, [cues])."""
    voice: str | VoiceRef
    """A /v1/models voice id, or an OpenAI voice name mapped by the server's alias table."""
    instructions: str | None = Field(default=None, max_length=4096)
    """How to speak; a known style word (calm, excited, whispering…) becomes a style cue."""
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    """0.25-4.0 as OpenAI; applied within 0.5-2.0 (see the X-Speed-Applied header)."""
    stream_format: Literal["audio", "sse"] = "audio"
    """audio: the audio bytes, sent as they are made; sse: speech.audio.delta events (base64)."""


@dataclass(frozen=True)
class SpeechPlan:
    request: TtsRequest
    origin: dict[str, str | float]
    headers: dict[str, str] = field(default_factory=dict)
    engine: str | None = None  # the client named an engine as its model: it must be served


def plan_speech(body: SpeechRequest, settings: Settings) -> SpeechPlan:
    voice = body.voice.id if isinstance(body.voice, VoiceRef) else body.voice
    alias = settings.openai.voice_aliases.get(voice)
    if alias is not None:
        voice = alias or settings.tts.default_voice
    style = style_from_instructions(body.instructions)
    speed = min(max(body.speed, SPEED_RANGE[0]), SPEED_RANGE[1])
    headers = {"X-Speed-Applied": f"{speed:g}"}
    if style.style:
        headers["X-Instructions-Applied"] = _header_text(style.style)
    if style.ignored:
        headers["X-Instructions-Ignored"] = _header_text(style.ignored)
    try:
        request = TtsRequest(
            text=style.cue() + body.input,
            model_ids=[voice],
            format=body.response_format,
            speed=speed,
            sample_rate=OPENAI_PCM_RATE if body.response_format == "pcm" else None,
            first_chunk_characters=settings.openai.speech_first_chunk_characters,
        )
    except ValidationError as exc:  # what our request refuses beyond OpenAI's (control characters…)
        first = exc.errors()[0]
        field_name = _OUR_FIELDS.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else None
        raise BadRequest(f"{field_name}: {first['msg']}", code="invalid_request", param=field_name) from None
    origin: dict[str, str | float] = {
        "api": "openai",
        "model": body.model,
        "voice": body.voice if isinstance(body.voice, str) else voice,
    }
    if body.speed != speed:
        origin["speed_requested"] = body.speed
    engine = body.model.lower() if body.model.lower() in ENGINE_MODELS else None
    return SpeechPlan(request, origin, headers, engine)


def _header_text(text: str, limit: int = 300) -> str:
    """Header values are Latin-1 and one line: anything else is replaced."""
    clean = " ".join(text.split()).encode("ascii", "replace").decode()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…".encode("ascii", "replace").decode()


def usage(characters: int, audio_bytes: int) -> dict:
    """OpenAI reports tokens; ours are characters in and bytes out, named as its fields."""
    return {"input_tokens": characters, "output_tokens": audio_bytes, "total_tokens": characters + audio_bytes}
