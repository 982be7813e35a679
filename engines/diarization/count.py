"""Reaching a requested speaker count when pyannote's reconstruction returns fewer speakers.

pyannote's clustering is asked for `num_speakers`/`min_speakers` clusters, but its reconstruction
keeps, per frame, only the most active clusters: a small cluster can vanish, and a 2-voice file
asked for 3 came back with 2 (sample.wav). The caller asked for an exact count, so the speaker
with the most speech is split in two by the CAM++ embeddings of its own turns (2-way average-
linkage clustering), repeatedly, until the count is reached or no speaker has two turns to split.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

Track = tuple[float, float, object]  # (start, end, label)
MIN_TURN_S = 0.5  # CAM++ needs about this much speech (as the adapter's NaN rule)


def split_to_count(
    turns: list[Track], exclusive: list[Track], wanted: int, embed: Callable[[float, float], np.ndarray]
) -> tuple[list[Track], list[Track]]:
    """Both views with at least `wanted` labels where the turns allow; `embed(start, end)` -> vector."""
    turns, exclusive = list(turns), list(exclusive)
    while len({k for *_, k in turns}) < wanted:
        speech: Counter = Counter()
        for s, e, k in turns:
            speech[k] += e - s
        for speaker, _ in speech.most_common():
            own = [i for i, (s, e, k) in enumerate(turns) if k == speaker and e - s >= MIN_TURN_S]
            if len(own) < 2:
                continue
            vectors = np.stack([embed(turns[i][0], turns[i][1]) for i in own])
            groups = _two_groups(vectors)
            if groups is None:
                continue
            new = ("split", speaker, len(speech))
            minority = 1 if np.sum(groups == 1) <= np.sum(groups == 0) else 0
            for i, g in zip(own, groups, strict=True):
                if g == minority:
                    turns[i] = (turns[i][0], turns[i][1], new)
            exclusive = _follow(exclusive, turns, speaker)
            break
        else:
            break  # nothing left to split
    return turns, exclusive


def _two_groups(vectors: np.ndarray) -> np.ndarray | None:
    from scipy.cluster.hierarchy import fcluster, linkage

    finite = np.isfinite(vectors).all(axis=1)
    if finite.sum() < 2:
        return None
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    unit[~finite] = 0.0
    labels = fcluster(linkage(unit, method="average", metric="cosine"), 2, criterion="maxclust") - 1
    return labels if len(set(labels.tolist())) == 2 else None


def _follow(exclusive: list[Track], turns: list[Track], speaker: object) -> list[Track]:
    """Exclusive turns of `speaker` take the label of the (relabelled) turn they overlap most."""
    out = []
    for s, e, k in exclusive:
        if k == speaker:
            best, label = 0.0, k
            for ts, te, tk in turns:
                shared = min(e, te) - max(s, ts)
                if shared > best and (tk == speaker or (isinstance(tk, tuple) and tk[1] == speaker)):
                    best, label = shared, tk
            k = label
        out.append((s, e, k))
    return out
