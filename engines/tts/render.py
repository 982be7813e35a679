"""Render a parsed script to one waveform: chunk, synthesise, add emotion and events, stitch.

Order of work, and why:
1. Every speech run is chunked at sentence boundaries and each chunk synthesised with the style's
   rate/variation knobs, trimmed of the engine's own leading/trailing silence (so pauses are ours
   and consistent), then given the style's DSP (level-neutral).
2. Loudness is normalised per voice (EBU R128 integrated loudness via pyloudnorm, measured once on a
   calibration text and cached: engines/tts/loudness.py) so different voices match and each piece
   can be sent as soon as it is made; the style's gain_db is applied on top, so "[shouting]" stays
   louder than the same speaker's neutral speech.
3. Event sounds are generated relative to the speaker's calibrated level.
4. Pieces are joined with short raised-cosine fades (no clicks) and pauses that depend on what
   separates them: clause < sentence < paragraph < speaker change; fixed silences for [pause].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engines.tts.chunking import CLAUSE, SENTENCE, chunk_text
from engines.tts.emotion import apply_prosody, prosody_for
from engines.tts.events import SILENCE_S, render_event
from engines.tts.loudness import TARGET_LUFS, VoiceLevel, VoiceLevels
from engines.tts.script import Event, Script, SpeechRun
from engines.tts.types import SpeakerOutOfRange, SynthesisRequest, Synthesizer

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TARGET_LUFS", "RenderStream", "limit_peaks", "render_script"]
FADE_S = 0.008
LEAD_S, TAIL_S = 0.05, 0.2
# Pauses between pieces, seconds, divided by the request's speed (fixed [pause]s are not).
GAP_S = {"word": 0.05, CLAUSE: 0.16, SENTENCE: 0.38, "event": 0.12, "paragraph": 0.75, "speaker": 0.6}
_SENTENCE_END = tuple('.!?…"”’)')


@dataclass
class _Piece:
    speaker: int
    text: str = ""
    style: str | None = None
    boundary: str = SENTENCE  # what separates this piece from the next one of the same run
    paragraph: int = -1
    event: str | None = None


def render_script(
    script: Script | Sequence[SpeechRun | Event],
    voices: Sequence[tuple[Synthesizer, str]],
    speed: float = 1.0,
    sample_rate: int | None = None,
    progress: Callable[[float, float], None] | None = None,
    max_chunk_chars: int = 250,
    language: str | None = None,
    levels: VoiceLevels | None = None,
) -> tuple[np.ndarray, int, dict]:
    """Returns (float32 mono samples, sample_rate, info): the whole of `render_stream`, joined.

    sample_rate None = the first speaker's native rate. info: duration, sample_rate, chunks,
    events, per-speaker loudness/gain, timing.
    """
    import numpy as np

    stream = RenderStream(script, voices, speed, sample_rate, progress, max_chunk_chars, language, levels)
    parts = list(stream)
    out = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return out.astype(np.float32), stream.sample_rate, stream.info


class RenderStream:
    """The script's audio, one piece (a sentence-sized chunk or an event) at a time.

    Iterating yields float32 mono arrays at `sample_rate` (known before the first one is yielded):
    the pause before a piece is part of it, the lead-in silence is in the first and the tail in the
    last, so the arrays joined are the whole render. Each voice's loudness comes from `levels`
    (calibrated once per voice, not measured over the script), so the first sentence can be sent
    before the second is synthesised. `first_chunk_chars` makes the first piece a short phrase, for
    a stream whose first audio should come sooner still. `info` is complete once iteration ends.
    """

    def __init__(
        self,
        script: Script | Sequence[SpeechRun | Event],
        voices: Sequence[tuple[Synthesizer, str]],
        speed: float = 1.0,
        sample_rate: int | None = None,
        progress: Callable[[float, float], None] | None = None,
        max_chunk_chars: int = 250,
        language: str | None = None,
        levels: VoiceLevels | None = None,
        first_chunk_chars: int | None = None,
    ) -> None:
        items = script.items if isinstance(script, Script) else list(script)
        self._pieces = _plan(items, len(voices), max_chunk_chars)
        if first_chunk_chars:
            self._pieces = _split_first(self._pieces, first_chunk_chars)
        self._voices = voices
        self._speed = speed
        self._progress = progress
        self._language = language
        self._levels = levels if levels is not None else VoiceLevels()
        self.sample_rate: int = sample_rate or 0
        self.chunks = sum(p.event is None for p in self._pieces)
        self.info: dict = {}

    def __iter__(self) -> Iterator[np.ndarray]:
        import numpy as np

        started = time.perf_counter()
        pieces, total, speed = self._pieces, self.chunks, max(self._speed, 0.25)
        if self._progress:
            self._progress(0, total)
        levels = {spk: self._level(spk) for spk in sorted({p.speaker for p in pieces})}
        if not self.sample_rate:  # the first speaker's native rate; only events: any rate will do
            first = next((p.speaker for p in pieces if p.event is None), None)
            self.sample_rate = levels[first].sample_rate if first is not None else 22050
        sr, done, synth_s, samples = self.sample_rate, 0, 0.0, 0
        prev: _Piece | None = None
        for i, p in enumerate(pieces):
            level = levels[p.speaker]
            if p.event is None:
                t0 = time.perf_counter()
                audio = self._speak(p, i, level)
                synth_s += time.perf_counter() - t0
            else:
                audio = render_event(p.event, sr, level.rms, f0=level.f0 or 120.0, seed=i)
            gap = LEAD_S if prev is None else _gap(prev, p) / speed
            parts = [np.zeros(int(gap * sr), np.float32), _fade(audio.astype(np.float32), sr)]
            if i == len(pieces) - 1:
                parts.append(np.zeros(int(TAIL_S * sr), np.float32))
            chunk = np.concatenate(parts)
            samples += len(chunk)
            prev = p
            if p.event is None:
                done += 1
                if self._progress:
                    self._progress(done, total)
            yield chunk
        if prev is None:  # nothing at all to say: still the lead-in and the tail
            chunk = np.zeros(int(LEAD_S * sr) + int(TAIL_S * sr), np.float32)
            samples += len(chunk)
            yield chunk
        speaking = sorted({p.speaker for p in pieces if p.event is None})
        self.info = {
            "duration": round(samples / sr, 3),
            "sample_rate": sr,
            "chunks": total,
            "events": len(pieces) - total,
            "speakers": [levels[spk].stats(spk) for spk in speaking],
            "synthesis_seconds": round(synth_s, 3),
            "render_seconds": round(time.perf_counter() - started, 3),
        }
        if self._progress:
            self._progress(total, total)

    def _level(self, speaker: int) -> VoiceLevel:
        synth, voice_id = self._voices[speaker]
        return self._levels.level(synth, voice_id, self._language)

    def _speak(self, p: _Piece, index: int, level: VoiceLevel):
        synth, voice_id = self._voices[p.speaker]
        pro = prosody_for(p.style)
        audio = synth.synthesize(
            SynthesisRequest(
                text=p.text,
                voice_id=voice_id,
                speed=self._speed * pro.rate,
                variation=pro.variation,
                timing_variation=pro.timing_variation,
                language=self._language,
            )
        )
        x = _trim(audio.samples, audio.sample_rate)
        x = apply_prosody(x, audio.sample_rate, pro, seed=index)
        x = _resample(x, audio.sample_rate, self.sample_rate)
        if not len(x):
            return x
        return limit_peaks(x * 10 ** ((level.gain_db + pro.gain_db) / 20), self.sample_rate)


def _plan(items, n_voices: int, max_chars: int) -> list[_Piece]:
    pieces: list[_Piece] = []
    for item in items:
        if item.speaker >= n_voices:  # parse_script checks too, when told the voice count
            raise SpeakerOutOfRange(f"<|speaker:{item.speaker}|>", item.position, item.speaker, n_voices)
        if isinstance(item, Event):
            pieces.append(_Piece(item.speaker, event=item.name))
            continue
        chunks = chunk_text(item.text, max_chars)
        for c in chunks:
            pieces.append(_Piece(item.speaker, c.text, item.style, c.boundary, item.paragraph))
        if chunks and not item.text.rstrip().endswith(_SENTENCE_END):
            pieces[-1].boundary = CLAUSE  # a style cue mid-sentence: keep the sentence flowing
    return pieces


def _split_first(pieces: list[_Piece], max_chars: int) -> list[_Piece]:
    """The first speech piece cut to at most `max_chars` (at a clause, else a word), its remainder
    kept as one piece: the first audio of a stream comes after a few words, not a whole sentence."""
    index = next((i for i, p in enumerate(pieces) if p.event is None), None)
    if index is None or len(pieces[index].text) <= max_chars:
        return pieces
    piece = pieces[index]
    head = chunk_text(piece.text, max_chars)[0]
    rest = piece.text[len(head.text) :].strip()
    if not rest:
        return pieces
    first = _Piece(piece.speaker, head.text, piece.style, head.boundary, piece.paragraph)
    second = _Piece(piece.speaker, rest, piece.style, piece.boundary, piece.paragraph)
    return [*pieces[:index], first, second, *pieces[index + 1 :]]


def _gap(prev: _Piece, cur: _Piece) -> float:
    if prev.event in SILENCE_S or cur.event in SILENCE_S:
        return 0.0  # the silence event is the pause
    if prev.speaker != cur.speaker:
        return GAP_S["speaker"]
    if prev.event or cur.event:
        return GAP_S["event"]
    if prev.paragraph != cur.paragraph:
        return GAP_S["paragraph"]
    return GAP_S.get(prev.boundary, GAP_S[SENTENCE])


def _fade(x, sr: int):
    import numpy as np

    n = min(int(FADE_S * sr), len(x) // 2)
    if n > 1:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))).astype(np.float32)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def _trim(x, sr: int, floor_db: float = -45.0, margin_s: float = 0.03):
    """Cut leading/trailing frames more than `floor_db` below the loudest 10 ms frame."""
    import numpy as np

    hop = max(1, sr // 100)
    n = len(x) // hop
    if n < 3:
        return x
    frames = np.sqrt(np.mean(np.square(x[: n * hop].reshape(n, hop), dtype=np.float64), axis=1))
    loud = np.nonzero(frames > frames.max() * 10 ** (floor_db / 20))[0]
    if not len(loud):
        return x[:0]
    margin = int(margin_s * sr)
    return x[max(0, loud[0] * hop - margin) : min(len(x), (loud[-1] + 1) * hop + margin)]


def _resample(x, sr_in: int, sr_out: int):
    if sr_in == sr_out or not len(x):
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g).astype("float32")


def limit_peaks(x, sr: int, ceiling: float = 0.95, window_s: float = 0.01):
    """Look-ahead peak limiter: smooth gain, so raised styles get louder without clipping.

    Per-sample gain ceiling/|x| is min-filtered then box-smoothed over the same centred window;
    every value averaged at sample i is a minimum over a window containing i, so the smoothed gain
    never exceeds the gain sample i needs: peaks stay <= ceiling with no hard-clip distortion.
    """
    import numpy as np
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    a = np.abs(x)
    if not len(x) or a.max() <= ceiling:
        return x
    w = max(3, int(window_s * sr) | 1)
    g = np.minimum(1.0, ceiling / np.maximum(a, 1e-9))
    g = uniform_filter1d(minimum_filter1d(g, w, mode="nearest"), w, mode="nearest")
    return (x * np.minimum(g, ceiling / np.maximum(a, 1e-9))).astype(np.float32)
