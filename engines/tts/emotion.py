"""Cue vocabulary and engine-agnostic emotion rendering.

Piper (and most small TTS voices) has no emotion input, so each style cue is mapped to prosody
that listeners read as that emotion and that can be measured: speaking rate (through the engine's
own speed knob), F0 level and range (PSOLA via Praat/parselmouth), breathiness and whisper
(noise-excited LPC: same formants, no voicing), spectral tilt (effort) and energy. Event cues
(their names and aliases too) belong to events.py. `resolve_cue` is the one lookup for both.
Module level is pure Python because the script parser needs the vocabulary without loading any
audio library; `measure` gives the acoustic correlates that tests and the benchmark check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engines.tts.events import EVENT_ALIASES, EVENTS, SILENCE_S


@dataclass(frozen=True)
class Prosody:
    rate: float = 1.0  # speaking-rate multiplier, handed to the engine as speed
    pitch: float = 0.0  # F0 level shift, semitones
    range: float = 1.0  # F0 excursion multiplier around the chunk mean (log domain)
    gain_db: float = 0.0  # level relative to the speaker's normalised loudness
    breathy: float = 0.0  # 0..1 share of a whispered copy mixed in
    whisper: bool = False  # fully unvoiced
    tilt_db: float = 0.0  # high-shelf gain above 1 kHz: + effortful/bright, - soft/dark
    tremolo: float = 0.0  # 5.5 Hz F0 wobble depth, semitones (fear, crying)
    variation: float = 1.0  # engine sampling noise (Piper noise_scale multiplier)
    timing_variation: float = 1.0  # Piper noise_w multiplier

    @property
    def needs_dsp(self) -> bool:
        return bool(self.pitch or self.range != 1.0 or self.breathy or self.whisper or self.tilt_db or self.tremolo)


P = Prosody
# Values follow the usual acoustic correlates (Scherer 2003; Juslin & Laukka 2003): high-arousal
# emotions raise rate, F0 level/range and effort; low-arousal ones lower them. Magnitudes are
# kept large enough to be measurable on a neutral neural voice but small enough to stay natural.
STYLES: dict[str, Prosody] = {
    "neutral": P(),
    "happy": P(rate=1.06, pitch=2.0, range=1.3, gain_db=1.5, tilt_db=1.0),
    "delighted": P(rate=1.08, pitch=2.5, range=1.45, gain_db=2.0, tilt_db=1.5, variation=1.1),
    "satisfied": P(rate=0.97, pitch=0.5, range=1.05, tilt_db=0.5),
    "grateful": P(rate=0.95, pitch=1.0, range=1.15, breathy=0.1),
    "proud": P(rate=0.95, pitch=1.0, range=1.2, gain_db=2.0, tilt_db=1.0),
    "confident": P(rate=0.97, pitch=-0.5, range=1.1, gain_db=2.0, tilt_db=1.5, variation=0.8),
    "relaxed": P(rate=0.9, pitch=-1.0, range=0.8, gain_db=-1.5, breathy=0.1, tilt_db=-1.0),
    "calm": P(rate=0.9, pitch=-1.0, range=0.7, gain_db=-2.0, breathy=0.05, tilt_db=-1.5, variation=0.8),
    "excited": P(rate=1.18, pitch=3.5, range=1.5, gain_db=3.0, tilt_db=2.0, variation=1.1),
    "surprised": P(rate=1.05, pitch=4.0, range=1.6, gain_db=2.0, tilt_db=1.0),
    "curious": P(rate=1.0, pitch=1.5, range=1.3),
    "sarcastic": P(rate=0.9, pitch=-0.5, range=1.4, timing_variation=1.3),
    "sad": P(rate=0.85, pitch=-2.5, range=0.6, gain_db=-3.0, breathy=0.15, tilt_db=-3.0),
    "depressed": P(rate=0.8, pitch=-3.5, range=0.45, gain_db=-5.0, breathy=0.2, tilt_db=-4.0, variation=0.8),
    "upset": P(rate=1.02, pitch=1.0, range=1.3, gain_db=2.0, tremolo=0.3),
    "frustrated": P(rate=1.0, pitch=0.5, range=1.25, gain_db=3.0, tilt_db=2.0),
    "angry": P(rate=1.08, pitch=1.5, range=1.4, gain_db=5.0, tilt_db=4.0),
    "disgusted": P(rate=0.88, pitch=-1.5, range=1.2, gain_db=1.0),
    "scared": P(rate=1.12, pitch=3.0, range=0.8, gain_db=-1.0, breathy=0.2, tremolo=0.6),
    "worried": P(rate=0.95, pitch=1.0, range=0.8, gain_db=-1.5, breathy=0.1, tremolo=0.3),
    "nervous": P(rate=1.1, pitch=1.5, range=0.9, gain_db=-1.0, breathy=0.1, tremolo=0.5, timing_variation=1.4),
    "embarrassed": P(rate=0.95, pitch=0.5, range=0.8, gain_db=-3.0, breathy=0.15),
    "empathetic": P(rate=0.9, pitch=-0.5, range=0.9, gain_db=-2.0, breathy=0.1, tilt_db=-1.5),
    "moved": P(rate=0.88, pitch=0.5, range=0.9, gain_db=-2.0, breathy=0.15, tremolo=0.4),
    "whisper": P(rate=0.95, gain_db=-6.0, whisper=True),
    "soft tone": P(rate=0.95, pitch=-0.5, range=0.8, gain_db=-6.0, breathy=0.3, tilt_db=-4.0),
    "shouting": P(rate=1.05, pitch=4.0, range=1.3, gain_db=9.0, tilt_db=5.0),
    "screaming": P(rate=1.1, pitch=7.0, range=1.5, gain_db=10.0, tilt_db=6.0),
    "in a hurry tone": P(rate=1.35, pitch=1.0, range=0.9, gain_db=1.0),
    "slow": P(rate=0.8),
    "sobbing": P(rate=0.8, pitch=1.0, range=0.7, gain_db=-3.0, breathy=0.3, tremolo=1.0),
    "crying loudly": P(rate=0.85, pitch=3.0, range=1.2, gain_db=3.0, breathy=0.2, tremolo=1.2),
}

# Other vendors' spellings (ElevenLabs v3 "[whispers]", Fish Audio "(sighing)", SSML-ish words).
_ALIASES: dict[str, tuple[str, ...]] = {
    "neutral": ("normal", "default", "neutral tone", "regular", "plain", "reset"),
    "happy": ("cheerful", "cheerfully", "joyful", "glad", "happily", "joy"),
    "delighted": ("overjoyed", "delight"),
    "satisfied": ("content", "pleased"),
    "grateful": ("thankful", "gratefully"),
    "proud": ("proudly",),
    "confident": ("confidently", "assertive", "determined"),
    "relaxed": ("laid back", "relaxing"),
    "calm": ("calmly", "serene", "peaceful", "composed"),
    "excited": ("excitedly", "enthusiastic", "enthusiastically", "thrilled", "energetic", "eager"),
    "surprised": ("surprise", "amazed", "astonished", "shocked"),
    "curious": ("curiously", "intrigued", "inquisitive", "wondering"),
    "sarcastic": ("sarcastically", "sarcasm", "ironic", "mocking", "mockingly"),
    "sad": ("sadly", "unhappy", "sorrowful", "melancholy", "gloomy"),
    "depressed": ("hopeless", "despairing"),
    "upset": ("hurt",),
    "frustrated": ("annoyed", "irritated", "exasperated"),
    "angry": ("angrily", "mad", "furious", "irate", "enraged"),
    "disgusted": ("disgust", "repulsed"),
    "scared": ("afraid", "fearful", "frightened", "terrified", "fear"),
    "worried": ("anxious", "concerned", "worry"),
    "nervous": ("nervously", "hesitant", "uneasy"),
    "embarrassed": ("shy", "sheepish", "awkward"),
    "empathetic": ("sympathetic", "compassionate", "caring", "kindly", "warm"),
    "moved": ("touched", "emotional"),
    "whisper": ("whispering", "whispers", "whispered", "whispery", "hushed"),
    "soft tone": ("soft", "softly", "gentle", "gently", "quiet", "quietly", "tender", "tenderly"),
    "shouting": ("shout", "shouts", "shouted", "yelling", "yell", "yells", "loud", "loudly"),
    "screaming": ("scream", "screams", "screamed", "shrieking"),
    "in a hurry tone": ("in a hurry", "hurry", "hurried", "hurriedly", "rushed", "rushing", "hasty", "quickly", "fast"),
    "slow": ("slowly",),
    "sobbing": ("sob", "sobs", "tearful"),
    "crying loudly": ("crying", "cries", "cry", "weeping", "wailing"),
}


def _key(raw: str) -> str:
    # Case-, whitespace-, hyphen- and underscore-insensitive: "[Long_Break]" == "[long-break]".
    return " ".join(re.sub(r"[-_]", " ", raw.lower()).split())


_LOOKUP: dict[str, tuple[str, str]] = {}
for _name in STYLES:
    _LOOKUP[_key(_name)] = ("style", _name)
for _name in EVENTS:
    _LOOKUP[_key(_name)] = ("event", _name)
for _name, _aliases in (_ALIASES | EVENT_ALIASES).items():
    for _alias in _aliases:
        _LOOKUP.setdefault(_key(_alias), _LOOKUP[_key(_name)])

# Wrappers users add around a known word: "[sad voice]", "[in a whisper]", "[speaking softly]".
_WRAPPERS = re.compile(r"^(?:in an? |speaking |sounding |with an? )?(.+?)(?: tone| voice)?$")


def resolve_cue(raw: str) -> tuple[str, str] | None:
    """Map a cue's text to ("style" | "event", canonical name), or None when it is unknown."""
    key = _key(raw)
    if key in _LOOKUP:
        return _LOOKUP[key]
    m = _WRAPPERS.match(key)
    return _LOOKUP.get(m.group(1)) if m else None


def prosody_for(style: str | None) -> Prosody:
    return STYLES.get(style or "neutral", STYLES["neutral"])


# --- DSP -------------------------------------------------------------------------------------


def apply_prosody(samples, sample_rate: int, prosody: Prosody, seed: int = 0):
    """Pitch, tremolo, breathiness/whisper and tilt; level-neutral (gain_db is the renderer's)."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float32)
    if not prosody.needs_dsp or x.size < sample_rate // 20:
        return x
    ref_rms = _rms(x)
    if prosody.pitch or prosody.range != 1.0 or prosody.tremolo:
        x = _reshape_f0(x, sample_rate, prosody.pitch, prosody.range, prosody.tremolo)
    if prosody.whisper:
        x = whisperize(x, sample_rate, seed)
    elif prosody.breathy > 0:
        w = whisperize(x, sample_rate, seed)
        x = (1.0 - prosody.breathy) * x + prosody.breathy * w
    if prosody.tilt_db:
        x = _high_shelf(x, sample_rate, prosody.tilt_db)
    # Rescale to the input level so loudness normalisation and gain_db alone decide the level.
    rms = _rms(x)
    return (x * (ref_rms / rms) if rms > 1e-9 else x).astype(np.float32)


def _rms(x) -> float:
    import numpy as np

    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def _reshape_f0(x, sr: int, semitones: float, range_: float, tremolo: float):
    """PSOLA re-synthesis with a transformed pitch tier; duration and formants are kept."""
    import numpy as np
    import parselmouth
    from parselmouth.praat import call

    snd = parselmouth.Sound(x.astype(np.float64), sampling_frequency=sr)
    manip = call(snd, "To Manipulation", 0.01, 60, 500)
    tier = call(manip, "Extract pitch tier")
    if call(tier, "Get number of points") == 0:  # nothing voiced: nothing to move
        return x
    center = call(tier, "Get mean (points)", 0, 0)
    # Range is scaled in the log domain around the chunk's mean F0, then the level is shifted;
    # `x` in a tier formula is time, which drives the tremolo.
    formula = f"{center} * (self / {center}) ^ {range_} * 2 ^ ({semitones} / 12)"
    if tremolo:
        formula += f" * 2 ^ ({tremolo} / 12 * sin(2 * pi * 5.5 * x))"
    call(tier, "Formula", f"min(600, max(50, {formula}))")
    call([tier, manip], "Replace pitch tier")
    out = call(manip, "Get resynthesis (overlap-add)")
    y = out.values[0].astype(np.float32)
    return y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))


def whisperize(x, sr: int, seed: int = 0):
    """Noise-excited LPC: keep each frame's spectral envelope, replace the excitation by noise.

    The result has no periodicity at all (pitch trackers find ~no voiced frames), while formants,
    and so intelligibility, survive. 25 ms Hann frames at 50 % overlap sum to one.
    """
    import numpy as np
    from scipy.linalg import solve_toeplitz
    from scipy.signal import lfilter

    x = np.asarray(x, dtype=np.float64)
    order = 4 + sr // 1000  # two poles per kHz of bandwidth plus a few for the glottal tilt
    frame = int(0.025 * sr) // 2 * 2
    hop = frame // 2
    win = np.hanning(frame + 1)[:-1]
    # Bandwidth expansion (poles pulled in by 0.98^k): whispered formants are broader, and sharp
    # noise-driven resonances otherwise ring long enough for pitch trackers to call them voiced.
    bw = 0.98
    pre = lfilter([1.0, -0.9], [1.0], x)  # pre-emphasis: fit formants, not the -6 dB/oct slope
    n_frames = max(1, int(np.ceil(len(x) / hop)) + 1)
    padded = np.pad(pre, (hop, n_frames * hop + frame - len(pre) - hop))
    out = np.zeros_like(padded)
    rng = np.random.default_rng(seed)
    for i in range(n_frames):
        seg = padded[i * hop : i * hop + frame] * win
        energy = float(np.dot(seg, seg))
        if energy < 1e-10:
            continue
        spec = np.fft.rfft(seg, 2 * frame)
        r = np.fft.irfft(np.abs(spec) ** 2)[: order + 1]
        r[0] *= 1.0 + 1e-6  # white-noise correction keeps the Toeplitz system well-posed
        try:
            a = solve_toeplitz(r[:order], -r[1 : order + 1])
        except np.linalg.LinAlgError:
            continue
        a *= bw ** np.arange(1, order + 1)
        y = lfilter([1.0], np.concatenate(([1.0], a)), rng.standard_normal(frame)) * win
        y *= np.sqrt(energy / max(float(np.dot(y, y)), 1e-12))
        out[i * hop : i * hop + frame] += y
    out = lfilter([1.0], [1.0, -0.9], out[hop : hop + len(x)])
    return out.astype(np.float32)


def _high_shelf(x, sr: int, gain_db: float, corner: float = 1000.0):
    """RBJ-cookbook high shelf (slope 1): vocal effort shows up as a flatter spectral tilt."""
    import numpy as np
    from scipy.signal import lfilter

    a_ = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * corner / sr
    cw, alpha = np.cos(w0), np.sin(w0) / 2 * np.sqrt(2)
    sa = 2 * np.sqrt(a_) * alpha
    b = [
        a_ * ((a_ + 1) + (a_ - 1) * cw + sa),
        -2 * a_ * ((a_ - 1) + (a_ + 1) * cw),
        a_ * ((a_ + 1) + (a_ - 1) * cw - sa),
    ]
    a = [(a_ + 1) - (a_ - 1) * cw + sa, 2 * ((a_ - 1) - (a_ + 1) * cw), (a_ + 1) - (a_ - 1) * cw - sa]
    return lfilter(b, a, x).astype(np.float32)


def measure(samples, sample_rate: int, chars: int | None = None) -> dict:
    """Acoustic correlates used to check styles: F0 median/range (semitone span p10-p90), voiced
    fraction and RMS over active frames (within 35 dB of the loudest), active duration per char."""
    import numpy as np
    import parselmouth

    snd = parselmouth.Sound(np.asarray(samples, dtype=np.float64), sampling_frequency=sample_rate)
    pitch = snd.to_pitch_ac(time_step=0.01, pitch_floor=60, pitch_ceiling=600)
    f0 = pitch.selected_array["frequency"]
    hop = int(0.01 * sample_rate)
    x = np.asarray(samples, dtype=np.float64)
    centres = (pitch.xs() * sample_rate).astype(int)
    rms = np.array([np.sqrt(np.mean(x[max(0, c - hop) : c + hop] ** 2) + 1e-12) for c in centres])
    db = 20 * np.log10(rms)
    active = db > db.max() - 35
    voiced = f0[active & (f0 > 0)]
    p10, p50, p90 = np.percentile(voiced, [10, 50, 90]) if len(voiced) > 2 else (np.nan,) * 3
    out = {
        "f0_median": float(p50),
        "f0_range_st": float(12 * np.log2(p90 / p10)),
        "voiced_fraction": float(np.mean(f0[active] > 0)) if active.any() else 0.0,
        "rms_db": float(10 * np.log10(np.mean(rms[active] ** 2))),
        "active_s": float(active.sum() * 0.01),
    }
    if chars:
        out["s_per_char"] = out["active_s"] / chars
    return out


def cue_vocabulary() -> dict[str, list[dict]]:
    """Every canonical cue with the other spellings that resolve to it, styles and events apart:
    what a script editor offers (the API publishes it at /v1/tts/cues)."""
    styles = [{"name": name, "aliases": list(_ALIASES.get(name, ()))} for name in STYLES]
    events = [
        {"name": name, "aliases": list(EVENT_ALIASES.get(name, ())), "silence_s": SILENCE_S.get(name)}
        for name in EVENTS
    ]
    return {"styles": styles, "events": events}
