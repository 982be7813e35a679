"""Built-in CPU voice cloning: a VOICE MATCH, not neural cloning.

Nothing here learns a voice. A stock Piper voice (en_US-joe-medium by default) speaks the text and
its output is then moved toward the reference speaker's measurable traits: pitch median and
range, vocal-tract length (formant shift) and the long-term spectral colour (EQ), plus a mild
speaking-rate change. Timbre details, accent, breathiness and prosody style stay Piper's. It
makes the voice *closer* to the reference, not the same voice: on scripts/bench_clone.py's six
targets the Resemblyzer cosine to held-out target speech went from 0.56 (plain joe) to 0.78 on
average (+0.22; female targets +0.25..+0.32, male +0.09), where the same speaker scores
0.91-0.99; tiny.en WER stayed within ~2.5 points of plain joe on average (<= 3.3 on any target).
A neural cloning engine (XTTS) is the route to real cloning where it is installed.

Use:
    profile = measure_profile(report.audio)               # at clone time; store profile.to_json()
    base = base_profile(synth, "en_US-joe-medium")        # once per process (cached)
    params = plan_match(profile, base)
    audio = synth.synthesize(SynthesisRequest(text, "en_US-joe-medium"))
    out = apply_match(audio.samples, audio.sample_rate, params)

Method (why each step): Praat "Change gender" (PSOLA + resampling) sets the new pitch median and
range and shifts all formants by one ratio: the geometric mean of the reference/base F1-F3
ratios, clipped to 0.95-1.35 (joe is already a low, long-tract voice: lowering further, or raising
beyond 1.35, made speech hoarse or chipmunk-like and hurt intelligibility). Then a zero-phase EQ
from the ratio of long-term average spectra (reference vs the base's spectrum warped by the same
formant ratio), smoothed over 3 bands and limited to +-10 dB, carries the reference's spectral
tilt and channel (measuring the shifted base instead of warping changed cosines by <= 0.01).
Cost ~0.8 % of real time.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engines.cloning.profile import BAND_CENTRES, VoiceProfile, measure_profile  # noqa: F401  (re-export)
from engines.types import SAMPLE_RATE

BASE_VOICE = "en_US-joe-medium"
# Phonetically varied, plain sentences (~30 s of joe): the base profile is measured on them.
BASE_SENTENCES = (
    "The old lighthouse keeper climbed the stairs every evening at dusk.",
    "Fresh bread and strong coffee made the morning feel a little brighter.",
    "She asked whether the train to the coast would leave on time today.",
    "Numbers on the board were changing faster than anyone could follow.",
    "We planted tomatoes along the fence where the sun stays longest.",
    "A quiet voice from the back of the room asked a very good question.",
    "Please remember to lock the garage before you go to bed tonight.",
    "The museum opens at nine, but the best exhibits are upstairs.",
    "My brother thinks that jazz sounds better on vinyl than on the radio.",
    "Heavy rain is expected over the northern hills until Thursday.",
    "Could you pass me the blue folder that is lying next to the printer?",
    "Every child in the village knew the story of the missing bell.",
)

FORMANT_RATIO_LIMITS = (0.95, 1.35)
RATE_LIMITS = (0.85, 1.15)
RANGE_LIMITS = (0.5, 2.0)
PITCH_LIMITS_HZ = (60.0, 400.0)
EQ_LIMIT_DB = 10.0


@dataclass
class MatchParams:
    pitch_median_hz: float  # new median F0
    pitch_range_factor: float  # Praat's extra scaling of F0 around the new median
    formant_ratio: float
    rate_factor: float  # >1 faster; applied as Praat's duration factor 1/rate
    eq_db: tuple[float, ...]  # gain per BAND_CENTRES band
    analysis_floor_hz: float  # F0 search range of the *base* voice, for Praat's analysis
    analysis_ceiling_hz: float

    def to_json(self) -> str:
        d = asdict(self)
        d["eq_db"] = [round(v, 2) for v in self.eq_db]
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MatchParams:
        d = json.loads(text)
        d["eq_db"] = tuple(d["eq_db"])
        return cls(**d)


def plan_match(profile: VoiceProfile, base: VoiceProfile, eq: bool = True) -> MatchParams:
    """What to change in the base voice's output so that it measures like `profile`."""
    median = float(np.clip(profile.pitch_median_hz, *PITCH_LIMITS_HZ))
    # Praat keeps the base's range in proportion to the new median at factor 1; the factor is
    # what is left to reach the reference's span (p95 - p5) in Hz.
    base_span = (base.pitch_p95_hz - base.pitch_p5_hz) * median / base.pitch_median_hz
    target_span = profile.pitch_p95_hz - profile.pitch_p5_hz
    range_factor = float(np.clip(target_span / max(base_span, 1.0), *RANGE_LIMITS))
    ratios = [t / b for t, b in zip(profile.formants_hz, base.formants_hz, strict=True) if t > 0 and b > 0]
    formant = float(np.exp(np.mean(np.log(ratios)))) if ratios else 1.0
    formant = float(np.clip(formant, *FORMANT_RATIO_LIMITS))
    rate = profile.rate_syl_s / base.rate_syl_s if base.rate_syl_s > 0 and profile.rate_syl_s > 0 else 1.0
    rate = float(np.clip(rate, *RATE_LIMITS))
    eq_db = _eq_curve(profile, base, formant) if eq else np.zeros(len(BAND_CENTRES))
    return MatchParams(
        pitch_median_hz=round(median, 2),
        pitch_range_factor=round(range_factor, 3),
        formant_ratio=round(formant, 4),
        rate_factor=round(rate, 3),
        eq_db=tuple(round(float(v), 2) for v in eq_db),
        analysis_floor_hz=round(max(50.0, 0.7 * base.pitch_p5_hz), 1),
        analysis_ceiling_hz=round(min(800.0, 1.6 * base.pitch_p95_hz), 1),
    )


def _eq_curve(profile: VoiceProfile, base: VoiceProfile, formant_ratio: float) -> np.ndarray:
    logc = np.log(np.asarray(BAND_CENTRES))
    # the formant shift moves the base's spectral envelope up by the ratio: compare with that
    warped = np.interp(logc - np.log(formant_ratio), logc, np.asarray(base.ltas_db))
    diff = np.asarray(profile.ltas_db) - warped
    diff = np.convolve(np.pad(diff, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    # zero mean over the speech core (200 Hz-4 kHz) so the limit acts on colour, not on level
    core = (np.asarray(BAND_CENTRES) >= 200) & (np.asarray(BAND_CENTRES) <= 4000)
    diff -= diff[core].mean()
    return np.clip(diff, -EQ_LIMIT_DB, EQ_LIMIT_DB)


def apply_match(samples: np.ndarray, sample_rate: int, params: MatchParams) -> np.ndarray:
    """The base voice's audio moved toward the reference; same rate, same RMS, peak <= 0.99."""
    import parselmouth
    from parselmouth.praat import call

    x = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    if x.size < sample_rate // 20:  # under 50 ms: nothing Praat could analyse
        return x.copy()
    snd = parselmouth.Sound(x.astype(np.float64), sampling_frequency=sample_rate)
    changed = call(
        snd,
        "Change gender",
        params.analysis_floor_hz,
        params.analysis_ceiling_hz,
        params.formant_ratio,
        params.pitch_median_hz,
        params.pitch_range_factor,
        1.0 / params.rate_factor,
    )
    y = np.asarray(changed.values[0], dtype=np.float64)
    if int(round(changed.sampling_frequency)) != sample_rate:  # Praat keeps the rate; be safe
        from scipy.signal import resample_poly

        g = np.gcd(int(round(changed.sampling_frequency)), sample_rate)
        y = resample_poly(y, sample_rate // g, int(round(changed.sampling_frequency)) // g)
    if any(params.eq_db):
        y = _equalise(y, sample_rate, np.asarray(params.eq_db))
    rms_in = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    rms_out = float(np.sqrt(np.mean(np.square(y))))
    if rms_out > 0:
        y *= rms_in / rms_out
    peak = float(np.abs(y).max()) if y.size else 0.0
    if peak > 0.99:
        y *= 0.99 / peak
    return y.astype(np.float32)


def _equalise(y: np.ndarray, sample_rate: int, eq_db: np.ndarray) -> np.ndarray:
    # One zero-phase FFT filter over the whole chunk: the gain curve is smooth (1/3-octave), so
    # its impulse response is short and the zero padding absorbs the circular wrap.
    n = 1 << int(np.ceil(np.log2(y.size + 4096)))
    freqs = np.fft.rfftfreq(n, 1 / sample_rate)
    logc = np.log(np.asarray(BAND_CENTRES))
    # below/above the band range the end gains hold (np.interp clamps)
    gain_db = np.interp(np.log(np.maximum(freqs, 1.0)), logc, eq_db)
    return np.fft.irfft(np.fft.rfft(y, n) * 10 ** (gain_db / 20), n)[: y.size]


# --- base voice profile ------------------------------------------------------------------------

_BASE_LOCK = threading.Lock()
_BASE: dict[str, VoiceProfile] = {}


def base_profile(synth=None, voice_id: str = BASE_VOICE, cache_path: Path | str | None = None) -> VoiceProfile:
    """Profile of the base voice, measured once on BASE_SENTENCES and kept for the process.

    Piper samples noise inside its graph, so two measurements differ slightly (F0 median within
    ~1 Hz, formants within ~1 %): deterministic enough for a plan. `cache_path`, when given,
    keeps the JSON across processes (e.g. in the model store) and is re-measured when stale.
    """
    with _BASE_LOCK:
        if voice_id in _BASE:
            return _BASE[voice_id]
        path = Path(cache_path) if cache_path else None
        profile = None
        if path is not None and path.is_file():
            try:
                profile = VoiceProfile.from_json(path.read_text(encoding="utf-8"))
            except (ValueError, KeyError, TypeError, Exception):  # stale or damaged: re-measure
                profile = None
        if profile is None:
            profile = measure_profile(synthesize_16k(synth, voice_id, BASE_SENTENCES))
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(profile.to_json(), encoding="utf-8")
        _BASE[voice_id] = profile
        return profile


def synthesize_16k(synth, voice_id: str, sentences, gap_s: float = 0.3) -> np.ndarray:
    """Sentences spoken by a Synthesizer, joined with short pauses, as 16 kHz float32."""
    from scipy.signal import resample_poly

    from engines.tts.types import SynthesisRequest

    if synth is None:
        from engines.tts.piper_engine import PiperSynthesizer

        synth = PiperSynthesizer()
    parts = []
    for text in sentences:
        audio = synth.synthesize(SynthesisRequest(text, voice_id))
        g = np.gcd(audio.sample_rate, SAMPLE_RATE)
        parts.append(resample_poly(audio.samples, SAMPLE_RATE // g, audio.sample_rate // g).astype(np.float32))
        parts.append(np.zeros(int(gap_s * SAMPLE_RATE), np.float32))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


# --- speaker embedding ---------------------------------------------------------------------------


def _encoder():
    from engines.diarization.features import SpeakerEncoder, shared

    return shared(SpeakerEncoder)


def speaker_embedding(audio16k: np.ndarray, window_s: float = 1.6, hop_s: float = 0.8) -> np.ndarray:
    """Resemblyzer utterance embedding (256-d, L2-normalised) of the speech in a 16 kHz clip.

    As Resemblyzer's embed_utterance: 1.6 s partial windows at 50 % overlap averaged, but over
    Silero VAD speech only and with each window scaled to -30 dBFS (the diarizer's rule), so
    pauses and loudness do not pull the embedding.
    """
    from engines.cloning.gate import speech_regions

    x = np.ascontiguousarray(audio16k, dtype=np.float32).reshape(-1)
    _, regions = speech_regions(x)
    speech = np.concatenate([x[a:b] for a, b in regions]) if regions else x
    win, hop = int(window_s * SAMPLE_RATE), int(hop_s * SAMPLE_RATE)
    if speech.size < win:
        speech = np.pad(speech, (0, win - speech.size))
    starts = np.arange(0, speech.size - win + 1, hop, dtype=np.int64)
    emb = _encoder().embed_windows(speech, starts, win, 10 ** (-30 / 20)).mean(axis=0)
    return (emb / max(float(np.linalg.norm(emb)), 1e-8)).astype(np.float32)


def campplus_speaker_embedding(audio16k: np.ndarray, model) -> np.ndarray:
    """CAM++ embedding (192-d, L2-normalised) of the Silero VAD speech in a 16 kHz clip, the
    encoder the neural diarizer uses. `model`: a CamPlusEmbedding (engines/diarization)."""
    import torch

    from engines.cloning.gate import speech_regions

    x = np.ascontiguousarray(audio16k, dtype=np.float32).reshape(-1)
    _, regions = speech_regions(x)
    speech = np.concatenate([x[a:b] for a, b in regions]) if regions else x
    emb = model(torch.from_numpy(speech)[None, None])[0]
    return (emb / max(float(np.linalg.norm(emb)), 1e-8)).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
