"""Speaker clustering of window embeddings, with the speaker count chosen per file.

Two spaces, two jobs (measured on sample.wav and synthetic sets, see scripts/bench_diarization.py):

* Partition in the *file-centred* space (embeddings minus the file mean). Resemblyzer embeddings
  are non-negative and share one large common component, so raw cosines sit in 0.6-0.9 for
  anyone; removing the file mean leaves the directions that differ inside this file, and
  average-linkage AHC there recovered the reference two-speaker split of sample.wav almost exactly,
  where raw-space AHC first split off outlier windows.
* Decide whether two clusters are one speaker in the *raw* space: the cosine between the raw
  cluster centroids. Centring cannot be used for that (any split of one voice looks like two
  opposite directions once the mean is removed).

The decision is the weak part: on sample.wav the two reference speakers' centroids have cosine
0.85 (clean windows) to 0.89 (all windows), while the best split of 12 s of one of them alone
gives 0.85-0.93. Hence a stricter threshold for short files (where a split of one voice is more
often noise-driven, and where a false split costs most: voice-clone references are short
single-speaker clips), and a second condition on how often labels flip (see ClusteringParams).

Memory stays bounded on long files: AHC (quadratic) runs on at most `max_ahc` evenly spaced
windows; every other step is O(windows x clusters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusteringParams:
    # A cluster is split in two only when the halves' raw centroid cosine is below a threshold
    # that grows with the cluster's speech: short_cosine up to short_speech_s, long_cosine from
    # long_speech_s, linear in between (few windows make noise-driven splits look far apart)...
    long_cosine: float
    short_cosine: float
    short_speech_s: float
    long_speech_s: float
    # ...and only when labels rarely flip between consecutive windows of one VAD region: speaker
    # turns last seconds, while a split of one voice by noise flips labels inside utterances.
    max_switch_rate: float
    split_penalty: float  # cosine subtracted from long_cosine per split already made
    min_cluster_s: float  # both halves must carry at least this much speech
    max_clusters: int  # most speakers found when the caller gives no bound
    max_ahc: int  # windows given to the quadratic AHC step
    refine_iters: int = 5

    def threshold(self, speech_s: float) -> float:
        span = max(self.long_speech_s - self.short_speech_s, 1e-9)
        t = min(max((speech_s - self.short_speech_s) / span, 0.0), 1.0)
        return self.short_cosine + t * (self.long_cosine - self.short_cosine)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def _ahc(x: np.ndarray, k: int) -> np.ndarray:
    """Average-linkage AHC on cosine distance, cut into k clusters; labels 0..k-1."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(x) < 2 or k < 2:
        return np.zeros(len(x), dtype=np.int64)
    tree = linkage(x, method="average", metric="cosine")
    return fcluster(tree, k, criterion="maxclust").astype(np.int64) - 1


def _relabel(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _refine(centred: np.ndarray, labels: np.ndarray, iters: int) -> np.ndarray:
    """Spherical k-means steps from the AHC partition: also how windows left out of AHC are placed."""
    for _ in range(iters):
        ks = np.unique(labels)
        cents = _unit(np.stack([centred[labels == k].mean(0) for k in ks]))
        new = ks[np.argmax(centred @ cents.T, axis=1)]
        if np.unique(new).size < ks.size or np.array_equal(new, labels):
            # A step that empties a cluster is rejected: the speaker count is decided by the
            # split test, not as a side effect of k-means.
            break
        labels = new
    return _relabel(labels)


def centroid_cosines(raw: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Raw-space cosine between every pair of cluster centroids (diagonal set to -inf)."""
    ks = np.unique(labels)
    cents = _unit(np.stack([raw[labels == k].mean(0) for k in ks]))
    sims = cents @ cents.T
    np.fill_diagonal(sims, -np.inf)
    return sims


def _split_in_two(raw: np.ndarray, idx: np.ndarray, params: ClusteringParams):
    """Best two-way split of the windows idx: AHC in the space centred on *this subset*, then
    k-means steps. Returns (mask of the first part, raw centroid cosine), or None."""
    centred = raw[idx] - raw[idx].mean(axis=0)
    step = max(1, -(-idx.size // params.max_ahc))
    sub = np.arange(0, idx.size, step)
    sub_labels = _ahc(centred[sub], 2)
    if np.unique(sub_labels).size < 2:
        return None
    cents = _unit(np.stack([centred[sub][sub_labels == k].mean(0) for k in (0, 1)]))
    labels = _refine(centred, np.argmax(centred @ cents.T, axis=1), params.refine_iters)
    if np.unique(labels).size < 2:
        return None
    return labels == 0, float(centroid_cosines(raw[idx], labels)[0, 1])


def switch_rate(mask: np.ndarray, idx: np.ndarray, region: np.ndarray) -> float:
    """Share of consecutive window pairs (both in idx, same VAD region) whose sides differ."""
    side = np.full(region.size, -1)
    side[idx] = mask.astype(int)
    pair = (side[1:] >= 0) & (side[:-1] >= 0) & (region[1:] == region[:-1])
    if not pair.any():
        return 0.0
    return float((side[1:] != side[:-1])[pair].mean())


def cluster_windows(
    raw: np.ndarray,
    weight: np.ndarray,
    region: np.ndarray,
    params: ClusteringParams,
    num_speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> np.ndarray:
    """Label each window embedding (rows of `raw`, L2-normalised, in time order) with a speaker
    index 0..k-1 (numbered in no particular order).

    weight: seconds of speech each window stands for; region: the VAD region of each window.
    """
    n = len(raw)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if num_speakers is not None:
        min_speakers = max_speakers = num_speakers  # forced splits, best first (AHC cut at k did worse)
    lo = min(max(1, min_speakers or 1), n)
    hi = max(lo, min(max_speakers or params.max_clusters, n))

    # Divisive: start from one speaker and split a cluster in two only while the halves look
    # like different speakers. Each test compares two large halves, the situation the thresholds
    # were measured on; merging down from an over-clustering instead compared small clusters whose
    # noisy centroids look far apart (sample.wav came out as 4 speakers).
    labels = np.zeros(n, dtype=np.int64)
    candidates: dict[int, tuple[np.ndarray, float, bool] | None] = {}
    while True:
        k = int(labels.max()) + 1
        for c in range(k):
            if c not in candidates:
                candidates[c] = _candidate(raw, weight, region, np.flatnonzero(labels == c), params)
        usable = {c: v for c, v in candidates.items() if v is not None}
        if k >= lo:  # below min_speakers every split is forced, best first
            # Each accepted split makes the next test stricter by split_penalty: every test is one
            # more chance to cut one voice in two (sample.wav tiled to 5 min, whose repeated
            # utterances form tight clusters, otherwise came out as 7-8 speakers).
            limit = params.long_cosine - params.split_penalty * (k - 1)
            usable = {c: v for c, v in usable.items() if v[2] and v[1] < limit}
        if k >= hi or not usable:
            break
        c = min(usable, key=lambda c: usable[c][1])
        idx = np.flatnonzero(labels == c)
        labels[idx[~usable[c][0]]] = k
        del candidates[c]
    if labels.max() > 0:
        labels = _refine(raw - raw.mean(axis=0), labels, params.refine_iters)
    return _relabel(labels)


def _candidate(raw, weight, region, idx, params):
    """(mask, cosine, passes) for the best split of the windows idx, or None when there is none
    with at least min_cluster_s of speech on each side."""
    if idx.size < 2:
        return None
    split = _split_in_two(raw, idx, params)
    if split is None:
        return None
    mask, cosine = split
    if min(weight[idx[mask]].sum(), weight[idx[~mask]].sum()) < params.min_cluster_s:
        return None
    flips = switch_rate(mask, idx, region)
    passes = cosine < params.threshold(weight[idx].sum()) and flips <= params.max_switch_rate
    return mask, cosine, passes
