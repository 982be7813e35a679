"""Whole-clip speaker embeddings with the diarizer's CAM++ encoder, and each cluster's clean speech.

The same weights the neural diarizer clusters with (engines/diarization/campplus_*), used here on
whole references and on each diarized cluster's single-speaker speech, whichever diarizer produced
the clusters. Recipe (what `RECIPE` names, part of the encoder version stored with a voiceprint):

  16 kHz mono -> windows of `window_s` (a last piece shorter than `min_window_s` joins the one
  before) -> 80-bin Kaldi fbank, mean-normalised per window -> CAM++ -> unit vectors ->
  duration-weighted mean -> unit vector.

Ten-second windows keep activations small (the cost per second grows with batch length on CPU, see
campplus_embedding.py) and match what the diarizer embeds per chunk. As in the diarizer, each
window's features are padded to a multiple of `bucket_frames` by repeating its own frames (a few
input shapes, so oneDNN does not prepare kernels for every new length), and the forward runs on one
thread of its own with torch set to `torch_threads` (two threads on two shared cores measured 10x
slower in wall time: OpenMP's spinning workers collapse when other processes hold the cores).

`version` = RECIPE + the weights' sha256 (given by the model store, which pins it): a voiceprint
made by another version is never compared with this one's output (engines/speaker_id/matching.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.speakers import overlapped_regions
from engines.torch_thread import TorchThread
from engines.types import SAMPLE_RATE, EngineUnavailable, SpeakerTurn

RECIPE = "campplus-fbank80-win10-v1"


@dataclass(frozen=True)
class SpeakerEncoderConfig:
    weights: Path  # campplus_cn_en_common.pt
    weights_sha256: str  # pinned by the model store; part of `version`
    device: str = "cpu"
    window_s: float = 10.0
    min_window_s: float = 1.5
    min_speech_s: float = 1.0  # a cluster with less clean speech gets no centroid (stays anonymous)
    min_piece_s: float = 0.4  # shorter single-speaker pieces are mostly transitions: skipped
    max_cluster_s: float = 60.0  # clean speech used per cluster; more adds little and costs time
    bucket_frames: int = 50
    torch_threads: int = 1  # 0: the calling thread, torch's own setting


class SpeakerEncoder:
    name = "campplus"

    def __init__(self, config: SpeakerEncoderConfig) -> None:
        self._config = config
        self._model: Any = None
        self._lock = threading.Lock()
        self._torch = TorchThread(config.torch_threads, "speaker-encoder")

    @property
    def config(self) -> SpeakerEncoderConfig:
        return self._config

    @property
    def version(self) -> str:
        return f"{RECIPE}@{self._config.weights_sha256[:16]}"

    def _load(self) -> Any:
        if self._model is None:
            if not Path(self._config.weights).is_file():
                raise EngineUnavailable(f"speaker encoder: {self._config.weights} not found")
            try:
                from engines.diarization.campplus_embedding import load_campplus

                device = self._config.device
                if device == "auto":
                    import torch

                    device = "cuda" if torch.cuda.is_available() else "cpu"
                self._model = load_campplus(self._config.weights, device)
            except ImportError as exc:
                raise EngineUnavailable(f"speaker encoder needs torch and torchaudio: {exc}") from exc
        return self._model

    def embed(self, audio: np.ndarray, shortest_s: float | None = None) -> np.ndarray:
        """(192,) unit embedding of 16 kHz mono float32 speech (the whole clip), which must last
        `shortest_s` (default: `min_window_s`)."""
        x = np.ascontiguousarray(np.nan_to_num(audio), dtype=np.float32).reshape(-1)
        cfg = self._config
        shortest = cfg.min_window_s if shortest_s is None else shortest_s
        pieces = _windows(x.size, int(cfg.window_s * SAMPLE_RATE), int(cfg.min_window_s * SAMPLE_RATE))
        if not pieces and x.size >= max(shortest * SAMPLE_RATE, 1):
            pieces = [(0, x.size)]
        if not pieces:
            raise ValueError(f"{x.size / SAMPLE_RATE:.2f} s of audio is too short to embed")
        with self._lock:
            vectors = self._torch.run(self._forward, [x[a:b] for a, b in pieces])
        rows = np.stack([v / max(np.linalg.norm(v), 1e-12) for v in vectors])
        weights = np.asarray([b - a for a, b in pieces], dtype=np.float64)
        mean = np.average(rows, axis=0, weights=weights)
        return (mean / max(np.linalg.norm(mean), 1e-12)).astype(np.float32)

    def _forward(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        from engines.diarization.campplus_embedding import _repeat_to, fbank

        bucket = self._config.bucket_frames
        with torch.inference_mode():
            model = self._load()
            device = next(model.parameters()).device
            out = []
            for window in windows:
                feats = fbank(torch.from_numpy(window))
                frames = -(-feats.shape[0] // bucket) * bucket
                out.append(model(_repeat_to(feats, frames)[None].to(device)).float().cpu().numpy()[0])
            return out

    def cluster_speech(self, audio: np.ndarray, turns: list[SpeakerTurn]) -> dict[str, np.ndarray]:
        """Each cluster's single-speaker speech (overlap removed), concatenated, capped."""
        return clean_speech(audio, turns, self._config)

    def turn_embeddings(
        self,
        audio: np.ndarray,
        turns: Sequence[SpeakerTurn],
        min_s: float,
        context: Sequence[SpeakerTurn] | None = None,
    ) -> list[np.ndarray | None]:
        """One unit embedding per turn of `turns` from its single-speaker speech (overlap removed),
        None where that lasts less than `min_s`: too short to judge on its own. Overlap is taken
        from `context` (the whole diarization) when `turns` are only some of its turns or pieces."""
        out: list[np.ndarray | None] = []
        for spans in single_speaker_spans(turns, self._config.min_piece_s, context):
            pieces = [audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in spans]
            speech = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
            out.append(self.embed(speech, min_s) if speech.size and speech.size >= min_s * SAMPLE_RATE else None)
        return out

    def cluster_centroids(self, speech: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """{label: unit embedding} for clusters with enough clean speech."""
        min_samples = int(self._config.min_speech_s * SAMPLE_RATE)
        return {label: self.embed(x) for label, x in speech.items() if x.size >= min_samples}


def _windows(n: int, window: int, min_window: int) -> list[tuple[int, int]]:
    if n < min(min_window, window):
        return []
    edges = list(range(0, n, window)) + [n]
    spans = [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < min_window:
        last = spans.pop()
        spans[-1] = (spans[-1][0], last[1])
    return spans


def single_speaker_spans(
    turns: Sequence[SpeakerTurn], min_piece_s: float, context: Sequence[SpeakerTurn] | None = None
) -> list[list[tuple[float, float]]]:
    """Per turn, its spans where no other turn of `context` (default: `turns`) is active, those
    of at least `min_piece_s`: the speech a turn is embedded from."""
    overlap = overlapped_regions(list(turns if context is None else context))
    return [[(a, b) for a, b in _subtract(t.start, t.end, overlap) if b - a >= min_piece_s] for t in turns]


def clean_speech(audio: np.ndarray, turns: list[SpeakerTurn], config: SpeakerEncoderConfig) -> dict[str, np.ndarray]:
    """Per speaker label: the audio of its turns minus every instant where another turn is active."""
    cap = int(config.max_cluster_s * SAMPLE_RATE)
    pieces: dict[str, list[np.ndarray]] = {}
    used: dict[str, int] = {}
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    for turn, spans in zip(ordered, single_speaker_spans(ordered, config.min_piece_s, turns), strict=True):
        for start, end in spans:
            if used.get(turn.speaker, 0) >= cap:
                continue
            a, b = int(start * SAMPLE_RATE), min(audio.size, int(end * SAMPLE_RATE))
            piece = audio[a:b][: cap - used.get(turn.speaker, 0)]
            if piece.size:
                pieces.setdefault(turn.speaker, []).append(piece)
                used[turn.speaker] = used.get(turn.speaker, 0) + piece.size
    return {label: np.concatenate(parts).astype(np.float32) for label, parts in pieces.items()}


def _subtract(start: float, end: float, regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """[start, end] minus sorted disjoint `regions`."""
    out, cursor = [], start
    for a, b in regions:
        if b <= cursor:
            continue
        if a >= end:
            break
        if a > cursor:
            out.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        out.append((cursor, end))
    return out
