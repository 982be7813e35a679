"""Cheap checks on an uploaded file before a task is created (container headers only)."""

from __future__ import annotations

from pathlib import Path

from engines.audio_io import AudioDecodeError, AudioInfo, probe
from server.domain.errors import PayloadTooLarge, UnsupportedMediaType


def check_audio(path: Path, max_duration_s: float) -> AudioInfo:
    try:
        info = probe(path)
    except AudioDecodeError as exc:
        raise UnsupportedMediaType(str(exc), code=exc.code if exc.code != "engine_error" else None) from exc
    if info.duration is not None and info.duration > max_duration_s:
        raise PayloadTooLarge(
            f"the audio lasts {info.duration:.0f} s; the limit is {max_duration_s:.0f} s",
            code="audio_too_long",
        )
    return info
