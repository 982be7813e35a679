"""Render a parsed script to one waveform: chunk, synthesise, add emotion and events, stitch.

Order of work, and why:
1. Every speech run is chunked at sentence boundaries and each chunk synthesised with the style's
   rate/variation knobs, trimmed of the engine's own leading/trailing silence (so pauses are ours
   and consistent), then given the style's DSP (level-neutral).
2. Loudness is normalised per speaker (EBU R128 integrated loudness via pyloudnorm, measured over
   everything that speaker says) so different voices match; the style's gain_db is applied on top,
   so "[shouting]" stays louder than the same speaker's neutral speech.
3. Event sounds are generated relative to the speaker's normalised level.
4. Pieces are joined with short raised-cosine fades (no clicks) and pauses that depend on what
   separates them: clause < sentence < paragraph < speaker change; fixed silences for [pause].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engines.tts.chunking import CLAUSE, SENTENCE, chunk_text
from engines.tts.emotion import apply_prosody, prosody_for
from engines.tts.events import SILENCE_S, render_event
from engines.tts.script import Event, Script, SpeechRun
from engines.tts.types import SpeakerOutOfRange, SynthesisRequest, Synthesizer

TARGET_LUFS = -20.0  # typical for speech content; leaves ~6 dB peak headroom for raised styles
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
    audio: object = None  # np.ndarray once rendered


def render_script(
    script: Script | Sequence[SpeechRun | Event],
    voices: Sequence[tuple[Synthesizer, str]],
    speed: float = 1.0,
    sample_rate: int | None = None,
    progress: Callable[[float, float], None] | None = None,
    max_chunk_chars: int = 250,
    language: str | None = None,
) -> tuple[object, int, dict]:
    """Returns (float32 mono samples, sample_rate, info). `voices[i]` speaks `<|speaker:i|>`.

    sample_rate None = the first speaker's native rate. info: duration, sample_rate, chunks,
    events, per-speaker loudness/gain, timing.
    """
    import numpy as np

    started = time.perf_counter()
    items = script.items if isinstance(script, Script) else list(script)
    pieces = _plan(items, len(voices), max_chunk_chars)
    total = sum(p.event is None for p in pieces)
    if progress:
        progress(0, total)

    out_sr = sample_rate
    done, synth_s = 0, 0.0
    for i, p in enumerate(pieces):
        if p.event is not None:
            continue
        synth, voice_id = voices[p.speaker]
        pro = prosody_for(p.style)
        t0 = time.perf_counter()
        audio = synth.synthesize(
            SynthesisRequest(
                text=p.text,
                voice_id=voice_id,
                speed=speed * pro.rate,
                variation=pro.variation,
                timing_variation=pro.timing_variation,
                language=language,
            )
        )
        synth_s += time.perf_counter() - t0
        out_sr = out_sr or audio.sample_rate
        x = _trim(audio.samples, audio.sample_rate)
        x = apply_prosody(x, audio.sample_rate, pro, seed=i)
        p.audio = _resample(x, audio.sample_rate, out_sr)
        done += 1
        if progress:
            progress(done, total)
    out_sr = out_sr or 22050  # only events: any rate will do

    speakers = _normalise(pieces, voices, out_sr)
    for i, p in enumerate(pieces):
        if p.event is not None:
            level = speakers.get(p.speaker, {}).get("rms", 10 ** (TARGET_LUFS / 20))
            f0 = speakers.get(p.speaker, {}).get("f0") or 120.0
            p.audio = render_event(p.event, out_sr, level, f0=f0, seed=i)

    out = _stitch(pieces, out_sr, speed)
    info = {
        "duration": round(len(out) / out_sr, 3),
        "sample_rate": out_sr,
        "chunks": total,
        "events": len(pieces) - total,
        "speakers": [{"speaker": k, **{f: v for f, v in s.items() if f != "rms"}} for k, s in sorted(speakers.items())],
        "synthesis_seconds": round(synth_s, 3),
        "render_seconds": round(time.perf_counter() - started, 3),
    }
    if progress:
        progress(total, total)
    return out.astype(np.float32), out_sr, info


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


def _normalise(pieces: list[_Piece], voices, sr: int) -> dict[int, dict]:
    """Per-speaker gain to TARGET_LUFS, then each piece's style gain; returns speaker stats."""
    import numpy as np
    import pyloudnorm

    meter = pyloudnorm.Meter(sr)
    stats: dict[int, dict] = {}
    for spk in sorted({p.speaker for p in pieces if p.event is None}):
        own = [p for p in pieces if p.speaker == spk and p.event is None and len(p.audio)]
        if not own:
            continue
        joined = np.concatenate([p.audio for p in own]).astype(np.float64)
        if len(joined) < int(0.5 * sr):  # the meter needs at least one 400 ms block
            joined = np.tile(joined, int(np.ceil(0.5 * sr / max(len(joined), 1))))
        loud = meter.integrated_loudness(joined)
        gain = float(np.clip(TARGET_LUFS - loud, -30, 30)) if np.isfinite(loud) else 0.0
        rms = float(np.sqrt(np.mean(joined**2))) * 10 ** (gain / 20)
        stats[spk] = {
            "voice_id": voices[spk][1],
            "loudness_lufs": round(float(loud), 2),
            "gain_db": round(gain, 2),
            "rms": rms,
            "f0": _median_f0(joined, sr) if _has_voiced_events(pieces, spk) else None,
        }
        for p in own:
            g = 10 ** ((gain + prosody_for(p.style).gain_db) / 20)
            p.audio = limit_peaks(p.audio * g, sr)
    return stats


def _has_voiced_events(pieces, spk: int) -> bool:
    return any(p.speaker == spk and p.event in ("laugh", "chuckle", "sigh") for p in pieces)


def _median_f0(x, sr: int) -> float | None:
    """The speaker's median F0, so generated laughs/sighs sit in the speaker's register."""
    import numpy as np
    import parselmouth

    snd = parselmouth.Sound(x[: 8 * sr], sampling_frequency=sr)
    f = snd.to_pitch_ac(time_step=0.02, pitch_floor=60, pitch_ceiling=500).selected_array["frequency"]
    f = f[f > 0]
    return float(np.median(f)) if len(f) else None


def _stitch(pieces: list[_Piece], sr: int, speed: float):
    import numpy as np

    speed = max(speed, 0.25)
    parts = [np.zeros(int(LEAD_S * sr), np.float32)]
    prev: _Piece | None = None
    for p in pieces:
        if prev is not None:
            parts.append(np.zeros(int(_gap(prev, p) / speed * sr), np.float32))
        parts.append(_fade(p.audio.astype(np.float32), sr))
        prev = p
    parts.append(np.zeros(int(TAIL_S * sr), np.float32))
    return np.concatenate(parts)


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
