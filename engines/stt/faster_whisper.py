"""faster-whisper (CTranslate2) speech-to-text adapter.

The model directory is resolved by model_store; this adapter only loads and runs it. Loading is
lazy (first transcribe) so constructing the adapter is free, and the loaded model lives in the
worker's ModelCache so tasks share it; a transcription holds it until its last segment is decoded.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.model_cache import ModelCache, weights_size
from engines.types import (
    SAMPLE_RATE,
    EngineUnavailable,
    ProgressCallback,
    Segment,
    Transcript,
    TranscriptionRequest,
    UnsupportedLanguage,
    Word,
)


@dataclass(frozen=True)
class FasterWhisperConfig:
    model_dir: Path
    device: str = "cpu"  # "cpu" | "cuda" | "auto"
    compute_type: str = "int8"  # CTranslate2 compute type: int8, int8_float16, float16, float32…
    cpu_threads: int = 0  # 0: CTranslate2's default (all cores)
    beam_size: int = 5
    multilingual: bool = True  # False for English-only checkpoints (*.en); known without loading
    window_s: float = 300.0  # long audio is transcribed in windows of about this length (bounds memory)


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, config: FasterWhisperConfig, cache: ModelCache) -> None:
        self._config = config
        self._cache = cache
        self._multilingual = config.multilingual

    def _load(self):
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - dependency of the default install
            raise EngineUnavailable("faster-whisper is not installed") from exc
        cfg = self._config
        return WhisperModel(
            str(cfg.model_dir),
            device=cfg.device,
            compute_type=cfg.compute_type,
            cpu_threads=cfg.cpu_threads,
            local_files_only=True,
        )

    def model(self) -> AbstractContextManager:
        """The loaded WhisperModel, held while the `with` block runs (loads on first use)."""
        return self._cache.use(
            ("faster-whisper", str(self._config.model_dir), self._config.compute_type),
            self._load,
            size_bytes=weights_size(self._config.model_dir / "model.bin"),
        )

    def languages(self) -> frozenset[str] | None:
        if not self._multilingual:
            return frozenset({"en"})
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        return frozenset(_LANGUAGE_CODES)

    def transcribe(self, request: TranscriptionRequest, progress: ProgressCallback | None = None) -> Transcript:
        supported = self.languages()
        language = request.language
        if language is not None and supported is not None and language not in supported:
            raise UnsupportedLanguage(
                f"language {language!r} is not supported by the configured model"
                + (" (English only)" if supported == {"en"} else "")
            )
        if not self._multilingual:
            language = "en"
        audio = request.audio
        duration = audio.size / SAMPLE_RATE
        segments: list[Segment] = []
        detected = None
        # Held until the last segment: the segment iterator is lazy, decoding runs as it is consumed.
        with self.model() as model:
            for offset, stop in long_audio_windows(audio, self._config.window_s):
                # faster-whisper computes the log-mel features of everything it is given at once; windows
                # keep that (and its STFT) to minutes of audio, so an hour costs no more than ten minutes.
                segments_iter, info = model.transcribe(
                    audio[offset:stop],
                    language=language,
                    beam_size=self._config.beam_size,
                    word_timestamps=request.word_timestamps,
                    vad_filter=request.vad_filter,
                    condition_on_previous_text=False,  # avoids the repetition loops seen on telephone audio
                )
                if detected is None:
                    detected = info
                    language = language or info.language  # one language for the whole file
                shift = offset / SAMPLE_RATE
                # Lazy generator: segments are decoded as we iterate, which is what lets progress move.
                for seg in segments_iter:
                    segments.append(_segment(len(segments), seg, shift))
                    if progress is not None:
                        progress(min(segments[-1].end, duration), duration)
        if progress is not None:
            progress(duration, duration)
        info = detected
        return Transcript(
            text=" ".join(s.text for s in segments if s.text).strip(),
            language=info.language,
            language_probability=float(info.language_probability),
            duration=round(duration, 3),
            segments=segments,
        )


def _segment(index: int, seg, shift: float) -> Segment:
    return Segment(
        id=index,
        start=round(seg.start + shift, 3),
        end=round(seg.end + shift, 3),
        text=seg.text.strip(),
        avg_logprob=seg.avg_logprob,
        no_speech_prob=seg.no_speech_prob,
        compression_ratio=seg.compression_ratio,
        words=[
            Word(start=round(w.start + shift, 3), end=round(w.end + shift, 3), word=w.word, probability=w.probability)
            for w in (seg.words or [])
        ],
    )


def long_audio_windows(audio: np.ndarray, window_s: float, search_s: float = 10.0) -> list[tuple[int, int]]:
    """(start, stop) sample ranges of about `window_s`, each cut at the quietest 100 ms within
    `search_s` before the nominal boundary, so a cut falls in a pause rather than inside a word."""
    window, search, frame = int(window_s * SAMPLE_RATE), int(search_s * SAMPLE_RATE), SAMPLE_RATE // 10
    bounds, start = [], 0
    while audio.size - start > window + search:
        lo = start + window - search
        region = audio[lo : start + window]
        energy = np.square(region[: region.size // frame * frame]).reshape(-1, frame).mean(axis=1)
        cut = lo + int(np.argmin(energy)) * frame + frame // 2
        bounds.append((start, cut))
        start = cut
    bounds.append((start, audio.size))
    return bounds
