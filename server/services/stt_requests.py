"""Checks an STT request against what the workers can serve, before anything is enqueued."""

from __future__ import annotations

from typing import Any

from server.domain.errors import BadRequest, InvalidRequest
from server.domain.stt_options import SttOptions


def check_servable(options: SttOptions, capabilities: dict[str, Any]) -> None:
    stt = capabilities.get("stt") or {}
    languages = stt.get("languages")
    if options.language and languages is not None and options.language not in languages:
        raise InvalidRequest(
            f"the configured speech-to-text model ({stt.get('model')}) transcribes only "
            f"{', '.join(languages)}; it cannot do {options.language!r}",
            code="unsupported_language",
        )
    if options.task == "translate" and languages is not None and set(languages) <= {"en"}:
        raise BadRequest(
            f"the configured speech-to-text model ({stt.get('model')}) is English-only; translation needs a "
            "multilingual model (set VOICE_API_STT__MODEL=base)",
            code="translation_unavailable",
        )
    if options.diarize and capabilities.get("diarization", {}).get("available") is False:
        raise InvalidRequest(
            "speaker diarization is not available on this server; send diarize=false",
            code="diarization_unavailable",
        )
