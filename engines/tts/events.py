"""Generated non-speech event sounds: pauses, breaths, sighs, laughs.

No samples ship with the engine, so events are synthesised from first principles: breaths and
sighs are noise shaped by broad vocal-tract resonances under a breath-like envelope; laughs are a
few "ha" syllables (aspiration noise, then a glottal pulse train through /a/ formants). Levels are
given relative to the speaker's speech RMS so an event sits naturally in the mix after loudness
normalisation. Everything is deterministic for a given seed.
"""

from __future__ import annotations

# Canonical event cues and other vendors' spellings of them (the style vocabulary is emotion.py's).
EVENTS = ("pause", "long-break", "breath", "sigh", "laugh", "chuckle", "panting")
EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "pause": ("break", "short pause", "short break", "beat", "brief pause"),
    "long-break": ("long pause", "longer pause", "silence"),
    "breath": (
        "breathe",
        "breathes",
        "breathing",
        "inhale",
        "inhales",
        "breath in",
        "deep breath",
        "breathes in",
        "gasp",
        "gasps",
    ),
    "sigh": ("sighs", "sighing", "sighed", "exhale", "exhales", "groan", "groans", "groaning"),
    "laugh": ("laughs", "laughing", "laughter", "laughed", "giggle", "giggles", "giggling", "haha"),
    "chuckle": ("chuckles", "chuckling", "chuckled", "snicker", "snickers"),
    "panting": ("pant", "pants", "out of breath", "heavy breathing"),
}

# Fixed silences: callers rely on "[pause]" meaning the same length every time.
SILENCE_S = {"pause": 0.5, "long-break": 1.5}
# Level below the speech RMS, dB: breaths are much quieter than words, laughs close to them.
LEVEL_DB = {"breath": -16.0, "sigh": -12.0, "laugh": -4.0, "chuckle": -9.0, "panting": -14.0}


def render_event(name: str, sample_rate: int, speech_rms: float, f0: float = 120.0, seed: int = 0):
    """Float32 samples for event `name` (a canonical name from EVENTS)."""
    import numpy as np

    if name not in EVENTS:
        raise ValueError(f"unknown event {name!r}")
    if name in SILENCE_S:
        return np.zeros(int(SILENCE_S[name] * sample_rate), dtype=np.float32)
    rng = np.random.default_rng(seed)
    sr = sample_rate
    if name == "breath":
        y = _breath(sr, rng, 0.45, inhale=True)
    elif name == "sigh":
        y = _sigh(sr, rng, f0)
    elif name == "panting":
        parts = [_breath(sr, rng, d, inhale=i % 2 == 0) for i, d in enumerate((0.22, 0.25) * 3)]
        y = np.concatenate([np.concatenate([p, np.zeros(int(0.04 * sr))]) for p in parts])
    else:
        y = _laugh(sr, rng, f0, bursts=4 if name == "laugh" else 3)
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) or 1.0
    return (y * (speech_rms * 10 ** (LEVEL_DB[name] / 20) / rms)).astype(np.float32)


def _envelope(n: int, attack: float):
    """Asymmetric raised-cosine: rise over `attack` of the length, fall over the rest."""
    import numpy as np

    k = max(1, int(n * attack))
    up = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k))
    down = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n - k))
    return np.concatenate([up, down])


def _resonate(x, sr: int, formants):
    """Cascade of 2-pole resonators (Klatt-style) at (frequency, bandwidth) pairs."""
    import numpy as np
    from scipy.signal import lfilter

    for f, bw in formants:
        if f >= sr / 2 - bw:
            continue
        r = np.exp(-np.pi * bw / sr)
        a = [1.0, -2 * r * np.cos(2 * np.pi * f / sr), r * r]
        x = lfilter([sum(a)], a, x)  # unity gain at DC keeps cascades from exploding
    return x


def _breath(sr: int, rng, seconds: float, inhale: bool):
    from scipy.signal import butter, sosfilt

    n = int(seconds * sr)
    noise = rng.standard_normal(n)
    # Breath noise is turbulence at the glottis and in the nose: broad, bright, formant-coloured.
    sos = butter(2, [400 / (sr / 2), min(0.95, 5000 / (sr / 2))], btype="band", output="sos")
    y = sosfilt(sos, noise) + 0.3 * _resonate(noise * 0.05, sr, [(1500, 400), (2500, 500)])
    return y * _envelope(n, 0.65 if inhale else 0.25)


def _sigh(sr: int, rng, f0: float):
    import numpy as np

    inhale = _breath(sr, rng, 0.3, inhale=True)
    n = int(0.9 * sr)
    t = np.arange(n) / sr
    # Exhale: aspiration through an open /a/-like tract with a faint falling voiced murmur.
    asp = _resonate(rng.standard_normal(n), sr, [(700, 300), (1200, 300), (2600, 400)])
    asp /= np.max(np.abs(asp)) or 1.0
    pitch = f0 * (1.0 - 0.25 * t / t[-1])
    voiced = _resonate(_pulses(sr, pitch, rng), sr, [(600, 150), (1100, 200), (2500, 300)])
    voiced /= np.max(np.abs(voiced)) or 1.0
    exhale = (asp + 0.35 * voiced) * _envelope(n, 0.15)
    gap = np.zeros(int(0.08 * sr))
    return np.concatenate([inhale * 0.6, gap, exhale])


def _pulses(sr: int, f0_track, rng):
    """Glottal pulse train following an F0 track, with jitter, shaped like real phonation."""
    import numpy as np
    from scipy.signal import lfilter

    phase = np.cumsum(f0_track * (1 + 0.01 * rng.standard_normal(len(f0_track))) / sr)
    train = np.diff(np.floor(phase), prepend=0.0)
    # Double pole at 0.95: glottal roll-off; the zero at DC is lip radiation, and removes the
    # offset a unipolar pulse train would otherwise leave.
    return lfilter([1.0, -1.0], [1.0, -1.9, 0.9025], train)


def _laugh(sr: int, rng, f0: float, bursts: int):
    import numpy as np

    out = []
    for i in range(bursts):
        # Each "ha" is shorter, lower and softer than the last, as in a spontaneous laugh.
        decay = 0.85**i
        h = int(0.05 * sr)
        v = int((0.11 - 0.01 * i) * sr)
        asp = _resonate(rng.standard_normal(h), sr, [(800, 400), (1300, 400), (2600, 500)])
        asp = asp / (np.max(np.abs(asp)) or 1.0) * 0.3 * _envelope(h, 0.6)
        track = np.linspace(1.5, 1.25, v) * f0 * (1.0 - 0.04 * i)
        vow = _resonate(_pulses(sr, track, rng), sr, [(800, 90), (1250, 110), (2700, 170)])
        vow = vow / (np.max(np.abs(vow)) or 1.0) * _envelope(v, 0.2)
        out += [np.concatenate([asp, vow]) * decay, np.zeros(int(0.07 * sr))]
    return np.concatenate(out)
