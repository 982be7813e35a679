"""The transcript document stored for a finished STT task (the JSON the result route returns)."""

from __future__ import annotations

from typing import Any

from engines.types import Transcript

TRANSCRIPT_ARTIFACT = "transcript.json"


def transcript_document(transcript: Transcript, include_words: bool) -> dict[str, Any]:
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
        if include_words:
            item["words"] = [
                {
                    "start": round(w.start, 3),
                    "end": round(w.end, 3),
                    "word": w.word,
                    "probability": round(w.probability, 4),
                    "speaker": w.speaker,
                }
                for w in seg.words
            ]
        segments.append(item)
    return {
        "text": transcript.text,
        "language": transcript.language,
        "language_probability": round(transcript.language_probability, 4),
        "duration": transcript.duration,
        "speakers": speakers,
        "segments": segments,
    }
