"""Checks a TTS request before anything is enqueued: the script parses, fits the cap, and every
voice exists. The parser is pure text processing (no engine is loaded here)."""

from __future__ import annotations

from typing import Any

from engines.tts.emotion import cue_vocabulary
from engines.tts.script import Script, parse_script
from engines.tts.types import ScriptError, TextTooLong
from server.domain.errors import InvalidRequest, PayloadTooLarge
from server.domain.tts_options import TtsRequest
from server.settings import TtsSettings

__all__ = ["check_script", "cue_vocabulary", "resolve_voices"]  # the cue list is pure data, served as is


def resolve_voices(request: TtsRequest, settings: TtsSettings) -> list[str]:
    return request.model_ids or [settings.default_voice]


def check_script(request: TtsRequest, voices: list[str], settings: TtsSettings) -> Script:
    if len(voices) > settings.max_voices:
        raise InvalidRequest(f"at most {settings.max_voices} model_ids per request", code="too_many_voices")
    try:
        return parse_script(request.text, num_speakers=len(voices), max_chars=settings.max_characters)
    except TextTooLong as exc:
        raise PayloadTooLarge(str(exc), code="text_too_long", limit=settings.max_characters) from exc
    except ScriptError as exc:
        raise InvalidRequest(str(exc), code=exc.code, position=exc.position) from exc


def check_engine(engine: str, capabilities: dict[str, Any]) -> None:
    served = (capabilities.get("tts") or {}).get("engine") or ""
    if served and engine not in served.split("+"):
        raise InvalidRequest(
            f"the {engine} engine is not available on this server (it serves {served.replace('+', ', ')})",
            code="engine_unavailable",
            param="model",
        )
