"""The one place that turns settings into engine instances (worker side only).

`describe()` says which engine serves each capability and whether it can run, without importing
heavy packages or loading weights, for /v1/health and worker heartbeats.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Any

from engines.model_cache import ModelCache
from engines.types import Diarizer, EngineUnavailable, SpeechToText
from model_store import whisper as whisper_store
from model_store.provisioned import engine_dir, pipeline_path
from model_store.voices import is_valid_id
from server.settings import Settings

log = logging.getLogger(__name__)


class EngineRegistry:
    def __init__(self, settings: Settings, cache: ModelCache) -> None:
        self._settings = settings
        self._cache = cache
        self._lock = threading.Lock()
        self._stt: SpeechToText | None = None
        self._diarizer: Diarizer | None = None
        self._piper = None
        self._xtts = None
        self._speaker_encoder = None

    def stt(self) -> SpeechToText:
        with self._lock:
            if self._stt is None:
                self._stt = self._build_stt()
            return self._stt

    def diarizer(self) -> Diarizer:
        with self._lock:
            if self._diarizer is None:
                self._diarizer = self._build_diarizer()
            return self._diarizer

    def speaker_encoder(self):
        """The CAM++ encoder of the neural diarizer's weights, for voiceprints (whichever diarizer serves)."""
        with self._lock:
            if self._speaker_encoder is None:
                self._speaker_encoder = build_speaker_encoder(self._settings)
            return self._speaker_encoder

    def synthesizer_for(self, voice_id: str, voices_store=None):
        """The engine that speaks `voice_id`, as (synthesizer, engine-specific voice id)."""
        from engines.tts.types import UnknownVoice

        if voices_store is not None and is_valid_id(voice_id):
            return self._clone_synthesizer(voice_id, voices_store), voice_id
        piper = self.piper()
        if voice_id in {v.id for v in piper.voices()}:
            return piper, voice_id
        xtts = self.xtts()
        if xtts is not None and voice_id in {v.id for v in xtts.voices()}:
            return xtts, voice_id
        raise UnknownVoice(f"no voice model {voice_id!r} on this worker")

    def _clone_synthesizer(self, voice_id: str, voices_store):
        from engines.cloning.synthesis import VoiceMatchSynthesizer, XttsCloneSynthesizer
        from engines.cloning.voice_match import MatchParams
        from engines.tts.types import UnknownVoice, Voice

        model = voices_store.get(voice_id)
        if model is None:
            raise UnknownVoice(f"no voice model {voice_id!r}")
        folder = voices_store.path(voice_id)
        voice = Voice(
            id=model.id, title=model.title, languages=tuple(model.languages), engine=model.engine, sample_rate=0
        )
        xtts = self.xtts()
        if "xtts" in model.engine_data and xtts is not None and (folder / "xtts").is_dir():
            return XttsCloneSynthesizer(voice, xtts, folder / "xtts", language=next(iter(model.languages), None))
        base, _ = self.synthesizer_for(model.base_voice or self._settings.tts.default_voice)
        params = MatchParams.from_json((folder / "match.json").read_text())
        return VoiceMatchSynthesizer(voice, base, model.base_voice or self._settings.tts.default_voice, params)

    def xtts(self):
        """The XTTS synthesizer when its checkpoint is provisioned, else None."""
        with self._lock:
            if self._xtts is None and xtts_ready(self._settings):
                from engines.tts.xtts_engine import XttsConfig, XttsSynthesizer

                self._xtts = XttsSynthesizer(
                    XttsConfig(checkpoint_dir=xtts_dir(self._settings), device=self._settings.tts.device), self._cache
                )
            return self._xtts

    def piper(self):
        with self._lock:
            if self._piper is None:
                from engines.tts.piper_engine import PiperSynthesizer

                self._piper = PiperSynthesizer(
                    voices_dir=piper_voices_dir(self._settings),
                    cache=self._cache,
                    deterministic=self._settings.tts.deterministic,
                )
            return self._piper

    def _build_diarizer(self) -> Diarizer:
        engine = diarization_engine(self._settings)
        builder = DIARIZATION_ENGINES.get(engine)
        if builder is None:
            raise EngineUnavailable(
                f"unknown diarization engine {engine!r}; known: auto, {', '.join(DIARIZATION_ENGINES)}"
            )
        return builder(self._settings, self._cache)

    def _build_stt(self) -> SpeechToText:
        builder = STT_ENGINES.get(self._settings.stt.engine)
        if builder is None:
            raise EngineUnavailable(
                f"unknown speech-to-text engine {self._settings.stt.engine!r}; known: {', '.join(STT_ENGINES)}"
            )
        return builder(self._settings, self._cache)


# --- engine builders: adding an engine is one adapter module plus one entry here ---------------


def build_faster_whisper(settings: Settings, cache: ModelCache) -> SpeechToText:
    from engines.stt.faster_whisper import FasterWhisperConfig, FasterWhisperEngine

    cfg = settings.stt
    try:
        model_dir = whisper_store.resolve(cfg.model, settings.storage.models)
    except whisper_store.ModelNotFound as exc:
        raise EngineUnavailable(str(exc)) from exc
    return FasterWhisperEngine(
        FasterWhisperConfig(
            model_dir=model_dir,
            multilingual=whisper_store.is_multilingual(model_dir),
            device=cfg.device,
            compute_type=cfg.compute_type,
            cpu_threads=cfg.cpu_threads,
            beam_size=cfg.beam_size,
            batch_size=cfg.batch_size,
            batched_min_s=cfg.batched_min_duration_s,
        ),
        cache,
    )


def build_pyannote(settings: Settings, cache: ModelCache) -> Diarizer:
    from engines.diarization.pyannote_engine import PyannoteConfig, PyannoteDiarizer

    cfg = settings.diarization
    return PyannoteDiarizer(
        PyannoteConfig(pipeline_dir=pipeline_path(cfg.pipeline, settings.storage.models), device=cfg.device)
    )


def _neural_models(settings: Settings, engine: str):
    """segmentation-3.0 and CAM++ from the model store; a missing or corrupt file makes `engine`
    unavailable (health says why) rather than failing a task with a traceback."""
    from model_store import neural_diarization

    try:
        return neural_diarization.resolve(settings.storage.models)
    except neural_diarization.NeuralModelsUnavailable as exc:
        raise EngineUnavailable(f"{engine}: {exc}") from exc


def build_neural_diarizer(settings: Settings, cache: ModelCache) -> Diarizer:
    from engines.diarization.neural import NeuralDiarizer, NeuralDiarizerConfig

    models = _neural_models(settings, "neural diarizer")
    return NeuralDiarizer(
        NeuralDiarizerConfig(
            segmentation=models.segmentation, embedding=models.embedding, device=settings.diarization.device
        )
    )


def build_speaker_encoder(settings: Settings):
    from engines.speaker_id.encoder import SpeakerEncoder, SpeakerEncoderConfig
    from model_store import neural_diarization

    models = _neural_models(settings, "speaker encoder")
    return SpeakerEncoder(
        SpeakerEncoderConfig(
            weights=models.embedding,
            weights_sha256=neural_diarization.CAMPPLUS.sha256,
            device=settings.diarization.device,
        )
    )


def build_builtin_diarizer(settings: Settings, cache: ModelCache) -> Diarizer:
    from engines.diarization.builtin import BuiltinDiarizer, BuiltinDiarizerConfig

    return BuiltinDiarizer(BuiltinDiarizerConfig())


STT_ENGINES = {"faster-whisper": build_faster_whisper}
DIARIZATION_ENGINES = {"neural": build_neural_diarizer, "builtin": build_builtin_diarizer, "pyannote": build_pyannote}


def piper_voices_dir(settings: Settings):
    return settings.storage.models / "piper"


def xtts_dir(settings: Settings):
    return engine_dir("xtts", settings.tts.xtts_checkpoint, settings.storage.models)


def xtts_ready(settings: Settings) -> bool:
    from engines.tts.xtts_engine import is_checkpoint_dir

    return is_checkpoint_dir(xtts_dir(settings)) and importlib.util.find_spec("TTS") is not None


def _tts_voices(settings: Settings) -> list[dict[str, Any]] | None:
    """Built-in voices, described for the catalog (id, title, languages, engine)."""
    voices = []
    if importlib.util.find_spec("piper") is not None:
        from engines.tts.piper_engine import PiperSynthesizer

        voices += PiperSynthesizer(voices_dir=piper_voices_dir(settings)).voices()
    if xtts_ready(settings):
        from engines.tts.xtts_engine import XttsConfig, XttsSynthesizer

        try:
            voices += XttsSynthesizer(XttsConfig(checkpoint_dir=xtts_dir(settings))).voices()
        except Exception as exc:  # a damaged speakers file must not take the health report down
            log.warning("cannot list XTTS speakers in %s: %s", xtts_dir(settings), exc)
    return sorted(
        ({"id": v.id, "title": v.title, "languages": list(v.languages), "engine": v.engine} for v in voices),
        key=lambda v: v["id"],
    )


def diarization_engine(settings: Settings) -> str:
    """The engine that serves diarization: `auto` picks a provisioned pyannote pipeline, else the
    neural diarizer (segmentation-3.0 + CAM++), whose weights ship in a package. It does not fall
    back to `builtin` silently: a missing or corrupt weight file shows in health as the reason."""
    cfg = settings.diarization
    if cfg.engine != "auto":
        return cfg.engine
    return "pyannote" if _pyannote_ready(settings) else "neural"


def _pyannote_ready(settings: Settings) -> bool:
    from engines.diarization.pyannote_engine import is_pipeline_dir

    return is_pipeline_dir(pipeline_path(settings.diarization.pipeline, settings.storage.models))


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _stt_languages(settings: Settings) -> list[str] | None:
    """["en"] for an English-only model; None when any Whisper language is accepted."""
    try:
        model_dir = whisper_store.resolve(settings.stt.model, settings.storage.models)
    except whisper_store.ModelNotFound:
        return None
    return None if whisper_store.is_multilingual(model_dir) else ["en"]


def describe(settings: Settings) -> dict[str, dict[str, Any]]:
    cfg = settings.stt
    stt_ok = importlib.util.find_spec("faster_whisper") is not None and whisper_store.available(
        cfg.model, settings.storage.models
    )
    diarizer = diarization_engine(settings)
    reason = None
    if diarizer == "pyannote":
        diarization_ok = _pyannote_ready(settings) and importlib.util.find_spec("pyannote.audio") is not None
        detail = str(pipeline_path(settings.diarization.pipeline, settings.storage.models))
    elif diarizer == "neural":
        from model_store import neural_diarization

        problems = neural_diarization.problems(settings.storage.models)
        # pyannote's algorithm runs from engines/diarization without importing pyannote.audio
        problems += [f"{m} is not installed" for m in ("torchaudio", "asteroid_filterbanks", "scipy") if not _has(m)]
        diarization_ok, reason = not problems, "; ".join(problems) or None
        detail = "pyannote segmentation-3.0 + CAM++ (agglomerative clustering)"
    else:
        diarization_ok = all(importlib.util.find_spec(m) is not None for m in ("silero_vad", "resemblyzer"))
        detail = "silero-vad + resemblyzer"
    return {
        "stt": {
            "engine": cfg.engine,
            "model": cfg.model,
            "device": cfg.device,
            "available": stt_ok,
            "languages": _stt_languages(settings) if stt_ok else None,
        },
        "diarization": {"engine": diarizer, "model": detail, "available": diarization_ok}
        | ({"reason": reason} if reason else {}),
        "tts": {
            "engine": "xtts+piper" if xtts_ready(settings) else "piper",
            "voices": (voices := _tts_voices(settings)),
            "available": bool(voices),
        },
    }
