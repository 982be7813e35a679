"""Plain types for text-to-speech engines and the script renderer.

Engines speak only these types; nothing here knows about HTTP, Celery or encoders. Numpy is used
only in annotations, so importing this module stays cheap for the parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from engines.types import EngineError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


# --- errors ----------------------------------------------------------------------------------
# Each carries a stable `code` (inherited convention from engines.types) so the API layer can map
# them to responses without parsing messages.


class ScriptError(EngineError):
    """The request text is not a valid script. `position` is a 0-based character offset."""

    code = "invalid_script"

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class SpeakerOutOfRange(ScriptError):
    code = "speaker_out_of_range"

    def __init__(self, marker: str, position: int, speaker: int, num_speakers: int) -> None:
        super().__init__(
            f"{marker} at character {position} selects speaker {speaker}, but only "
            f"{num_speakers} voice(s) were given (valid: 0..{num_speakers - 1})",
            position,
        )
        self.marker = marker
        self.speaker = speaker
        self.num_speakers = num_speakers


class InvalidMarker(ScriptError):
    """`<|…|>` that is not a well-formed `<|speaker:N|>`: refusing beats guessing a voice."""

    code = "invalid_marker"

    def __init__(self, marker: str, position: int) -> None:
        super().__init__(
            f"{marker!r} at character {position} is not a valid marker (expected <|speaker:N|>)",
            position,
        )
        self.marker = marker


class EmptyScript(ScriptError):
    code = "empty_text"


class TextTooLong(ScriptError):
    code = "text_too_long"

    def __init__(self, spoken_chars: int, limit: int) -> None:
        super().__init__(f"text has {spoken_chars} spoken characters; the limit is {limit}")
        self.spoken_chars = spoken_chars
        self.limit = limit


class UnknownVoice(EngineError):
    code = "unknown_voice"


# --- engine contract -------------------------------------------------------------------------


@dataclass(frozen=True)
class Voice:
    """What a synthesizer can speak with; `id` is what callers pass as a model id."""

    id: str
    title: str
    languages: tuple[str, ...]  # BCP-47-ish codes as the voice declares them, e.g. ("en_US",)
    engine: str
    sample_rate: int
    extra: dict = field(default_factory=dict, compare=False, hash=False)


VoiceInfo = Voice  # alias: some callers think of the listing entry as "voice info"


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    voice_id: str
    speed: float = 1.0  # speaking-rate multiplier (>1 faster); engines map it to their own knob
    # Engine-agnostic expressiveness knobs, 1.0 = the voice's default. Engines without such
    # controls ignore them (the renderer's DSP does the measurable part of emotion).
    variation: float = 1.0  # Piper: noise_scale multiplier (intonation/timbre randomness)
    timing_variation: float = 1.0  # Piper: noise_w multiplier (phoneme-duration randomness)
    language: str | None = None  # for multilingual engines (XTTS); engines with one language ignore it


@dataclass
class Audio:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0


class Synthesizer(Protocol):
    """Text-to-speech capability: one call speaks one chunk of plain text (no cues, no markers)."""

    name: str

    def voices(self) -> list[Voice]: ...

    def synthesize(self, request: SynthesisRequest) -> Audio: ...
