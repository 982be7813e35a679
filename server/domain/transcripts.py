"""The transcript document stored for a finished STT task (the JSON the result route returns)."""

from __future__ import annotations

from typing import Any

from engines.types import SpeakerTurn, Transcript, Word

TRANSCRIPT_ARTIFACT = "transcript.json"


def transcript_document(
    transcript: Transcript, include_words: bool, turns: list[SpeakerTurn] | None = None
) -> dict[str, Any]:
    """`turns`: the diarizer's own (possibly overlapping) turns, listed as `turns` when given."""
    speakers: list[str] = []
    for segment in transcript.segments:
        if segment.speaker and segment.speaker not in speakers:
            speakers.append(segment.speaker)
    segments = []
    for seg in transcript.segments:
        item: dict[str, Any] = {
            "id": seg.id,
            "start": seg.start,
            "end": seg.end,
            "text": seg.text,
            "speaker": seg.speaker,
            "avg_logprob": round(seg.avg_logprob, 4),
            "no_speech_prob": round(seg.no_speech_prob, 4),
            "compression_ratio": round(seg.compression_ratio, 4),
        }
        if seg.overlap:  # only where it holds: documents without overlap keep their old shape
            item["overlap"] = True
        if include_words:
            item["words"] = [_word(w) for w in seg.words]
        segments.append(item)
    document = {
        "text": transcript.text,
        "language": transcript.language,
        "language_probability": round(transcript.language_probability, 4),
        "duration": transcript.duration,
        "speakers": speakers,
        "segments": segments,
    }
    if turns is not None:
        document["turns"] = [
            {"start": t.start, "end": t.end, "speaker": t.speaker}
            for t in sorted(turns, key=lambda t: (t.start, t.end))
        ]
    return document


def _word(w: Word) -> dict[str, Any]:
    item = {
        "start": round(w.start, 3),
        "end": round(w.end, 3),
        "word": w.word,
        "probability": round(w.probability, 4),
        "speaker": w.speaker,
    }
    if w.overlap:
        item["overlap"] = True
    return item
