"""Voice profile: the few acoustic figures the built-in voice match needs, measured with Praat.

A VoiceProfile is small, JSON-serialisable and stored with a clone, so a voice can be re-planned
against a different base voice later without the reference audio. Figures:

  pitch        median and 5th/95th percentiles of F0 (Hz), two-pass: a wide first pass (60-600 Hz)
               sets the floor/ceiling of the second (0.75 x q15, 1.5 x q85; De Looze & Hirst),
               which removes most octave errors;
  formants     medians of F1-F3 (Burg, Hz) over voiced frames; the formant ceiling follows the
               voice (5000 Hz at a median F0 <= 120 Hz up to 5500 Hz at >= 200 Hz), as Praat's
               manual advises for male and female voices, and is lowered to the clip's
               bandwidth for phone-band audio (otherwise F3 of a 190 Hz voice read ~2000 Hz);
  bandwidth    upper edge of the highest 1/3-octave band within 40 dB of the loudest;
  ltas_db      long-term average spectrum of the speech (VAD) frames in 1/3-octave bands from
               80 Hz to 8 kHz, dB relative to the clip's mean power, so level does not matter;
  rate         syllable nuclei per second of VAD speech (intensity peaks >= 2 dB prominent that
               are voiced; de Jong & Wempe 2009, simplified). Coarse: good to +-15 %, which is all
               the match uses it for.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from engines.types import SAMPLE_RATE, EngineError

PROFILE_VERSION = 1
# 1/3-octave band centres, 80 Hz .. 8 kHz (21 bands); a 16 kHz clip has nothing above 8 kHz.
BAND_CENTRES = tuple(round(80 * 2 ** (k / 3), 2) for k in range(21))


@dataclass
class VoiceProfile:
    pitch_median_hz: float
    pitch_p5_hz: float
    pitch_p95_hz: float
    formants_hz: tuple[float, float, float]  # F1, F2, F3 medians
    ltas_db: tuple[float, ...]  # one value per BAND_CENTRES entry
    rate_syl_s: float
    speech_s: float
    voiced_fraction: float  # of the speech frames; very low means whisper or noise
    bandwidth_hz: float  # highest frequency with speech energy (telephone: ~3.6 kHz)
    version: int = PROFILE_VERSION
    band_centres_hz: tuple[float, ...] = field(default=BAND_CENTRES)

    @property
    def pitch_range_st(self) -> float:
        return float(12 * np.log2(self.pitch_p95_hz / self.pitch_p5_hz))

    def to_json(self) -> str:
        d = asdict(self)
        d["formants_hz"] = list(self.formants_hz)
        d["ltas_db"] = [round(v, 2) for v in self.ltas_db]
        d["band_centres_hz"] = [round(v, 2) for v in self.band_centres_hz]
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes | dict) -> VoiceProfile:
        d = dict(text) if isinstance(text, dict) else json.loads(text)
        if d.get("version") != PROFILE_VERSION:
            # A newer/older layout would be misread silently; the caller re-measures instead.
            raise EngineError(f"voice profile version {d.get('version')!r} is not {PROFILE_VERSION}")
        d["formants_hz"] = tuple(float(v) for v in d["formants_hz"])
        d["ltas_db"] = tuple(float(v) for v in d["ltas_db"])
        d["band_centres_hz"] = tuple(float(v) for v in d.get("band_centres_hz", BAND_CENTRES))
        return cls(**d)


class ProfileError(EngineError):
    """The clip has too little voiced speech to measure (the gate normally catches this first)."""

    code = "profile_failed"


def measure_profile(reference: np.ndarray, regions: list[tuple[int, int]] | None = None) -> VoiceProfile:
    """Measure a float32 16 kHz mono clip. `regions`: VAD speech (samples); found when omitted."""
    import parselmouth

    x = np.ascontiguousarray(reference, dtype=np.float32).reshape(-1)
    if regions is None:
        from engines.cloning.gate import speech_regions

        _, regions = speech_regions(x)
    speech_s = sum(b - a for a, b in regions) / SAMPLE_RATE
    if speech_s < 1.0:
        raise ProfileError(f"only {speech_s:.1f} s of speech to measure")
    snd = parselmouth.Sound(x.astype(np.float64), sampling_frequency=SAMPLE_RATE)
    times, f0 = _pitch(snd)
    voiced = f0 > 0
    in_speech = _mask_at(times, regions)
    if np.count_nonzero(voiced & in_speech) < 20:  # 0.2 s of voicing: nothing to measure
        raise ProfileError("too little voiced speech to measure pitch and formants")
    vf0 = f0[voiced & in_speech]
    median = float(np.median(vf0))
    ltas = band_ltas(x, regions)
    bandwidth = effective_bandwidth(ltas)
    formants = _formants(snd, times[voiced & in_speech], median, bandwidth)
    return VoiceProfile(
        pitch_median_hz=round(median, 2),
        pitch_p5_hz=round(float(np.percentile(vf0, 5)), 2),
        pitch_p95_hz=round(float(np.percentile(vf0, 95)), 2),
        formants_hz=formants,
        ltas_db=tuple(round(float(v), 2) for v in ltas),
        bandwidth_hz=round(bandwidth, 1),
        rate_syl_s=round(_syllable_rate(snd, times, f0, speech_s), 3),
        speech_s=round(speech_s, 2),
        voiced_fraction=round(float(np.mean(voiced[in_speech])) if in_speech.any() else 0.0, 3),
    )


def _mask_at(times: np.ndarray, regions: list[tuple[int, int]]) -> np.ndarray:
    mask = np.zeros(times.size, bool)
    for a, b in regions:
        mask |= (times >= a / SAMPLE_RATE) & (times < b / SAMPLE_RATE)
    return mask


def _pitch(snd) -> tuple[np.ndarray, np.ndarray]:
    first = snd.to_pitch(time_step=0.01, pitch_floor=60.0, pitch_ceiling=600.0).selected_array["frequency"]
    voiced = first[first > 0]
    floor, ceiling = 60.0, 600.0
    if voiced.size >= 20:
        floor = float(np.clip(0.75 * np.percentile(voiced, 15), 50.0, 300.0))
        ceiling = float(np.clip(1.5 * np.percentile(voiced, 85), floor + 50.0, 800.0))
    pitch = snd.to_pitch(time_step=0.01, pitch_floor=floor, pitch_ceiling=ceiling)
    return np.asarray(pitch.xs()), np.asarray(pitch.selected_array["frequency"])


def formant_ceiling(median_f0: float) -> float:
    return float(np.interp(median_f0, [120.0, 200.0], [5000.0, 5500.0]))


def effective_bandwidth(ltas_db: np.ndarray, drop_db: float = 40.0) -> float:
    """Upper edge of the highest 1/3-octave band within `drop_db` of the loudest band."""
    ltas_db = np.asarray(ltas_db)
    inside = np.flatnonzero(ltas_db >= ltas_db.max() - drop_db)
    return float(BAND_CENTRES[int(inside.max())] * 2 ** (1 / 6))


def _formants(snd, times: np.ndarray, median_f0: float, bandwidth: float) -> tuple[float, float, float]:
    from parselmouth.praat import call

    ceiling = formant_ceiling(median_f0)
    count = 5.0
    if bandwidth < ceiling:
        # Band-limited (telephone) audio: Burg would place formants in the empty band and pull
        # F3 down (a 190 Hz female voice measured F3 ~2000 Hz). Search only the band that has
        # energy, with as many formants as the voice's spacing puts there (half steps allowed).
        count = max(3.0, round(2 * 5.0 * bandwidth / ceiling) / 2)
        ceiling = bandwidth
    formant = snd.to_formant_burg(
        time_step=0.01,
        max_number_of_formants=count,
        maximum_formant=ceiling,
        window_length=0.025,
        pre_emphasis_from=50.0,
    )
    xs = np.asarray(formant.xs())
    out = []
    for n in (1, 2, 3):
        values = np.asarray(call(formant, "To Matrix", n).values[0])
        at = np.interp(times, xs, values)  # nearest-frame values at the voiced pitch frames
        at = at[np.isfinite(at) & (at > 0)]
        out.append(round(float(np.median(at)), 1) if at.size else 0.0)  # 0: not measured (JSON has no NaN)
    return out[0], out[1], out[2]


def band_ltas(x: np.ndarray, regions: list[tuple[int, int]] | None, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """1/3-octave long-term average spectrum (dB re the mean power per bin) of the speech frames."""
    n_fft, hop = 1024, 512
    window = np.hanning(n_fft).astype(np.float32)
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    starts = np.arange(0, x.size - n_fft + 1, hop)
    if regions:
        centre = starts + n_fft // 2
        keep = np.zeros(starts.size, bool)
        for a, b in regions:
            keep |= (centre >= a) & (centre < b)
        if keep.any():
            starts = starts[keep]
    power = np.zeros(n_fft // 2 + 1)
    for i in range(0, starts.size, 512):  # blocks bound memory on long clips
        idx = starts[i : i + 512, None] + np.arange(n_fft)[None, :]
        power += np.sum(np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2, axis=0)
    power /= max(starts.size, 1)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    total = power[(freqs >= BAND_CENTRES[0] / 2 ** (1 / 6))].mean() + 1e-20
    out = []
    for c in BAND_CENTRES:
        sel = (freqs >= c / 2 ** (1 / 6)) & (freqs < c * 2 ** (1 / 6))
        # low bands are narrower than a bin: take the nearest bin's power
        value = power[sel].mean() if sel.any() else power[np.argmin(np.abs(freqs - c))]
        out.append(10 * np.log10(value / total + 1e-12))
    return np.asarray(out)


def _syllable_rate(snd, times: np.ndarray, f0: np.ndarray, speech_s: float) -> float:
    from scipy.signal import find_peaks

    intensity = snd.to_intensity(minimum_pitch=50.0, time_step=0.01)
    it = np.asarray(intensity.xs())
    db = np.asarray(intensity.values[0])
    if db.size < 3:
        return 0.0
    floor = max(np.median(db), db.max() - 25.0)  # ignore the noise floor and distant murmur
    peaks, _ = find_peaks(db, height=floor, prominence=2.0, distance=5)  # nuclei >= 50 ms apart
    voiced_at = np.interp(it[peaks], times, (f0 > 0).astype(float)) >= 0.5
    return float(np.count_nonzero(voiced_at) / max(speech_s, 1e-6))
