"""Built-in CPU diarizer from weights that ship inside PyPI packages.

Silero VAD finds speech; Resemblyzer's speaker encoder embeds 1 s windows every 0.25 s inside it;
the windows are clustered (clustering.py) with the speaker count chosen per file unless the
caller gives one; each 10 ms frame takes the label with the largest Hann-weighted vote of the
windows covering it. One label per frame: overlapped speech is not detected.

Measured figures and the variants tried are in scripts/bench_diarization.py's docstring.
Heavy imports (torch, onnxruntime, scipy) happen on first use, not when this module is imported.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from engines.diarization.vad import VadParams, speech_regions
from engines.torch_thread import TorchThread
from engines.types import (
    SAMPLE_RATE,
    DiarizationRequest,
    ProgressCallback,
    SpeakerTurn,
)

_FRAME_S = 0.01  # resolution of the output turns


@dataclass(frozen=True)
class BuiltinDiarizerConfig:
    vad: VadParams = field(default_factory=VadParams)  # voice activity (Silero)
    # Speaker embedding windows. 1.0 s / 0.25 s hop separated the fast exchanges of sample.wav
    # better than 1.5 s / 0.75 s (fewer windows straddling two speakers); regions shorter than
    # window_s but at least min_window_s get one window of their own length.
    window_s: float = 1.0
    hop_s: float = 0.25
    min_window_s: float = 0.5
    window_rms: float = 10 ** (-30 / 20)  # Resemblyzer's training loudness (-30 dBFS)
    batch_size: int = 32  # at 1 thread 32 was the fastest of 32-256 (1.4 vs 1.9 ms a window) and keeps
    # the LSTM's per-batch buffers small (256 windows: ~100 MB of gate activations)
    # torch threads for the encoder. It runs on the diarizer's own worker thread, where (OpenMP
    # builds of torch) the setting stays thread-local. One thread: ~1.8 ms per window, steady;
    # two were 1.1 ms on an idle machine but 2-8x slower whenever the 2 cores were shared.
    # 0: run on the calling thread with torch's process-wide setting.
    torch_threads: int = 1
    # Speaker count (see clustering.py): a cluster is split in two when the halves' raw centroid
    # cosine is below short_cosine (<= short_speech_s of speech) .. long_cosine (>= long_speech_s)
    # and labels flip between at most max_switch_rate of consecutive windows.
    long_cosine: float = 0.895
    short_cosine: float = 0.78
    short_speech_s: float = 12.0
    long_speech_s: float = 20.0
    max_switch_rate: float = 0.10
    split_penalty: float = 0.02
    min_cluster_s: float = 2.0
    max_speakers: int = 8
    max_ahc_windows: int = 2000


class BuiltinDiarizer:
    name = "builtin"

    def __init__(self, config: BuiltinDiarizerConfig | None = None) -> None:
        self._config = config or BuiltinDiarizerConfig()
        self._lock = threading.Lock()
        self._vad = None
        self._encoder = None
        self._torch = TorchThread(self._config.torch_threads, "diarizer")

    def _models(self):
        # Loaded once per instance, on first use; the lock stops two threads loading twice.
        with self._lock:
            if self._vad is None or self._encoder is None:
                from engines.diarization.features import SileroVad, SpeakerEncoder, shared

                self._vad = shared(SileroVad)
                self._encoder = shared(SpeakerEncoder)
            return self._vad, self._encoder

    def diarize(self, request: DiarizationRequest, progress: ProgressCallback | None = None) -> list[SpeakerTurn]:
        cfg = self._config
        request.check_counts()
        audio = np.ascontiguousarray(request.audio, dtype=np.float32).reshape(-1)
        if not np.isfinite(audio).all():
            audio = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)
        duration = audio.size / SAMPLE_RATE
        report = (lambda frac: progress(round(frac * duration, 3), duration)) if progress else (lambda frac: None)
        if audio.size == 0:
            report(1.0)
            return []
        vad, encoder = self._models()
        regions = speech_regions(vad.probabilities(audio), audio.size, cfg.vad)
        report(0.1)
        starts, lengths = _windows(regions, cfg)
        if starts.size == 0:
            report(1.0)
            return []
        embeddings = self._embed(encoder, audio, starts, lengths, lambda f: report(0.1 + 0.8 * f))

        from engines.diarization.clustering import ClusteringParams, cluster_windows

        params = ClusteringParams(
            long_cosine=cfg.long_cosine,
            short_cosine=cfg.short_cosine,
            short_speech_s=cfg.short_speech_s,
            long_speech_s=cfg.long_speech_s,
            max_switch_rate=cfg.max_switch_rate,
            split_penalty=cfg.split_penalty,
            min_cluster_s=cfg.min_cluster_s,
            max_clusters=cfg.max_speakers,
            max_ahc=cfg.max_ahc_windows,
        )
        weight, region = _speech_share(regions, starts)
        labels = cluster_windows(
            embeddings, weight, region, params, request.num_speakers, request.min_speakers, request.max_speakers
        )
        turns = _turns(regions, starts, lengths, labels, audio.size)
        report(1.0)
        return turns

    def _embed(self, encoder, audio, starts, lengths, report) -> np.ndarray:
        cfg = self._config
        out = np.zeros((starts.size, 256), np.float32)
        done = 0
        # Windows of equal length are batched together; almost all have the full window length.
        for length in np.unique(lengths):
            idx = np.flatnonzero(lengths == length)
            for b in range(0, idx.size, cfg.batch_size):
                part = idx[b : b + cfg.batch_size]
                args = (audio, starts[part], int(length), cfg.window_rms)
                out[part] = self._torch.run(encoder.embed_windows, *args)
                done += part.size
                report(done / starts.size)
        return out


def _windows(regions: list[tuple[int, int]], cfg: BuiltinDiarizerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Window (start, length) in samples: evenly spaced inside each region, first at its start and
    last at its end, so every speech sample is covered."""
    win = int(cfg.window_s * SAMPLE_RATE)
    hop = int(cfg.hop_s * SAMPLE_RATE)
    shortest = int(cfg.min_window_s * SAMPLE_RATE)
    starts, lengths = [], []
    for a, b in regions:
        span = b - a
        if span < shortest:
            continue
        if span <= win:
            starts.append(a)
            lengths.append(span)
            continue
        count = -(-(span - win) // hop) + 1
        starts.extend(np.linspace(a, b - win, count).round().astype(np.int64).tolist())
        lengths.extend([win] * count)
    return np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64)


def _speech_share(regions: list[tuple[int, int]], starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of speech each window stands for (its region's length shared among the region's
    windows, so that a cluster's total is the speech it covers), and each window's region index."""
    bounds = np.array([a for a, _ in regions])
    lengths = np.array([b - a for a, b in regions]) / SAMPLE_RATE
    region_of = np.searchsorted(bounds, starts, side="right") - 1
    counts = np.bincount(region_of, minlength=len(regions))
    return lengths[region_of] / counts[region_of], region_of


def _turns(regions, starts, lengths, labels, n_samples) -> list[SpeakerTurn]:
    """Frame-level Hann-weighted vote of the windows, inside speech regions only."""
    hop = int(_FRAME_S * SAMPLE_RATE)
    n_frames = -(-n_samples // hop) + 1
    k = int(labels.max()) + 1
    votes = np.zeros((n_frames, k), np.float32)
    for s, n, lab in zip(starts, lengths, labels, strict=True):
        f0, f1 = s // hop, (s + n) // hop
        if f1 > f0:
            votes[f0:f1, lab] += np.hanning(f1 - f0 + 2)[1:-1]
    centres = (starts + lengths // 2) / SAMPLE_RATE
    raw: list[tuple[float, float, int]] = []
    for a, b in regions:
        f0, f1 = a // hop, max(a // hop + 1, b // hop)
        seg = votes[f0:f1]
        if not seg.any():
            # A region too short for a window takes the speaker of the nearest window.
            mid = (a + b) / 2 / SAMPLE_RATE
            frame_labels = np.full(f1 - f0, labels[np.argmin(np.abs(centres - mid))])
        else:
            frame_labels = seg.argmax(axis=1)
        change = np.flatnonzero(np.diff(frame_labels)) + 1
        bounds = [0, *change.tolist(), f1 - f0]
        for i in range(len(bounds) - 1):
            start = a / SAMPLE_RATE if i == 0 else (f0 + bounds[i]) * _FRAME_S
            end = b / SAMPLE_RATE if i == len(bounds) - 2 else (f0 + bounds[i + 1]) * _FRAME_S
            raw.append((start, end, int(frame_labels[bounds[i]])))
    order: dict[int, int] = {}
    turns = []
    for start, end, lab in sorted(raw):
        if end - start <= 0:
            continue
        order.setdefault(lab, len(order))
        turns.append(SpeakerTurn(start=round(start, 3), end=round(end, 3), speaker=f"SPEAKER_{order[lab]:02d}"))
    return turns
