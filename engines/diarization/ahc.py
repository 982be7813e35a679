"""pyannote.audio 4.0.7's AgglomerativeClustering (inference only), without importing pyannote.audio.

Same algorithm and numbers (tests compare both on real speech): embeddings of (chunk, local
speaker) pairs that hold >= 20 % of their chunk as single-speaker speech and are not NaN are
clustered by scipy's hierarchical `linkage` (centroid linkage on unit vectors for the cosine
metric), cut at `threshold`; clusters smaller than `min_cluster_size` (lowered to 10 % of the
embeddings on short files) are merged into the nearest large one; a requested number of
clusters is met by moving the cut along the dendrogram. Every (chunk, speaker) is then assigned
to its closest centroid. Copied here because any pyannote.audio import loads `lightning`
(segmentation_model.py says why that matters). MIT licence, (c) CNRS / pyannoteAI.

Memory: scipy's linkage holds the condensed distance matrix twice, 8 bytes x n^2 / 2 each: about
130 MB for the ~4,000 embeddings of one hour at the default step.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AhcParams:
    threshold: float = 0.8
    method: str = "centroid"
    min_cluster_size: int = 1
    metric: str = "cosine"
    # pyannote's: a (chunk, speaker) embedding is clustered when it holds this share of its chunk as
    # single-speaker speech (others are only assigned to the clusters afterwards)
    min_active_ratio: float = 0.2
    # Not pyannote's (inf: its rule, every left-out embedding joins its nearest centroid). A
    # left-out (chunk, speaker) whose cosine distance to every centroid exceeds this is an outlier;
    # outliers that group together (AHC at `threshold`) in at least `outlier_min_tracks` chunks
    # become speakers of their own: a talker too short to be clustered is otherwise merged into
    # someone else. Only without a speaker count hint, and within max_speakers.
    outlier_distance: float = math.inf
    outlier_min_tracks: int = 2
    # Not pyannote's either. With it, an outlier must also be in conflict: its nearest cluster is
    # the one another active local speaker of its chunk went to. segmentation-3.0's local speakers
    # of one chunk are different people, so the assignment would otherwise make two voices of the
    # same window one speaker; a far track that is not in conflict is more likely a noisy
    # embedding of someone already found (issue 11 round 12, docs/benchmarks.md).
    outlier_conflict: bool = False
    # pyannote's constrained_assignment: two local speakers of one chunk never go to the same
    # cluster (a Hungarian assignment per chunk); off in pyannote's pipelines, as here by default.
    constrained_assignment: bool = False


def set_num_clusters(
    num_embeddings: int, num_clusters: int | None, min_clusters: int | None, max_clusters: float | None
) -> tuple[int | None, int, int]:
    min_clusters = num_clusters or min_clusters or 1
    min_clusters = max(1, min(num_embeddings, min_clusters))
    max_clusters = num_clusters or max_clusters or num_embeddings
    max_clusters = int(max(1, min(num_embeddings, max_clusters)))
    if min_clusters > max_clusters:
        raise ValueError(f"min_clusters ({min_clusters}) must not exceed max_clusters ({max_clusters})")
    if min_clusters == max_clusters:
        num_clusters = min_clusters
    return num_clusters, min_clusters, max_clusters


def filter_embeddings(
    embeddings: np.ndarray, segmentations: np.ndarray, min_active_ratio: float = 0.2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (chunk, speaker) embeddings worth clustering, with their indices."""
    num_frames = segmentations.shape[1]
    single_active = np.sum(segmentations, axis=2, keepdims=True) == 1
    num_clean_frames = np.sum(segmentations * single_active, axis=1)
    active = num_clean_frames >= min_active_ratio * num_frames
    valid = ~np.any(np.isnan(embeddings), axis=2)
    chunk_idx, speaker_idx = np.where(active * valid)
    return embeddings[chunk_idx, speaker_idx], chunk_idx, speaker_idx


def dendrogram_of(embeddings: np.ndarray, params: AhcParams) -> tuple[np.ndarray, np.ndarray]:
    """scipy's linkage as pyannote calls it: the methods that need euclidean distances (centroid,
    median, ward) get unit vectors for the cosine metric; the embeddings used are returned too."""
    from scipy.cluster.hierarchy import linkage

    if params.metric == "cosine" and params.method in ("centroid", "median", "ward"):
        with np.errstate(divide="ignore", invalid="ignore"):
            embeddings = embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)
        return embeddings, linkage(embeddings, method=params.method, metric="euclidean")
    return embeddings, linkage(embeddings, method=params.method, metric=params.metric)


def cluster(
    embeddings: np.ndarray,
    params: AhcParams,
    min_clusters: int,
    max_clusters: int,
    num_clusters: int | None,
) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster
    from scipy.spatial.distance import cdist

    num_embeddings = embeddings.shape[0]
    min_cluster_size = min(params.min_cluster_size, max(1, round(0.1 * num_embeddings)))
    if num_embeddings == 1:
        return np.zeros((1,), dtype=np.uint8)
    embeddings, dendrogram = dendrogram_of(embeddings, params)
    clusters = fcluster(dendrogram, params.threshold, criterion="distance") - 1
    cluster_unique, cluster_counts = np.unique(clusters, return_counts=True)
    large_clusters = cluster_unique[cluster_counts >= min_cluster_size]
    num_large_clusters = len(large_clusters)
    if num_large_clusters < min_clusters:
        num_clusters = min_clusters
    elif num_large_clusters > max_clusters:
        num_clusters = max_clusters
    if num_clusters is not None and num_large_clusters != num_clusters:
        # walk the dendrogram from the threshold outwards until the count is met
        _dendrogram = np.copy(dendrogram)
        _dendrogram[:, 2] = np.arange(num_embeddings - 1)
        best_iteration, best_num_large_clusters = num_embeddings - 1, 1
        for iteration in np.argsort(np.abs(dendrogram[:, 2] - params.threshold)):
            if _dendrogram[iteration, 3] < min_cluster_size:
                continue
            clusters = fcluster(_dendrogram, iteration, criterion="distance") - 1
            cluster_unique, cluster_counts = np.unique(clusters, return_counts=True)
            large_clusters = cluster_unique[cluster_counts >= min_cluster_size]
            num_large_clusters = len(large_clusters)
            if abs(num_large_clusters - num_clusters) < abs(best_num_large_clusters - num_clusters):
                best_iteration, best_num_large_clusters = iteration, num_large_clusters
            if num_large_clusters == num_clusters:
                break
        if best_num_large_clusters != num_clusters:
            clusters = fcluster(_dendrogram, best_iteration, criterion="distance") - 1
            cluster_unique, cluster_counts = np.unique(clusters, return_counts=True)
            large_clusters = cluster_unique[cluster_counts >= min_cluster_size]
            num_large_clusters = len(large_clusters)
            log.info("clustering found only %d clusters of the %d asked for", num_large_clusters, num_clusters)
    if num_large_clusters == 0:
        clusters[:] = 0
        return clusters
    small_clusters = cluster_unique[cluster_counts < min_cluster_size]
    if len(small_clusters) == 0:
        return clusters
    large_centroids = np.vstack([np.mean(embeddings[clusters == k], axis=0) for k in large_clusters])
    small_centroids = np.vstack([np.mean(embeddings[clusters == k], axis=0) for k in small_clusters])
    centroids_cdist = cdist(large_centroids, small_centroids, metric=params.metric)
    for small_k, large_k in enumerate(np.argmin(centroids_cdist, axis=0)):
        clusters[clusters == small_clusters[small_k]] = large_clusters[large_k]
    _, clusters = np.unique(clusters, return_inverse=True)
    return clusters


def assign_embeddings(
    embeddings: np.ndarray,
    train_chunk_idx,
    train_speaker_idx,
    train_clusters,
    metric: str,
    constrained: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Every (chunk, speaker) to its nearest centroid (pyannote's unconstrained assignment), or
    one chunk's speakers to distinct centroids (its constrained one)."""
    from scipy.spatial.distance import cdist

    num_clusters = np.max(train_clusters) + 1
    num_chunks, num_speakers, dimension = embeddings.shape
    train_embeddings = embeddings[train_chunk_idx, train_speaker_idx]
    centroids = np.vstack([np.mean(train_embeddings[train_clusters == k], axis=0) for k in range(num_clusters)])
    distance = cdist(embeddings.reshape(-1, dimension), centroids, metric=metric)
    soft_clusters = (2 - distance).reshape(num_chunks, num_speakers, num_clusters)
    if constrained:
        return constrained_argmax(soft_clusters), centroids
    return np.argmax(soft_clusters, axis=2), centroids


def constrained_argmax(soft_clusters: np.ndarray) -> np.ndarray:
    """pyannote's: per chunk, the assignment of local speakers to distinct clusters with the
    highest total score; a speaker left without a cluster (more speakers than clusters) is -2."""
    from scipy.optimize import linear_sum_assignment

    soft_clusters = np.nan_to_num(soft_clusters, nan=np.nanmin(soft_clusters))
    num_chunks, num_speakers, _ = soft_clusters.shape
    hard = -2 * np.ones((num_chunks, num_speakers), dtype=np.int8)
    for c, cost in enumerate(soft_clusters):
        speakers, clusters = linear_sum_assignment(cost, maximize=True)
        hard[c, speakers] = clusters
    return hard


def agglomerative_clustering(
    embeddings: np.ndarray,
    segmentations: np.ndarray,
    params: AhcParams,
    num_clusters: int | None = None,
    min_clusters: int | None = None,
    max_clusters: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(chunks, speakers, dim) embeddings + (chunks, frames, speakers) binary segmentation ->
    hard clusters (chunks, speakers) and centroids."""
    train, chunk_idx, speaker_idx = filter_embeddings(embeddings, segmentations, params.min_active_ratio)
    room = None if num_clusters is not None else (max_clusters or math.inf)  # for outlier speakers
    num_clusters, min_clusters, max_clusters = set_num_clusters(
        train.shape[0], num_clusters, min_clusters, max_clusters
    )
    num_chunks, num_speakers, dimension = embeddings.shape
    if max_clusters < 2:
        hard = np.zeros((num_chunks, num_speakers), dtype=np.int8)
        if train.shape[0]:
            centroids = np.mean(train, axis=0, keepdims=True)
        else:
            # no local speaker talks alone long enough to be clustered (pyannote averages the empty
            # set here: a NaN centroid); every one is assigned to the single speaker, whose
            # centroid is then the mean of all the embeddings there are
            valid = embeddings[~np.any(np.isnan(embeddings), axis=2)]
            centroids = np.mean(valid, axis=0, keepdims=True) if valid.size else np.zeros((1, dimension))
    else:
        train_clusters = cluster(train, params, min_clusters, max_clusters, num_clusters)
        hard, centroids = assign_embeddings(
            embeddings, chunk_idx, speaker_idx, train_clusters, params.metric, params.constrained_assignment
        )
    if room is not None and math.isfinite(params.outlier_distance) and room > len(centroids):
        hard, centroids = outlier_speakers(
            embeddings, segmentations, hard, centroids, chunk_idx, speaker_idx, params, room
        )
    return hard, centroids


def in_conflict(hard: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(chunks, speakers): the active local speaker shares its cluster with another active local
    speaker of the same chunk (a speaker the constrained assignment left without one, -2, shares none)."""
    assigned = active & (hard >= 0)
    same = (hard[:, :, None] == hard[:, None, :]) & assigned[:, :, None] & assigned[:, None, :]
    return np.sum(same, axis=2) > 1


def outlier_speakers(
    embeddings: np.ndarray,
    segmentations: np.ndarray,
    hard: np.ndarray,
    centroids: np.ndarray,
    train_chunk_idx: np.ndarray,
    train_speaker_idx: np.ndarray,
    params: AhcParams,
    max_clusters: float,
) -> tuple[np.ndarray, np.ndarray]:
    """New clusters for the left-out local speakers far from every centroid (AhcParams.outlier_distance)."""
    from scipy.cluster.hierarchy import fcluster
    from scipy.spatial.distance import cdist

    active = np.sum(segmentations, axis=1) > 0
    left_out = active & ~np.any(np.isnan(embeddings), axis=2)
    left_out[train_chunk_idx, train_speaker_idx] = False
    if params.outlier_conflict:
        left_out &= in_conflict(hard, active)
    chunk, speaker = np.nonzero(left_out)
    if chunk.size < params.outlier_min_tracks:
        return hard, centroids
    candidates = embeddings[chunk, speaker]
    far = np.min(cdist(candidates, centroids, metric=params.metric), axis=1) > params.outlier_distance
    chunk, speaker, candidates = chunk[far], speaker[far], candidates[far]
    if chunk.size < max(params.outlier_min_tracks, 1):
        return hard, centroids
    if chunk.size == 1:
        groups = np.zeros(1, dtype=int)
    else:
        groups = fcluster(dendrogram_of(candidates, params)[1], params.threshold, "distance") - 1
    labels, sizes = np.unique(groups, return_counts=True)
    hard = hard.astype(np.int64)
    new_centroids = [centroids]
    for label in labels[np.argsort(-sizes, kind="stable")]:
        members = groups == label
        # one chunk's two local speakers are two people, but the same one seen by one chunk is no
        # evidence: count distinct chunks
        if np.unique(chunk[members]).size < params.outlier_min_tracks:
            continue
        if len(centroids) + len(new_centroids) - 1 >= max_clusters:
            break
        hard[chunk[members], speaker[members]] = len(centroids) + len(new_centroids) - 1
        new_centroids.append(np.mean(candidates[members], axis=0, keepdims=True))
    return hard, np.vstack(new_centroids)
