"""Synthesizers for cloned voices, so the renderer treats a clone like any other voice.

* VoiceMatchSynthesizer: the base Piper voice, then the stored DSP match (pitch, formants, EQ) —
  a voice match, not a neural clone.
* XttsCloneSynthesizer: XTTS with the conditioning computed once at clone time (never recomputed).
"""

from __future__ import annotations

from pathlib import Path

from engines.cloning.voice_match import MatchParams, apply_match
from engines.tts.types import Audio, SynthesisRequest, Synthesizer, Voice


class VoiceMatchSynthesizer:
    name = "piper+voice-match"

    def __init__(self, voice: Voice, base: Synthesizer, base_voice_id: str, params: MatchParams) -> None:
        self._voice = voice
        self._base = base
        self._base_voice_id = base_voice_id
        self._params = params

    def voices(self) -> list[Voice]:
        return [self._voice]

    def synthesize(self, request: SynthesisRequest) -> Audio:
        base = self._base.synthesize(
            SynthesisRequest(
                text=request.text,
                voice_id=self._base_voice_id,
                speed=request.speed,
                variation=request.variation,
                timing_variation=request.timing_variation,
            )
        )
        return Audio(samples=apply_match(base.samples, base.sample_rate, self._params), sample_rate=base.sample_rate)


class XttsCloneSynthesizer:
    name = "xtts"

    def __init__(self, voice: Voice, xtts, conditioning_dir: Path, language: str | None = None) -> None:
        from engines.tts.xtts_engine import load_conditioning

        self._voice = voice
        self._xtts = xtts
        self._conditioning = load_conditioning(conditioning_dir)
        self._language = language

    def voices(self) -> list[Voice]:
        return [self._voice]

    def synthesize(self, request: SynthesisRequest) -> Audio:
        return self._xtts.synthesize_with(
            self._conditioning,
            request.text,
            language=request.language or self._language,  # the request's language, else the voice's own
            speed=request.speed,
            variation=request.variation,
        )
