"""Input gate for voice-cloning reference clips: refuse bad input loudly, keep dense speech.

Competing products clone silently from music, two speakers or noise. `analyse_reference` measures
the clip and either returns a ReferenceReport or raises a CloneRejected subclass whose `code` is
stable and whose message states the measured figure. Checks, in order (cheapest and most
fundamental first, so the user hears about the real problem):

  audio_too_long     the clip is longer than max_audio_s (checked before any model runs);
  no_speech          silent, or Silero VAD finds under 1 s of speech (noise, hum, music: steady
                     chords and drums never reach p = 0.5, max 0.30 measured);
  poor_quality       heavy clipping: more than 1 % of the active samples sit within 2 % of the
                     clip's own peak (flat tops). Measured on joe / real phone speech: clean
                     0.001 %, x2 then clipped 0.15-0.22 %, x3 0.7-1.3 %, x5 3.5-5 %, x20 21-30 %;
                     tanh(10x) saturation 2-3.5 %. So peaks cut by ~10 dB or more are refused;
  poor_quality       SNR under 10 dB: mean power of VAD speech chunks (minus the noise) against
                     the noise floor, the 10th percentile of 32 ms chunk powers over the clip
                     (pauses between words and syllable closures leave only the noise). White
                     noise mixed at N dB active-speech SNR measures ~N-3 dB (0 -> -2.6, 10 -> 7.2,
                     20 -> 17.1); clean TTS caps at 60, the real phone call sample.wav 38.9 dB;
  audio_too_short    under min_speech_s of VAD speech;
  multiple_speakers  the diarizer finds >= 2 speakers that each hold >= 20 % of the speech and
                     >= 3 s of it; a stray short label (a cough, one mis-clustered window) is not
                     a second speaker. Run on the trimmed clip, by the worker's diarizer: the
                     neural one (CAM++ embeddings) by default since issue 11. sample.wav ->
                     refused (built-in: 13.6 s + 9.0 s); 14 s of joe + 1.5 s of a real woman ->
                     one speaker, accepted; both hold for the neural and the built-in diarizer
                     (tests/engines/test_cloning.py runs them with each).

Trimming rule (what the stored reference is): from 0.15 s before the first VAD speech region to
0.15 s after the last; inside, every gap between speech regions longer than 1.0 s is cut down to
0.3 s (0.15 s kept on each side, joined with a 10 ms crossfade), shorter gaps are kept as they
are (natural pauses carry rhythm). The result is dense speech with natural pauses.

Models (Silero VAD) are the diarizer's own loaders from engines/diarization/features.py, loaded
once per process on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.diarization.vad import VadParams
from engines.diarization.vad import speech_regions as regions_from_probs
from engines.types import SAMPLE_RATE, DiarizationRequest, Diarizer, EngineError


class CloneRejected(EngineError):
    """The reference clip cannot make a usable voice. `figures` holds the measured values."""

    code = "clone_rejected"

    def __init__(self, message: str, **figures: float) -> None:
        super().__init__(message)
        self.figures = figures


class AudioTooLong(CloneRejected):
    code = "audio_too_long"


class NoSpeech(CloneRejected):
    code = "no_speech"


class AudioTooShort(CloneRejected):
    code = "audio_too_short"


class MultipleSpeakers(CloneRejected):
    code = "multiple_speakers"


class PoorQuality(CloneRejected):
    code = "poor_quality"


@dataclass(frozen=True)
class GateConfig:
    vad: VadParams = field(default_factory=VadParams)  # Silero VAD, as the built-in diarizer runs it
    no_speech_s: float = 1.0  # less VAD speech than this is "no speech", not "too short"
    # clipping: share of active samples (chunks within active_db of the loudest) near the peak
    clip_level: float = 0.98  # "near full scale" = within 2 % of the clip's own peak
    max_clipping: float = 0.01
    active_db: float = 40.0
    # noise: SNR of speech chunks against the noise floor
    min_snr_db: float = 10.0
    noise_percentile: float = 10.0
    snr_cap_db: float = 60.0  # digital silence has no floor; report "60 dB" rather than infinity
    # speakers: a label counts when it holds both shares
    speaker_min_share: float = 0.2
    speaker_min_s: float = 3.0
    # trimming (see module docstring)
    edge_keep_s: float = 0.15
    max_gap_s: float = 1.0
    gap_keep_s: float = 0.3
    fade_s: float = 0.01
    recommended_max_speech_s: float = 90.0
    advice: str = "10-90 s of speech is recommended"  # said with the length refusals


@dataclass
class ReferenceReport:
    audio: np.ndarray  # trimmed reference, float32 16 kHz mono
    duration_s: float  # of the input
    speech_s: float  # VAD speech in the input
    snr_db: float
    clipping_fraction: float
    speakers: int | None  # substantial speakers found; None without a diarizer
    speaker_seconds: dict[str, float] = field(default_factory=dict)  # every diarized label
    regions: list[tuple[float, float]] = field(default_factory=list)  # VAD speech, input seconds
    notes: list[str] = field(default_factory=list)  # non-fatal advice for the user

    @property
    def trimmed_s(self) -> float:
        return self.audio.size / SAMPLE_RATE

    def summary(self) -> dict:
        """JSON-ready figures (no audio)."""
        return {
            "duration_s": round(self.duration_s, 2),
            "trimmed_s": round(self.trimmed_s, 2),
            "speech_s": round(self.speech_s, 2),
            "snr_db": round(self.snr_db, 1),
            "clipping_fraction": round(self.clipping_fraction, 5),
            "speakers": self.speakers,
            "speaker_seconds": {k: round(v, 2) for k, v in self.speaker_seconds.items()},
            "notes": list(self.notes),
        }


def vad_model():
    """The process-wide Silero VAD, shared with the diarizer; raises EngineUnavailable without it."""
    from engines.diarization.features import SileroVad, shared

    return shared(SileroVad)


def speech_regions(audio: np.ndarray, config: GateConfig | None = None) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(Silero chunk probabilities, speech regions as (start, end) samples) of 16 kHz audio."""
    cfg = config or GateConfig()
    probs = vad_model().probabilities(audio)
    return probs, regions_from_probs(probs, audio.size, cfg.vad)


def analyse_reference(
    audio: np.ndarray,
    diarizer: Diarizer | None,
    min_speech_s: float = 10.0,
    max_audio_s: float = 120.0,
    config: GateConfig | None = None,
) -> ReferenceReport:
    """Check a reference clip (float32 16 kHz mono); return what to store or raise CloneRejected."""
    cfg = config or GateConfig()
    x = np.nan_to_num(np.ascontiguousarray(audio, dtype=np.float32).reshape(-1))
    duration = x.size / SAMPLE_RATE
    if duration > max_audio_s:
        raise AudioTooLong(
            f"the clip is {duration:.1f} s long; the limit is {max_audio_s:.0f} s ({cfg.advice})",
            duration_s=duration,
            limit_s=max_audio_s,
        )
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak < 1e-4:
        raise NoSpeech(f"the clip is silent (peak {_dbfs(peak):.0f} dBFS)", speech_s=0.0, duration_s=duration)

    clipping = clipping_fraction(x, cfg)
    _, regions = speech_regions(x, cfg)
    speech_s = sum(b - a for a, b in regions) / SAMPLE_RATE
    if speech_s < cfg.no_speech_s:
        # Before the clipping check: loud mastered music is often clipped too, and "no speech"
        # is the real problem there; the clipping figure is still worth saying.
        hint = f"; {clipping:.1%} of its samples are clipped" if clipping > cfg.max_clipping else ""
        raise NoSpeech(
            f"no speech found: {speech_s:.1f} s of speech detected in {duration:.1f} s of audio{hint}",
            speech_s=speech_s,
            duration_s=duration,
            clipping_fraction=clipping,
        )

    if clipping > cfg.max_clipping:
        raise PoorQuality(
            f"the clip is heavily clipped: {clipping:.1%} of its active samples are at full "
            f"scale (limit {cfg.max_clipping:.0%}); record at a lower input level",
            clipping_fraction=clipping,
        )

    snr = snr_db(x, regions, cfg)
    if snr < cfg.min_snr_db:
        raise PoorQuality(
            f"the clip is too noisy: speech is {snr:.1f} dB above the noise floor "
            f"(at least {cfg.min_snr_db:.0f} dB needed)",
            snr_db=snr,
        )

    if speech_s < min_speech_s:
        raise AudioTooShort(
            f"only {speech_s:.1f} s of speech found; at least {min_speech_s:.0f} s is needed ({cfg.advice})",
            speech_s=speech_s,
            min_speech_s=min_speech_s,
        )

    trimmed = trim_silences(x, regions, cfg)
    speakers, seconds = None, {}
    if diarizer is not None:
        speakers, seconds = count_speakers(diarizer, trimmed, cfg)
        if speakers >= 2:
            shares = ", ".join(f"{s:.1f} s" for s in sorted(seconds.values(), reverse=True))
            raise MultipleSpeakers(
                f"{speakers} speakers found (speech per speaker: {shares}); upload a clip of one voice only",
                speakers=speakers,
            )

    notes = []
    if speech_s > cfg.recommended_max_speech_s:
        notes.append(f"{speech_s:.0f} s of speech: more than {cfg.recommended_max_speech_s:.0f} s adds little")
    if snr < cfg.min_snr_db + 10:
        notes.append(f"background noise is audible (SNR {snr:.0f} dB); a quieter recording clones better")
    return ReferenceReport(
        audio=trimmed,
        duration_s=duration,
        speech_s=speech_s,
        snr_db=snr,
        clipping_fraction=clipping,
        speakers=speakers,
        speaker_seconds=seconds,
        regions=[(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in regions],
        notes=notes,
    )


# --- measures ------------------------------------------------------------------------------------

_CHUNK = 512  # Silero's decision step at 16 kHz (32 ms): SNR and activity use the same frames


def _dbfs(power_or_peak: float, power: bool = False) -> float:
    v = max(power_or_peak, 1e-12)
    return 10 * np.log10(v) if power else 20 * np.log10(v)


def _chunk_power(x: np.ndarray) -> np.ndarray:
    n = x.size // _CHUNK
    if n == 0:
        return np.array([np.mean(np.square(x, dtype=np.float64))]) if x.size else np.zeros(0)
    return np.mean(np.square(x[: n * _CHUNK].reshape(n, _CHUNK), dtype=np.float64), axis=1)


def clipping_fraction(x: np.ndarray, config: GateConfig | None = None) -> float:
    """Share of active samples within 2 % of the clip's peak.

    Relative to the peak, not to 1.0: a clip that was clipped and then turned down (or encoded
    as MP3, which smears the flat tops) still has its samples piled up at its own peak, while
    clean speech has almost none there. Active samples: 32 ms chunks within 40 dB of the
    loudest, so long silences do not dilute the figure.
    """
    cfg = config or GateConfig()
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak <= 0:
        return 0.0
    power = _chunk_power(x)
    active = power >= power.max() * 10 ** (-cfg.active_db / 10)
    n = power.size if x.size >= _CHUNK else 0
    frames = x[: n * _CHUNK].reshape(n, _CHUNK)[active] if n else x[None, :]
    return float(np.mean(np.abs(frames) >= cfg.clip_level * peak))


def snr_db(x: np.ndarray, regions: list[tuple[int, int]], config: GateConfig | None = None) -> float:
    """Speech-to-noise ratio in dB, capped at snr_cap_db.

    Speech: mean power of the 32 ms chunks inside VAD speech (minus the noise, which is in them
    too). Noise floor: a low percentile of all chunk powers; pauses between words and the
    closures inside them give a floor even when the clip has no silent stretch, and for
    steady noise the percentile is the noise's own power.
    """
    cfg = config or GateConfig()
    power = _chunk_power(x)
    if power.size == 0:
        return 0.0
    in_speech = np.zeros(power.size, bool)
    for a, b in regions:
        in_speech[a // _CHUNK : max(a // _CHUNK + 1, b // _CHUNK)] = True
    speech = float(power[in_speech].mean()) if in_speech.any() else float(power.mean())
    noise = float(np.percentile(power, cfg.noise_percentile))
    floor = speech * 10 ** (-cfg.snr_cap_db / 10)
    return float(min(cfg.snr_cap_db, 10 * np.log10(max(speech - noise, floor) / max(noise, floor))))


def count_speakers(
    diarizer: Diarizer, audio: np.ndarray, config: GateConfig | None = None
) -> tuple[int, dict[str, float]]:
    """(speakers holding >= 20 % and >= 3 s of the diarized speech, seconds per label)."""
    cfg = config or GateConfig()
    turns = diarizer.diarize(DiarizationRequest(audio))
    seconds: dict[str, float] = {}
    for t in turns:
        seconds[t.speaker] = seconds.get(t.speaker, 0.0) + (t.end - t.start)
    total = sum(seconds.values())
    substantial = [s for s in seconds.values() if s >= cfg.speaker_min_s and s >= cfg.speaker_min_share * total]
    # at least 1: the VAD already found speech, even if the diarizer's own VAD kept none
    return max(1, len(substantial)), seconds


def trim_silences(x: np.ndarray, regions: list[tuple[int, int]], config: GateConfig | None = None) -> np.ndarray:
    """Dense speech: leading/trailing silence dropped, long gaps shortened (module docstring)."""
    cfg = config or GateConfig()
    if not regions:
        return x.copy()
    edge = int(cfg.edge_keep_s * SAMPLE_RATE)
    half_gap = int(cfg.gap_keep_s / 2 * SAMPLE_RATE)
    spans = [[max(0, regions[0][0] - edge), regions[0][1]]]
    for a, b in regions[1:]:
        if (a - spans[-1][1]) / SAMPLE_RATE > cfg.max_gap_s:
            spans[-1][1] += half_gap
            spans.append([a - half_gap, b])
        else:
            spans[-1][1] = b
    spans[-1][1] = min(x.size, spans[-1][1] + edge)
    fade = int(cfg.fade_s * SAMPLE_RATE)
    out = x[spans[0][0] : spans[0][1]].astype(np.float32, copy=True)
    for a, b in spans[1:]:
        piece = x[a:b].astype(np.float32, copy=True)
        n = min(fade, out.size, piece.size)
        if n:
            # equal-gain crossfade: both sides are pause, so neither click nor level dip matters
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            piece[:n] = out[-n:] * (1 - ramp) + piece[:n] * ramp
            out = out[:-n]
        out = np.concatenate([out, piece])
    return out
