"""Every wire format of a transcript, rendered from the one document (`SttResult`, transcripts.py):
plain text, SRT and WebVTT with speaker names in the cues (the /v1 result route and OpenAI's
srt/vtt), OpenAI's json/verbose_json/diarized_json bodies and diarized stream segments, and what a
Wyoming `transcript` event says. The /v1 JSON itself is `SttResult.to_json()`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from server.domain.transcripts import SttResult, SttSpeaker

# -- text and subtitles ---------------------------------------------------------------------


def plain_text(result: SttResult) -> str:
    return result.text


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(result: SttResult) -> Iterator[tuple[float, float, str | None, str]]:
    for segment in result.segments:
        text = segment.text.strip()
        if text:
            yield segment.start, segment.end, segment.speaker, text


def srt(result: SttResult) -> str:
    blocks = []
    for number, (start, end, speaker, text) in enumerate(_cues(result), start=1):
        line = f"[{speaker}] {text}" if speaker else text
        blocks.append(f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{line}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt(result: SttResult) -> str:
    blocks = ["WEBVTT\n"]
    for start, end, speaker, text in _cues(result):
        # WebVTT's voice span names the speaker so players can style or show it
        line = f"<v {_vtt_escape(speaker)}>{_vtt_escape(text)}" if speaker else _vtt_escape(text)
        blocks.append(f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{line}\n")
    return "\n".join(blocks)


TextRenderer = Callable[[SttResult], str]
# The /v1 result route's text formats: renderer and media type.
V1_TEXT_FORMATS: dict[str, tuple[TextRenderer, str]] = {
    "text": (plain_text, "text/plain"),
    "srt": (srt, "application/x-subrip"),
    "vtt": (vtt, "text/vtt"),
}

# -- OpenAI's response formats --------------------------------------------------------------

OPENAI_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")

# Whisper language codes to the names OpenAI's verbose_json uses.
LANGUAGE_NAMES = {
    "en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "ru": "russian", "pl": "polish", "uk": "ukrainian", "cs": "czech", "sv": "swedish",
    "da": "danish", "no": "norwegian", "fi": "finnish", "tr": "turkish", "el": "greek", "hu": "hungarian",
    "ro": "romanian", "ja": "japanese", "zh": "chinese", "ko": "korean", "ar": "arabic", "he": "hebrew",
    "hi": "hindi", "id": "indonesian", "vi": "vietnamese", "th": "thai", "ca": "catalan", "fa": "persian",
}  # fmt: skip


def openai_body(result: SttResult, response_format: str, task: str, words: bool) -> tuple[Any, str]:
    """(body, media type) of `result` in an OpenAI response_format; `task`: transcribe or translate;
    `words`: verbose_json lists words (timestamp_granularities[] had word)."""
    if response_format == "text":
        return result.text, "text/plain"
    if response_format == "srt":
        return srt(result), "text/plain"
    if response_format == "vtt":
        return vtt(result), "text/plain"
    if response_format == "verbose_json":
        return verbose_json(result, task, words), "application/json"
    if response_format == "diarized_json":
        return diarized_json(result, task), "application/json"
    return {"text": result.text, "usage": usage(result)}, "application/json"


def usage(result: SttResult) -> dict[str, Any]:
    return {"type": "duration", "seconds": math.ceil(result.duration or 0)}


def verbose_json(result: SttResult, task: str, words: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": task,
        "language": LANGUAGE_NAMES.get(result.language, result.language),
        "duration": result.duration,
        "text": result.text,
        "segments": [
            {
                "id": s.id,
                "seek": round(s.start * 100),  # in 10 ms frames, as Whisper counts
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [],  # faster-whisper's token ids are not kept in our transcript
                "temperature": 0.0,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in result.segments
        ],
        "usage": usage(result),
    }
    if words:
        body["words"] = [
            {"word": w.word.strip(), "start": w.start, "end": w.end} for s in result.segments for w in s.words or ()
        ]
    return body


def speaker_letters(speakers: Sequence[str | SttSpeaker]) -> dict[str, str]:
    """A segment's speaker -> OpenAI's label: SPEAKER_00, SPEAKER_01… -> A, B…, in order of first
    appearance; a recognised known speaker keeps their name, as OpenAI names a request's known speakers."""
    letters = {}
    for index, entry in enumerate(speakers):
        if isinstance(entry, SttSpeaker):  # identification was asked for: named segments carry the name
            letters[entry.name or entry.label] = entry.name or _letter(index)
        else:
            letters[entry] = _letter(index)
    return letters


def _letter(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def diarized_segments(result: SttResult) -> list[dict[str, Any]]:
    letters = speaker_letters(result.speakers)
    return [
        {
            "type": "transcript.text.segment",
            "id": f"seg_{s.id}",
            "start": s.start,
            "end": s.end,
            "text": s.text,
            "speaker": letters.get(s.speaker or "", "A"),
        }
        for s in result.segments
    ]


def diarized_json(result: SttResult, task: str) -> dict[str, Any]:
    return {
        "task": task,
        "duration": result.duration,
        "text": result.text,
        "segments": diarized_segments(result),
        "usage": usage(result),
    }


# -- Wyoming --------------------------------------------------------------------------------


def spoken(result: SttResult) -> tuple[str, str | None]:
    """A Wyoming `transcript` event's text and language: a voice command, so no timing or speakers."""
    return result.text.strip(), result.language or None
