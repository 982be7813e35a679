"""Plain request/result types and one Protocol per capability.

Engines speak only these types. Wire formats (JSON schemas, SRT/VTT) belong to the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

# progress(completed, total): engines call it as work advances; the task layer turns it into a percentage.
ProgressCallback = Callable[[float, float], None]

SAMPLE_RATE = 16_000  # every STT/diarization engine receives 16 kHz mono float32


class EngineError(Exception):
    """Base of errors raised by engines. `code` is a stable, machine-readable identifier."""

    code = "engine_error"


class EngineUnavailable(EngineError):
    """The engine's package or its weights are missing; the server reports it instead of crashing."""

    code = "engine_unavailable"


class UnsupportedLanguage(EngineError):
    code = "unsupported_language"


@dataclass(frozen=True)
class TranscriptionRequest:
    audio: np.ndarray  # float32, mono, SAMPLE_RATE
    language: str | None = None  # None: detect (multilingual models) or the model's only language
    word_timestamps: bool = False
    vad_filter: bool = True
    initial_prompt: str | None = None  # context for the decoder: spellings, names, hotwords
    temperature: float | None = None  # None: the engine's own fallback schedule; else one fixed value
    task: str = "transcribe"  # or "translate": speech in any language to English text (multilingual models)
    # Decode about this much audio first, on its own (cut at a pause), so the first segments come out
    # after a fraction of the file's time instead of after a whole 30 s window. None: plain windows.
    first_window_s: float | None = None


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None
    overlap: bool = False  # mostly inside overlapped speech (two or more people at once)


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None
    overlap: bool = False  # mostly inside overlapped speech


@dataclass
class Transcript:
    text: str
    language: str
    language_probability: float
    duration: float
    segments: list[Segment]


class TranslationUnavailable(EngineError):
    code = "translation_unavailable"


class TranscriptStream(Protocol):
    """Segments in order, each yielded as soon as it is decoded. `language` and its probability
    are known once the first segment (or the end) has arrived; `transcript()` consumes the rest
    and returns the whole, the same as `SpeechToText.transcribe`."""

    language: str | None
    language_probability: float
    duration: float

    def __iter__(self): ...

    def transcript(self) -> Transcript: ...


class SpeechToText(Protocol):
    """Speech-to-text capability. `transcribe` is `stream(...).transcript()`."""

    name: str

    def languages(self) -> frozenset[str] | None:
        """Languages the loaded model can transcribe; None when it is not known without loading."""

    def transcribe(self, request: TranscriptionRequest, progress: ProgressCallback | None = None) -> Transcript: ...

    def stream(self, request: TranscriptionRequest, progress: ProgressCallback | None = None) -> TranscriptStream: ...


# --- diarization -----------------------------------------------------------------------------


class InvalidSpeakerCount(EngineError):
    code = "invalid_speaker_count"


@dataclass(frozen=True)
class DiarizationRequest:
    audio: np.ndarray  # float32, mono, SAMPLE_RATE
    num_speakers: int | None = None  # exact count when the caller knows it
    min_speakers: int | None = None
    max_speakers: int | None = None

    def check_counts(self) -> None:
        """Every engine refuses impossible speaker counts the same way."""
        for name in ("num_speakers", "min_speakers", "max_speakers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidSpeakerCount(f"{name} must be at least 1 (got {value})")
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise InvalidSpeakerCount("min_speakers must not exceed max_speakers")


@dataclass(frozen=True)
class SpeakerTurn:
    start: float  # seconds
    end: float
    speaker: str  # "SPEAKER_00", "SPEAKER_01", … numbered in order of first appearance


@dataclass(frozen=True)
class Diarization:
    """Both views an overlap-aware diarizer gives, with the same speaker names."""

    turns: list[SpeakerTurn]  # the diarizer's own turns; they overlap where people talk at once
    exclusive: list[SpeakerTurn]  # one speaker per instant: what words and segments are labelled from


class Diarizer(Protocol):
    """Who spoke when. Turns may overlap when the engine detects overlapped speech."""

    name: str

    def diarize(self, request: DiarizationRequest, progress: ProgressCallback | None = None) -> list[SpeakerTurn]: ...
