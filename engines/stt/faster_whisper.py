"""faster-whisper (CTranslate2) speech-to-text adapter.

The model directory is resolved by model_store; this adapter only loads and runs it. Loading is
lazy (first transcribe) so constructing the adapter is free, and the loaded model lives in the
worker's ModelCache so tasks share it; a transcription holds it until its last segment is decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    TranslationUnavailable,
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
    # faster-whisper's BatchedInferencePipeline (VAD-cut pieces of <= 30 s decoded `batch_size` at
    # a time) for inputs of at least `batched_min_s`; 0 or 1: always sequential. Measured on a
    # 5-minute meeting, 2 cores (docs/benchmarks.md, issue 11).
    batch_size: int = 4
    batched_min_s: float = 60.0
    # Windows for the batched pipeline: it runs its VAD and computes every piece's features before
    # the first segment comes out, so with 300 s windows a worker under load reported no progress
    # (and could not stop at a shutdown or cancel) for over 7 s; 120 s still fills batches of 4.
    batched_window_s: float = 120.0


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
        from engines.stt.features import BlockFeatureExtractor

        cfg = self._config
        model = WhisperModel(
            str(cfg.model_dir),
            device=cfg.device,
            compute_type=cfg.compute_type,
            cpu_threads=cfg.cpu_threads,
            local_files_only=True,
        )
        # the same features a block of frames at a time: ~170 MB less peak per 300 s window
        model.feature_extractor = BlockFeatureExtractor(**model.feat_kwargs)
        return model

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
        return self.stream(request, progress).transcript()

    def stream(self, request: TranscriptionRequest, progress: ProgressCallback | None = None) -> WhisperStream:
        supported = self.languages()
        language = request.language
        if language is not None and supported is not None and language not in supported:
            raise UnsupportedLanguage(
                f"language {language!r} is not supported by the configured model"
                + (" (English only)" if supported == {"en"} else "")
            )
        if request.task == "translate" and not self._multilingual:
            raise TranslationUnavailable(
                "the configured speech-to-text model is English-only; translation needs a multilingual "
                "model (set stt.model to 'base' or another multilingual Whisper)"
            )
        if not self._multilingual:
            language = "en"
        return WhisperStream(self, request, language, progress)


class WhisperStream:
    """faster-whisper's lazy segments, window after window: iterating decodes as it goes."""

    def __init__(
        self, engine: FasterWhisperEngine, request: TranscriptionRequest, language, progress: ProgressCallback | None
    ) -> None:
        self._engine = engine
        self._request = request
        self._progress = progress
        self.language: str | None = language
        self.language_probability = 0.0
        self.duration = round(request.audio.size / SAMPLE_RATE, 3)
        self.segments: list[Segment] = []
        self._iterator = self._decode()

    def __iter__(self) -> Iterator[Segment]:
        return self._iterator

    def transcript(self) -> Transcript:
        for _ in self._iterator:
            pass
        segments = self.segments
        return Transcript(
            text=" ".join(s.text for s in segments if s.text).strip(),
            language=self.language or "",
            language_probability=self.language_probability,
            duration=self.duration,
            segments=segments,
        )

    @property
    def batched(self) -> bool:
        """Whether this input is decoded by faster-whisper's batched pipeline (it needs the VAD)."""
        cfg, request = self._engine._config, self._request
        return cfg.batch_size > 1 and request.vad_filter and self.duration >= cfg.batched_min_s

    def _decode(self) -> Iterator[Segment]:
        cfg, request, progress = self._engine._config, self._request, self._progress
        audio, duration = request.audio, request.audio.size / SAMPLE_RATE
        language, detected = self.language, False
        options = {"initial_prompt": request.initial_prompt, "task": request.task}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        batched = self.batched
        # The text must not depend on whether words (or speakers) were asked for. Sequentially,
        # faster-whisper's word alignment moves the next 30 s window to the last word's end, so
        # words are always aligned there (and dropped from the document when not asked for); the
        # batched pipeline decodes each VAD piece once, so its text never depends on them.
        words = request.word_timestamps if batched else True
        # Held until the last segment: the segment iterator is lazy, decoding runs as it is consumed,
        # and a model released earlier could be evicted (or loaded twice) while still decoding.
        with self._engine.model() as model:
            transcribe = model.transcribe
            if batched:
                from faster_whisper import BatchedInferencePipeline

                pipeline = BatchedInferencePipeline(model)

                def transcribe(piece, **kwargs):
                    # with timestamp tokens: segments of a sentence or so, as sequential decoding gives,
                    # instead of one per VAD piece of up to 30 s (7 segments for 293 s of meeting)
                    return pipeline.transcribe(piece, batch_size=cfg.batch_size, without_timestamps=False, **kwargs)

            window_s = min(cfg.window_s, cfg.batched_window_s) if batched else cfg.window_s
            for offset, stop in long_audio_windows(audio, window_s, first_s=request.first_window_s):
                # faster-whisper computes the log-mel features of everything it is given at once; windows
                # keep that (and its STFT) to minutes of audio, so an hour costs no more than ten minutes.
                segments_iter, info = transcribe(
                    audio[offset:stop],
                    language=language,
                    beam_size=cfg.beam_size,
                    word_timestamps=words,
                    vad_filter=request.vad_filter,
                    condition_on_previous_text=False,  # avoids the repetition loops seen on telephone audio
                    **options,
                )
                if not detected:
                    detected = True
                    self.language, self.language_probability = info.language, float(info.language_probability)
                    language = language or info.language  # one language for the whole file
                shift = offset / SAMPLE_RATE
                # Lazy generator: segments are decoded as we iterate, which is what lets progress move.
                for seg in segments_iter:
                    segment = _segment(len(self.segments), seg, shift)
                    self.segments.append(segment)
                    if progress is not None:
                        progress(min(segment.end, duration), duration)
                    yield segment
        if progress is not None:
            progress(duration, duration)


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


def long_audio_windows(
    audio: np.ndarray, window_s: float, search_s: float = 10.0, first_s: float | None = None
) -> list[tuple[int, int]]:
    """(start, stop) sample ranges of about `window_s`, each cut at the quietest 100 ms within
    `search_s` before the nominal boundary, so a cut falls in a pause rather than inside a word.
    `first_s`: the first range holds only about that much from where speech starts (cut at the
    quietest 100 ms within 40% of it either side), for an early first result."""
    window, search, frame = int(window_s * SAMPLE_RATE), int(search_s * SAMPLE_RATE), SAMPLE_RATE // 10
    bounds, start = [], 0
    onset = _speech_onset(audio, frame) if first_s else 0
    if first_s and audio.size - onset > 2 * first_s * SAMPLE_RATE:
        lo, hi = onset + int(0.6 * first_s * SAMPLE_RATE), onset + int(1.4 * first_s * SAMPLE_RATE)
        region = audio[lo:hi]
        energy = np.square(region[: region.size // frame * frame]).reshape(-1, frame).mean(axis=1)
        start = lo + int(np.argmin(energy)) * frame + frame // 2
        bounds.append((0, start))
    while audio.size - start > window + search:
        lo = start + window - search
        region = audio[lo : start + window]
        energy = np.square(region[: region.size // frame * frame]).reshape(-1, frame).mean(axis=1)
        cut = lo + int(np.argmin(energy)) * frame + frame // 2
        bounds.append((start, cut))
        start = cut
    bounds.append((start, audio.size))
    return bounds


def _speech_onset(audio: np.ndarray, frame: int) -> int:
    """The first 100 ms frame clearly above the recording's noise floor (a cheap energy test: the
    first window must hold speech, not the silence many recordings start with)."""
    n = audio.size // frame
    if n < 2:
        return 0
    frames = audio[: n * frame].reshape(n, frame)
    # einsum squares frame by frame: np.square would copy the whole recording (230 MB per hour)
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames) / frame)
    floor, loud = np.percentile(rms, 10), np.percentile(rms, 90)
    above = np.nonzero(rms > max(4 * floor, 0.1 * loud))[0]
    return int(above[0]) * frame if len(above) else 0
