"""The transcript document: the one model of a finished transcription, built from the engines'
result in one place (`from_engine`), stored as the task's `transcript.json`, and rendered from
there into every wire format (server/domain/transcript_formats.py).

The classes carry the names and field types the /v1 API documents (its OpenAPI components are
generated from them), and `to_json` is the /v1 JSON: a field that is absent on the wire
(`words` without word timestamps, `overlap` where it does not hold, `turns` without diarization)
is None here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only the worker builds documents from engine results; the API side never loads engines
    from engines.types import Segment, SpeakerTurn, Transcript, Word

TRANSCRIPT_ARTIFACT = "transcript.json"


@dataclass(frozen=True)
class SttWord:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None
    overlap: bool | None = None  # true when the word lies mostly in overlapped speech; absent otherwise


@dataclass(frozen=True)
class SttSegment:
    id: int
    start: float
    end: float
    text: str
    speaker: str | None
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[SttWord] | None = None  # only with word_timestamps=true
    overlap: bool | None = None  # true when the segment lies mostly in overlapped speech; absent otherwise


@dataclass(frozen=True)
class SttTurn:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class SttResult:
    text: str
    language: str
    language_probability: float
    duration: float
    speakers: list[str]  # in order of first appearance
    segments: list[SttSegment]
    turns: list[SttTurn] | None = None  # the diarizer's own turns (they may overlap), sorted; with diarization

    # -- built from the engines' result --------------------------------------------------------
    @classmethod
    def from_engine(
        cls, transcript: Transcript, include_words: bool, turns: Iterable[SpeakerTurn] | None = None
    ) -> SttResult:
        """`turns`: the diarizer's own (possibly overlapping) turns, kept sorted when given.
        Scores are rounded here, once: the stored document and every rendering agree."""
        segments = [segment_from_engine(s, include_words) for s in transcript.segments]
        return cls(
            text=transcript.text,
            language=transcript.language,
            language_probability=round(transcript.language_probability, 4),
            duration=transcript.duration,
            speakers=first_appearances(s.speaker for s in segments),
            segments=segments,
            turns=None
            if turns is None
            else [SttTurn(t.start, t.end, t.speaker) for t in sorted(turns, key=lambda t: (t.start, t.end))],
        )

    # -- the stored document and the /v1 JSON --------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "text": self.text,
            "language": self.language,
            "language_probability": self.language_probability,
            "duration": self.duration,
            "speakers": list(self.speakers),
            "segments": [segment_json(s) for s in self.segments],
        }
        if self.turns is not None:
            document["turns"] = [{"start": t.start, "end": t.end, "speaker": t.speaker} for t in self.turns]
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> SttResult:
        """A stored document (any written since the first release: later fields are optional)."""
        segments = [segment_from_json(s) for s in document["segments"]]
        speakers = document.get("speakers")
        turns = document.get("turns")
        return cls(
            text=document["text"],
            language=document["language"],
            language_probability=document.get("language_probability", 0.0),
            duration=document["duration"],
            speakers=list(speakers) if speakers is not None else first_appearances(s.speaker for s in segments),
            segments=segments,
            turns=None if turns is None else [SttTurn(t["start"], t["end"], t["speaker"]) for t in turns],
        )


def first_appearances(speakers: Iterable[str | None]) -> list[str]:
    seen: list[str] = []
    for speaker in speakers:
        if speaker and speaker not in seen:
            seen.append(speaker)
    return seen


def segment_from_engine(seg: Segment, include_words: bool = False) -> SttSegment:
    """One decoded segment, as the document has it (the STT job streams these before speakers are known)."""
    return SttSegment(
        id=seg.id,
        start=seg.start,
        end=seg.end,
        text=seg.text,
        speaker=seg.speaker,
        avg_logprob=round(seg.avg_logprob, 4),
        no_speech_prob=round(seg.no_speech_prob, 4),
        compression_ratio=round(seg.compression_ratio, 4),
        words=[_word(w) for w in seg.words] if include_words else None,
        overlap=True if seg.overlap else None,  # only where it holds: documents without overlap keep their shape
    )


def _word(w: Word) -> SttWord:
    return SttWord(
        start=round(w.start, 3),
        end=round(w.end, 3),
        word=w.word,
        probability=round(w.probability, 4),
        speaker=w.speaker,
        overlap=True if w.overlap else None,
    )


def segment_json(s: SttSegment) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": s.id,
        "start": s.start,
        "end": s.end,
        "text": s.text,
        "speaker": s.speaker,
        "avg_logprob": s.avg_logprob,
        "no_speech_prob": s.no_speech_prob,
        "compression_ratio": s.compression_ratio,
    }
    if s.overlap:
        item["overlap"] = True
    if s.words is not None:
        item["words"] = [_word_json(w) for w in s.words]
    return item


def _word_json(w: SttWord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "start": w.start,
        "end": w.end,
        "word": w.word,
        "probability": w.probability,
        "speaker": w.speaker,
    }
    if w.overlap:
        item["overlap"] = True
    return item


def _word_from_json(w: Mapping[str, Any]) -> SttWord:
    return SttWord(
        start=w["start"],
        end=w["end"],
        word=w["word"],
        probability=w.get("probability", 0.0),
        speaker=w.get("speaker"),
        overlap=w.get("overlap") or None,
    )


def segment_from_json(s: Mapping[str, Any]) -> SttSegment:
    """A segment of a stored document, or of a task's output stream (where speakers are not known yet)."""
    words = s.get("words")
    return SttSegment(
        id=s["id"],
        start=s["start"],
        end=s["end"],
        text=s["text"],
        speaker=s.get("speaker"),
        avg_logprob=s.get("avg_logprob", 0.0),
        no_speech_prob=s.get("no_speech_prob", 0.0),
        compression_ratio=s.get("compression_ratio", 0.0),
        words=None if words is None else [_word_from_json(w) for w in words],
        overlap=s.get("overlap") or None,
    )
