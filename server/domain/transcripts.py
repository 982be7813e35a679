"""The transcript document stored for a finished STT task (the JSON the result route returns)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engines.types import SpeakerTurn, Transcript, Word

TRANSCRIPT_ARTIFACT = "transcript.json"


def transcript_document(
    transcript: Transcript,
    include_words: bool,
    turns: list[SpeakerTurn] | None = None,
    identities: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """`turns`: the diarizer's own (possibly overlapping) turns, listed as `turns` when given.

    `identities` (given when the request asked for known speakers): cluster label -> {name,
    speaker_id, match_score} for the clusters that were recognised. Then `speakers` lists objects
    ({label, name, speaker_id, match_score}, nulls for the anonymous) instead of labels, and a
    recognised cluster's segments, words and turns carry the name as `speaker`, with `label` and
    `speaker_id` beside it."""
    labels: list[str] = []
    for segment in transcript.segments:
        if segment.speaker and segment.speaker not in labels:
            labels.append(segment.speaker)
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
    document: dict[str, Any] = {
        "text": transcript.text,
        "language": transcript.language,
        "language_probability": round(transcript.language_probability, 4),
        "duration": transcript.duration,
        "speakers": labels,
        "segments": segments,
    }
    if turns is not None:
        document["turns"] = [
            {"start": t.start, "end": t.end, "speaker": t.speaker}
            for t in sorted(turns, key=lambda t: (t.start, t.end))
        ]
    if identities is not None:
        name_speakers(document, identities)
    return document


def cluster_artifact(label: str) -> str:
    """The task artifact with a cluster's clean speech, kept by an identifying transcription so the
    cluster can become a speaker's sample later (labels are SPEAKER_NN: safe file names)."""
    return f"speaker-{label}.wav"


def reference_artifact(index: int) -> str:
    """The task artifact of a request's own reference clip (OpenAI's known_speaker_references[])."""
    return f"known-speaker-{index}"


def speaker_label(item: Mapping[str, Any]) -> str | None:
    """The diarizer's cluster label of a segment, word or turn, named or not."""
    return item.get("label") or item.get("speaker")


def cluster_labels(document: Mapping[str, Any]) -> list[str]:
    """Every cluster label of the document, in order of first appearance."""
    labels = []
    for entry in document.get("speakers") or []:
        labels.append(entry["label"] if isinstance(entry, dict) else entry)
    for turn in document.get("turns") or []:
        label = speaker_label(turn)
        if label and label not in labels:
            labels.append(label)
    return labels


def name_speakers(document: dict[str, Any], identities: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Put `identities` (label -> {name, speaker_id, match_score}) on the document, in place; labels
    not in `identities` become (or stay) anonymous. Works on documents named before (relabelling)."""
    spoken = [e["label"] if isinstance(e, dict) else e for e in document.get("speakers") or []]
    document["speakers"] = [
        {
            "label": label,
            "name": identities[label]["name"] if label in identities else None,
            "speaker_id": identities[label]["speaker_id"] if label in identities else None,
            "match_score": identities[label].get("match_score") if label in identities else None,
        }
        for label in spoken
    ]

    def mark(item: dict[str, Any], with_id: bool) -> None:
        label = speaker_label(item)
        if label is None:
            return
        identity = identities.get(label)
        item["speaker"] = identity["name"] if identity else label
        if identity:
            item["label"] = label
            if with_id:
                item["speaker_id"] = identity["speaker_id"]
        else:
            item.pop("label", None)
            item.pop("speaker_id", None)

    for segment in document.get("segments") or []:
        for word in segment.get("words") or []:
            # a word's cluster is its segment's (segments are split where the speaker changes)
            if "label" not in word and speaker_label(segment):
                word["label"] = speaker_label(segment)
            mark(word, with_id=False)
        mark(segment, with_id=True)
    for turn in document.get("turns") or []:
        mark(turn, with_id=False)
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
