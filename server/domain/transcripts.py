"""The transcript document: the one model of a finished transcription, built from the engines'
result in one place (`from_engine`), stored as the task's `transcript.json`, and rendered from
there into every wire format (server/domain/transcript_formats.py).

The classes carry the names and field types the /v1 API documents (its OpenAPI components are
generated from them), and `to_json` is the /v1 JSON: a field that is absent on the wire
(`words` without word timestamps, `overlap` where it does not hold, `turns` without diarization,
`label` and `speaker_id` where no known speaker was recognised) is None here.

Known speakers (`SttResult.named`): when a request asked for identification, `speakers` lists
`SttSpeaker` objects instead of cluster labels, and a recognised cluster's segments, words and
turns carry the person's name as `speaker`, with the cluster as `label` (and, on segments, the
enrolled `speaker_id`). A document without identification keeps its shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
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
    label: str | None = None  # the cluster when `speaker` is a recognised name; absent otherwise


@dataclass(frozen=True)
class SttSegment:
    id: int
    start: float
    end: float
    text: str
    speaker: str | None  # a recognised speaker's name, else the cluster's label
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[SttWord] | None = None  # only with word_timestamps=true
    overlap: bool | None = None  # true when the segment lies mostly in overlapped speech; absent otherwise
    label: str | None = None  # the cluster (SPEAKER_NN) when `speaker` is a recognised name; absent otherwise
    speaker_id: str | None = None  # the recognised enrolled speaker's id; absent otherwise

    @property
    def cluster(self) -> str | None:
        """The diarizer's cluster label, named or not."""
        return self.label or self.speaker


@dataclass(frozen=True)
class SttTurn:
    start: float
    end: float
    speaker: str
    label: str | None = None  # the cluster when `speaker` is a recognised name; absent otherwise


@dataclass(frozen=True)
class SttSpeaker:
    """A diarized cluster and who it is: `speakers` lists these when the request asked for known speakers."""

    label: str  # the diarizer's cluster, SPEAKER_NN
    name: str | None  # the speaker's name when recognised (or labelled), else null
    speaker_id: str | None  # the enrolled speaker's id; null for the anonymous and a request's own references
    match_score: float | None  # cosine similarity of the match; null when labelled by hand


@dataclass(frozen=True)
class SttResult:
    text: str
    language: str
    language_probability: float
    duration: float
    # In order of first appearance: cluster labels, or (when the request asked for known speakers) who each is.
    speakers: list[str] | list[SttSpeaker]
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

    # -- known speakers --------------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        """The clusters of `speakers`, in order of first appearance, named or not."""
        return [s.label if isinstance(s, SttSpeaker) else s for s in self.speakers]

    def cluster_labels(self) -> list[str]:
        """Every cluster of the document: `labels`, then any only the diarizer's turns have."""
        labels = self.labels
        for turn in self.turns or ():
            label = turn.label or turn.speaker
            if label not in labels:
                labels.append(label)
        return labels

    def recognised(self) -> list[SttSpeaker]:
        """The named clusters (none unless the request asked for known speakers, or they were labelled)."""
        return [s for s in self.speakers if isinstance(s, SttSpeaker) and s.name is not None]

    def named(self, identities: Iterable[SttSpeaker]) -> SttResult:
        """This document with `identities` (each names the cluster `label`) put on it: `speakers`
        becomes objects (one per cluster of segments or turns), a named cluster's segments, words
        and turns carry the name; every other cluster becomes (or stays) anonymous. Works on a
        document named before (relabelling)."""
        who = {s.label: s for s in identities}

        def speaker(cluster: str | None) -> tuple[str | None, str | None]:
            """(speaker, label) of an item of `cluster`: the name and the cluster, or the bare cluster."""
            identity = who.get(cluster or "")
            return (identity.name, cluster) if identity is not None and identity.name else (cluster, None)

        def segment(s: SttSegment) -> SttSegment:
            cluster = s.cluster
            name, label = speaker(cluster)
            words = None
            if s.words is not None:
                # a word's cluster is its segment's (segments are split where the speaker changes)
                words = [dataclasses.replace(w, speaker=name, label=label) if cluster else w for w in s.words]
            speaker_id = who[label].speaker_id if label is not None else None
            return dataclasses.replace(s, speaker=name, label=label, speaker_id=speaker_id, words=words)

        def turn(t: SttTurn) -> SttTurn:
            name, label = speaker(t.label or t.speaker)
            return SttTurn(t.start, t.end, name or t.speaker, label)

        return dataclasses.replace(
            self,
            # every label an item carries is listed, including a cluster only the diarizer's turns
            # have (speech nobody transcribed): a client can resolve any label it meets
            speakers=[who.get(label) or SttSpeaker(label, None, None, None) for label in self.cluster_labels()],
            segments=[segment(s) for s in self.segments],
            turns=None if self.turns is None else [turn(t) for t in self.turns],
        )

    # -- the stored document and the /v1 JSON --------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "text": self.text,
            "language": self.language,
            "language_probability": self.language_probability,
            "duration": self.duration,
            "speakers": [_speaker_json(s) if isinstance(s, SttSpeaker) else s for s in self.speakers],
            "segments": [segment_json(s) for s in self.segments],
        }
        if self.turns is not None:
            document["turns"] = [_turn_json(t) for t in self.turns]
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
            speakers=_speakers_from_json(speakers)
            if speakers is not None
            else first_appearances(s.speaker for s in segments),
            segments=segments,
            turns=None
            if turns is None
            else [SttTurn(t["start"], t["end"], t["speaker"], t.get("label")) for t in turns],
        )


def first_appearances(speakers: Iterable[str | None]) -> list[str]:
    seen: list[str] = []
    for speaker in speakers:
        if speaker and speaker not in seen:
            seen.append(speaker)
    return seen


def cluster_artifact(label: str) -> str:
    """The task artifact with a cluster's clean speech, kept by an identifying transcription so the
    cluster can become a speaker's sample later (labels are SPEAKER_NN: safe file names)."""
    return f"speaker-{label}.wav"


def reference_artifact(index: int) -> str:
    """The task artifact of a request's own reference clip (OpenAI's known_speaker_references[])."""
    return f"known-speaker-{index}"


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
    if s.label is not None:  # a recognised cluster only: other documents keep their shape
        item["label"] = s.label
    if s.speaker_id is not None:
        item["speaker_id"] = s.speaker_id
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
    if w.label is not None:
        item["label"] = w.label
    return item


def _turn_json(t: SttTurn) -> dict[str, Any]:
    item: dict[str, Any] = {"start": t.start, "end": t.end, "speaker": t.speaker}
    if t.label is not None:
        item["label"] = t.label
    return item


def _speaker_json(s: SttSpeaker) -> dict[str, Any]:
    return {"label": s.label, "name": s.name, "speaker_id": s.speaker_id, "match_score": s.match_score}


def _speakers_from_json(entries: Sequence[Any]) -> list[str] | list[SttSpeaker]:
    """Labels, or (a document with known speakers) {label, name, speaker_id, match_score} objects."""
    if any(isinstance(e, Mapping) for e in entries):
        return [
            SttSpeaker(
                label=e["label"], name=e.get("name"), speaker_id=e.get("speaker_id"), match_score=e.get("match_score")
            )
            for e in entries
        ]
    return [str(e) for e in entries]


def _word_from_json(w: Mapping[str, Any]) -> SttWord:
    return SttWord(
        start=w["start"],
        end=w["end"],
        word=w["word"],
        probability=w.get("probability", 0.0),
        speaker=w.get("speaker"),
        overlap=w.get("overlap") or None,
        label=w.get("label"),
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
        label=s.get("label"),
        speaker_id=s.get("speaker_id"),
    )
