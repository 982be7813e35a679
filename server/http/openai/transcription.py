"""OpenAI's transcription and translation forms, and the renderings of our transcript document in
OpenAI's response formats (json, text, srt, vtt, verbose_json, diarized_json) and stream events."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from server.domain.errors import BadRequest
from server.domain.stt_options import SttOptions
from server.domain.subtitles import to_srt, to_vtt

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
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

# Whisper language codes to the names OpenAI's verbose_json uses.
LANGUAGE_NAMES = {
    "en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "ru": "russian", "pl": "polish", "uk": "ukrainian", "cs": "czech", "sv": "swedish",
    "da": "danish", "no": "norwegian", "fi": "finnish", "tr": "turkish", "el": "greek", "hu": "hungarian",
    "ro": "romanian", "ja": "japanese", "zh": "chinese", "ko": "korean", "ar": "arabic", "he": "hebrew",
    "hi": "hindi", "id": "indonesian", "vi": "vietnamese", "th": "thai", "ca": "catalan", "fa": "persian",
}  # fmt: skip


@dataclass(frozen=True)
class TranscriptionForm:
    model: str
    response_format: str
    granularities: tuple[str, ...]
    stream: bool
    options: SttOptions
    references: tuple[bytes, ...] = ()  # decoded known_speaker_references[], one per known_speakers name

    @property
    def origin(self) -> dict:
        return {"api": "openai", "model": self.model, "response_format": self.response_format}


def parse_form(fields: dict[str, str | list[str]], translate: bool) -> TranscriptionForm:
    for name in fields:
        if name not in KNOWN_FIELDS and name not in IGNORED_FIELDS:
            raise BadRequest(f"unknown parameter {name!r}", code="unknown_parameter", param=name)
    model = _one(fields, "model") or ""
    if not model:
        raise BadRequest("'model' is required (any name: the server's own model transcribes)", param="model")
    response_format = _one(fields, "response_format") or "json"
    allowed = RESPONSE_FORMATS if not translate else tuple(f for f in RESPONSE_FORMATS if f != "diarized_json")
    if response_format not in allowed:
        raise BadRequest(
            f"response_format must be one of {', '.join(allowed)}", code="invalid_value", param="response_format"
        )
    granularities = fields.get("timestamp_granularities[]") or []
    granularities = tuple([granularities] if isinstance(granularities, str) else granularities)
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
        options["known_speakers"] = names
    clips = tuple(data_url_bytes(r) for r in references)
    return TranscriptionForm(model, response_format, granularities, stream, SttOptions.parse(options), clips)


def _list(fields: dict, name: str) -> list[str]:
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


def _one(fields: dict, name: str) -> str | None:
    value = fields.get(name)
    return value[-1] if isinstance(value, list) else value


def usage(document: dict) -> dict:
    return {"type": "duration", "seconds": math.ceil(document.get("duration") or 0)}


def render(form: TranscriptionForm, document: dict, task: str) -> tuple[Any, str]:
    """(body, media type) of `document` in the form's response_format."""
    fmt = form.response_format
    if fmt == "text":
        return document["text"], "text/plain"
    if fmt == "srt":
        return to_srt(document), "text/plain"
    if fmt == "vtt":
        return to_vtt(document), "text/plain"
    if fmt == "verbose_json":
        return verbose_json(document, task, words="word" in form.granularities), "application/json"
    if fmt == "diarized_json":
        return diarized_json(document, task), "application/json"
    return {"text": document["text"], "usage": usage(document)}, "application/json"


def verbose_json(document: dict, task: str, words: bool) -> dict:
    body = {
        "task": task,
        "language": LANGUAGE_NAMES.get(document["language"], document["language"]),
        "duration": document["duration"],
        "text": document["text"],
        "segments": [
            {
                "id": s["id"],
                "seek": round(s["start"] * 100),  # in 10 ms frames, as Whisper counts
                "start": s["start"],
                "end": s["end"],
                "text": s["text"],
                "tokens": [],  # faster-whisper's token ids are not kept in our transcript
                "temperature": 0.0,
                "avg_logprob": s["avg_logprob"],
                "compression_ratio": s["compression_ratio"],
                "no_speech_prob": s["no_speech_prob"],
            }
            for s in document["segments"]
        ],
        "usage": usage(document),
    }
    if words:
        body["words"] = [
            {"word": w["word"].strip(), "start": w["start"], "end": w["end"]}
            for s in document["segments"]
            for w in s.get("words", [])
        ]
    return body


def speaker_letters(document: dict) -> dict[str, str]:
    """SPEAKER_00, SPEAKER_01… -> A, B… (OpenAI's labels), in order of first appearance; a recognised
    known speaker keeps their name, as OpenAI names the known speakers of a request."""
    letters = {}
    for index, entry in enumerate(document.get("speakers") or []):
        if isinstance(entry, dict):  # a document with known speakers: segments carry the name, if any
            letters[entry["name"] or entry["label"]] = entry["name"] or _letter(index)
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


def diarized_segments(document: dict) -> list[dict]:
    letters = speaker_letters(document)
    return [
        {
            "type": "transcript.text.segment",
            "id": f"seg_{s['id']}",
            "start": s["start"],
            "end": s["end"],
            "text": s["text"],
            "speaker": letters.get(s.get("speaker") or "", "A"),
        }
        for s in document["segments"]
    ]


def diarized_json(document: dict, task: str) -> dict:
    return {
        "task": task,
        "duration": document["duration"],
        "text": document["text"],
        "segments": diarized_segments(document),
        "usage": usage(document),
    }
