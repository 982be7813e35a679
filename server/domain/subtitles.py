"""SRT and WebVTT renderings of a transcript document, with speaker names in the cues."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(document: dict[str, Any]) -> Iterator[tuple[float, float, str | None, str]]:
    for segment in document["segments"]:
        text = segment["text"].strip()
        if text:
            yield segment["start"], segment["end"], segment.get("speaker"), text


def to_srt(document: dict[str, Any]) -> str:
    blocks = []
    for number, (start, end, speaker, text) in enumerate(_cues(document), start=1):
        line = f"[{speaker}] {text}" if speaker else text
        blocks.append(f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{line}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(document: dict[str, Any]) -> str:
    blocks = ["WEBVTT\n"]
    for start, end, speaker, text in _cues(document):
        # WebVTT's voice span names the speaker so players can style or show it
        line = f"<v {_vtt_escape(speaker)}>{_vtt_escape(text)}" if speaker else _vtt_escape(text)
        blocks.append(f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{line}\n")
    return "\n".join(blocks)
