"""Each voice's loudness, measured once on a calibration text and kept, so speech can be levelled
(and sent) sentence by sentence instead of after the whole script is measured.

Voices differ by 10 dB and more in raw level; a fixed gain per voice to TARGET_LUFS makes speakers
match. The render's style gains go on top. Piper's level varies little between sentences of one
voice (about 1 LU on our test texts), so one calibration stands for everything the voice says.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from engines.tts.types import SynthesisRequest, Synthesizer

TARGET_LUFS = -20.0  # typical for speech content; leaves ~6 dB peak headroom for raised styles
# Long enough for a stable integrated loudness (several 400 ms blocks) and a median F0.
CALIBRATION_TEXT = (
    "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore, "
    "and every evening the old clock in the hall strikes nine."
)


@dataclass(frozen=True)
class VoiceLevel:
    voice_id: str
    sample_rate: int  # the voice's native rate
    loudness_lufs: float  # of the calibration text, before gain
    gain_db: float  # to TARGET_LUFS
    rms: float  # of the calibration speech after the gain: the level event sounds are made relative to
    f0: float | None  # median F0, so generated laughs and sighs sit in the speaker's register

    def stats(self, speaker: int) -> dict:
        return {
            "speaker": speaker,
            "voice_id": self.voice_id,
            "loudness_lufs": round(self.loudness_lufs, 2),
            "gain_db": round(self.gain_db, 2),
            "f0": self.f0,
        }


class VoiceLevels:
    """Calibrations by (engine type, voice id, language). One per worker process: a voice is
    calibrated on its first use there; a fresh instance (the default of a single render) costs one
    extra synthesis of CALIBRATION_TEXT per voice."""

    def __init__(self) -> None:
        self._levels: dict[tuple[str, str, str | None], VoiceLevel] = {}
        self._lock = threading.Lock()

    def level(self, synth: Synthesizer, voice_id: str, language: str | None = None) -> VoiceLevel:
        key = (type(synth).__qualname__, voice_id, language)
        with self._lock:
            known = self._levels.get(key)
        if known is not None:
            return known
        level = calibrate(synth, voice_id, language)  # outside the lock: other voices need not wait
        with self._lock:
            return self._levels.setdefault(key, level)


def calibrate(synth: Synthesizer, voice_id: str, language: str | None = None) -> VoiceLevel:
    import numpy as np
    import pyloudnorm

    from engines.tts.render import _trim

    audio = synth.synthesize(SynthesisRequest(text=CALIBRATION_TEXT, voice_id=voice_id, language=language))
    sr = audio.sample_rate
    x = _trim(audio.samples, sr).astype(np.float64)
    if len(x) < int(0.5 * sr):  # the meter needs at least one 400 ms block
        x = np.tile(x, int(np.ceil(0.5 * sr / max(len(x), 1))))
    loud = pyloudnorm.Meter(sr).integrated_loudness(x)
    gain = float(np.clip(TARGET_LUFS - loud, -30, 30)) if np.isfinite(loud) else 0.0
    rms = float(np.sqrt(np.mean(x**2))) * 10 ** (gain / 20) if len(x) else 10 ** (TARGET_LUFS / 20)
    return VoiceLevel(voice_id, sr, float(loud), gain, rms, _median_f0(x, sr))


def _median_f0(x, sr: int) -> float | None:
    import numpy as np
    import parselmouth

    if not len(x):
        return None
    snd = parselmouth.Sound(x[: 8 * sr], sampling_frequency=sr)
    f = snd.to_pitch_ac(time_step=0.02, pitch_floor=60, pitch_ceiling=500).selected_array["frequency"]
    f = f[f > 0]
    return float(np.median(f)) if len(f) else None
