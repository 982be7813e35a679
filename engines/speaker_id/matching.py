"""Matching diarized clusters to enrolled voiceprints: pure numpy/scipy, no model, no I/O.

Each cluster's centroid (a unit CAM++ embedding of its clean speech) is scored against each
candidate speaker's voiceprint (the unit mean of their samples' embeddings) by cosine similarity.
A pair is eligible when its score passes `threshold` and beats the cluster's runner-up speaker by
`margin`, i.e. the speaker is the cluster's clear first choice: two enrolled voices that both
resemble a stranger leave that stranger anonymous instead of naming them at random. Assignment is
then one-to-one (an enrolled person is one cluster of a recording at most), solved as a linear
assignment over the eligible pairs: when two clusters claim the same speaker (a diarizer that split
someone in two), the closer one is named and the other stays anonymous. It is never handed its
second choice: that would name a split half after someone else.

Voiceprints carry the version of the encoder that made them; `match_clusters` refuses to compare a
voiceprint of another encoder (the caller re-embeds it first), since scores across encoders mean
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engines.types import EngineError


class EncoderMismatch(EngineError):
    """A voiceprint made by another encoder version reached the comparison: re-embed it first."""

    code = "speaker_encoder_mismatch"


@dataclass(frozen=True)
class MatchConfig:
    # Calibrated on the dev set (scripts/bench_speaker_id.py; docs/benchmarks.md).
    threshold: float = 0.5  # least cosine between a cluster centroid and a voiceprint
    margin: float = 0.08  # least lead over the cluster's second-best speaker


@dataclass(frozen=True)
class Voiceprint:
    speaker_id: str
    name: str
    embeddings: np.ndarray  # (samples, dim): one row per reference sample
    encoder: str

    @property
    def centroid(self) -> np.ndarray:
        return centroid(self.embeddings)


@dataclass(frozen=True)
class Match:
    speaker_id: str
    name: str
    score: float


def unit(vector: np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 and np.isfinite(norm) else np.zeros_like(v)


def centroid(embeddings: np.ndarray) -> np.ndarray:
    """Unit mean of unit rows: each sample counts the same, whatever its norm."""
    rows = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
    rows = rows[np.isfinite(rows).all(axis=1)]
    if rows.size == 0:
        return np.zeros(np.atleast_2d(embeddings).shape[1])
    return unit(np.mean([unit(r) for r in rows], axis=0))


def score_matrix(clusters: Sequence[np.ndarray], voiceprints: Sequence[Voiceprint]) -> np.ndarray:
    """Cosine of every cluster centroid (rows) with every voiceprint (columns)."""
    if not clusters or not voiceprints:
        return np.zeros((len(clusters), len(voiceprints)))
    a = np.stack([unit(c) for c in clusters])
    b = np.stack([v.centroid for v in voiceprints])
    return a @ b.T


def runner_up(scores: np.ndarray) -> np.ndarray:
    """For each (cluster, speaker): the cluster's best score among the *other* speakers (-1 if none)."""
    if scores.shape[1] < 2:
        return np.full_like(scores, -1.0)
    order = np.sort(scores, axis=1)
    best, second = order[:, -1:], order[:, -2:-1]
    return np.where(scores >= best, second, best)


def match_clusters(
    clusters: Mapping[str, np.ndarray],
    voiceprints: Sequence[Voiceprint],
    encoder: str,
    config: MatchConfig | None = None,
) -> dict[str, Match]:
    """{cluster label: Match} for the clusters that are confidently one of the voiceprints."""
    from scipy.optimize import linear_sum_assignment

    cfg = config or MatchConfig()
    for v in voiceprints:
        if v.encoder != encoder:
            raise EncoderMismatch(f"voiceprint {v.speaker_id} was made by encoder {v.encoder!r}, not {encoder!r}")
    labels = list(clusters)
    scores = score_matrix([clusters[k] for k in labels], voiceprints)
    if scores.size == 0:
        return {}
    eligible = (scores >= cfg.threshold) & (scores - runner_up(scores) >= cfg.margin)
    if not eligible.any():
        return {}
    # Maximise the summed score over eligible pairs only; ineligible pairs cost more than any
    # eligible one gains, so the solver uses them only where nothing else is left (dropped below).
    cost = np.where(eligible, -scores, 1e3)
    rows, cols = linear_sum_assignment(cost)
    found: dict[str, Match] = {}
    for r, c in zip(rows, cols, strict=True):
        if not eligible[r, c]:
            continue
        v = voiceprints[c]
        found[labels[r]] = Match(v.speaker_id, v.name, round(float(scores[r, c]), 4))
    return found
