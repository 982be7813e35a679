"""Speech regions from Silero VAD probabilities: the one rule the built-in diarizer and the clone
gate share. Plain numpy, so configurations can import it without loading torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.types import SAMPLE_RATE

VAD_CHUNK = 512  # samples per Silero VAD decision at 16 kHz (32 ms)


@dataclass(frozen=True)
class VadParams:
    # Speech starts at p >= threshold and ends after min_silence_s below it; shorter regions than
    # min_speech_s are dropped, the rest padded by pad_s.
    threshold: float = 0.5
    min_speech_s: float = 0.25
    min_silence_s: float = 0.1
    pad_s: float = 0.03


def speech_regions(probs: np.ndarray, n_samples: int, params: VadParams) -> list[tuple[int, int]]:
    """Chunk probabilities -> [(start_sample, end_sample)].

    Silero's own rule: speech starts at p >= threshold and ends when p stays below
    threshold - 0.15 for min_silence_s; regions shorter than min_speech_s are dropped, the rest
    padded by pad_s (without crossing into the neighbour).
    """
    hop = VAD_CHUNK / SAMPLE_RATE
    low = max(params.threshold - 0.15, 0.01)
    regions: list[list[float]] = []
    start, silent_since = None, None
    for i, p in enumerate(probs):
        t = i * hop
        if start is None:
            if p >= params.threshold:
                start, silent_since = t, None
            continue
        if p >= params.threshold:
            silent_since = None
        elif p < low:
            silent_since = t if silent_since is None else silent_since
            if t - silent_since >= params.min_silence_s:
                regions.append([start, silent_since])
                start, silent_since = None, None
    if start is not None:
        regions.append([start, n_samples / SAMPLE_RATE if silent_since is None else silent_since])
    regions = [r for r in regions if r[1] - r[0] >= params.min_speech_s]
    for a, b in zip(regions, regions[1:], strict=False):
        pad = min(params.pad_s, (b[0] - a[1]) / 2)
        a[1] += pad
        b[0] -= pad
    if regions:
        regions[0][0] -= params.pad_s
        regions[-1][1] += params.pad_s
    return [(max(0, round(a * SAMPLE_RATE)), min(n_samples, round(b * SAMPLE_RATE))) for a, b in regions]
