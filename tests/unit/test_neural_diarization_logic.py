"""The neural diarizer's own additions to pyannote's algorithm, on hand-made inputs (no weights).

The powerset detection bias (SegmentationModel.binarize) and pyannote's embedding_exclude_overlap
as copied in NeuralPipeline.embed. The whole pipeline is compared with pyannote's own on real
speech in tests/engines/test_diarization_neural.py.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engines.diarization.neural_pipeline import NeuralPipeline, PipelineParams  # noqa: E402
from engines.diarization.segmentation_model import SegmentationModel  # noqa: E402

HPARAMS = {
    "lstm": {"hidden_size": 4, "num_layers": 1, "monolithic": True, "bidirectional": True},
    "linear": {"hidden_size": 4, "num_layers": 1},
}
# segmentation-3.0's powerset: {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}
SILENCE, ONE, TWO, ONE_TWO = 0, 1, 2, 4


@pytest.fixture(scope="module")
def model() -> SegmentationModel:
    return SegmentationModel(HPARAMS, duration=10.0, num_classes=3, max_set_size=2).eval()


def frame_logits(*rows: dict[int, float]) -> torch.Tensor:
    logits = torch.full((1, len(rows), 7), -10.0)
    for f, row in enumerate(rows):
        for k, v in row.items():
            logits[0, f, k] = v
    return logits


def test_the_powerset_classes_map_to_their_speakers(model):
    assert model.mapping.tolist() == [
        [0, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [1, 0, 1],
        [0, 1, 1],
    ]


def test_no_bias_is_the_plain_argmax(model):
    logits = frame_logits({SILENCE: 1.0, ONE: 0.5}, {SILENCE: 0.0, TWO: 0.4}, {ONE: 1.0, ONE_TWO: 0.9})
    assert model.binarize(logits).tolist() == [[[0, 0, 0], [0, 1, 0], [1, 0, 0]]]
    assert torch.equal(model.binarize(logits, 0.0, 0.0), model.binarize(logits))


def test_speech_bias_detects_speech_whose_logit_is_within_the_bias_of_silence(model):
    logits = frame_logits({SILENCE: 1.0, ONE: 0.5}, {SILENCE: 1.0, TWO: -1.0}, {SILENCE: 1.0})
    assert model.binarize(logits, speech_bias=0.6).tolist() == [[[1, 0, 0], [0, 0, 0], [0, 0, 0]]]
    assert model.binarize(logits, speech_bias=2.5).tolist() == [[[1, 0, 0], [0, 1, 0], [0, 0, 0]]]
    # a negative bias is a stricter detector
    assert model.binarize(frame_logits({SILENCE: 0.0, ONE: 0.5}), speech_bias=-1.0).tolist() == [[[0, 0, 0]]]


def test_overlap_bias_favours_the_two_speaker_classes(model):
    logits = frame_logits({ONE: 1.0, ONE_TWO: 0.7}, {SILENCE: 1.0, ONE_TWO: 0.7})
    assert model.binarize(logits, overlap_bias=0.5).tolist() == [[[1, 1, 0], [1, 1, 0]]]
    assert model.binarize(logits, overlap_bias=0.2).tolist() == [[[1, 0, 0], [0, 0, 0]]]
    # the speech bias lifts overlap with the single speakers: their order is unchanged
    assert model.binarize(logits, speech_bias=0.2).tolist() == [[[1, 0, 0], [0, 0, 0]]]
    assert model.binarize(logits, speech_bias=0.4).tolist() == [[[1, 0, 0], [1, 1, 0]]]


class _RecordingEmbedding:
    """Records the masks it is given; 16 kHz, 3 s minimum like CAM++'s adapter is configured."""

    sample_rate = 16_000
    dimension = 2
    min_num_samples = 3 * 16_000

    def __init__(self) -> None:
        self.masks: list[np.ndarray] = []

    def __call__(self, waveforms, masks=None, progress=None):
        self.masks += [m.numpy().copy() for m in masks]
        if progress is not None:
            progress(len(masks))
        return np.zeros((len(masks), self.dimension), np.float32)


def _pipeline(model, exclude: bool) -> tuple[NeuralPipeline, _RecordingEmbedding]:
    embedding = _RecordingEmbedding()
    return NeuralPipeline(model, embedding, PipelineParams(embedding_exclude_overlap=exclude)), embedding


def _segmentation(frames: int = 100) -> np.ndarray:
    # one 10 s chunk: speaker 0 talks throughout, speaker 1 only over it on frames 40-59, speaker 2 never
    seg = np.zeros((1, frames, 3), np.float32)
    seg[0, :, 0] = 1
    seg[0, 40:60, 1] = 1
    return seg


def test_without_exclusion_each_speaker_is_embedded_from_all_its_frames(model):
    pipeline, embedding = _pipeline(model, exclude=False)
    seg = _segmentation()
    pipeline.embed(torch.zeros(160_000), seg, lambda *a, **k: None)
    assert [m.tolist() for m in embedding.masks] == [seg[0, :, k].tolist() for k in range(3)]


def test_exclusion_drops_overlapped_frames_unless_too_little_speech_remains(model):
    pipeline, embedding = _pipeline(model, exclude=True)
    seg = _segmentation()
    pipeline.embed(torch.zeros(160_000), seg, lambda *a, **k: None)
    first, second, third = embedding.masks
    # speaker 0 keeps its 80 clean frames (8 s >= 3 s); its 20 overlapped frames are dropped
    assert first.sum() == 80 and first[40:60].sum() == 0
    # speaker 1 has no clean frame left: its whole (overlapped) speech is used, as pyannote does
    assert second.tolist() == seg[0, :, 1].tolist()
    assert third.sum() == 0


def test_min_active_ratio_decides_which_local_speakers_are_clustered():
    from engines.diarization.ahc import AhcParams, agglomerative_clustering

    # one chunk of 100 frames: speaker 0 alone on 80 frames, speaker 1 alone on 15, speaker 2 silent
    seg = np.zeros((1, 100, 3), np.float32)
    seg[0, :80, 0] = 1
    seg[0, 80:95, 1] = 1
    embeddings = np.array([[[1.0, 0.0], [0.0, 1.0], [np.nan, np.nan]]])
    # pyannote's 0.2: only speaker 0 is clustered, so one cluster, which speaker 1 joins
    clusters, _ = agglomerative_clustering(embeddings, seg, AhcParams(threshold=0.8))
    assert clusters[0, :2].tolist() == [0, 0]
    # at 0.1 speaker 1's 15 % is enough: two clusters (orthogonal voices are 1.41 apart)
    clusters, _ = agglomerative_clustering(embeddings, seg, AhcParams(threshold=0.8, min_active_ratio=0.1))
    assert clusters[0, 0] != clusters[0, 1]


def test_no_clusterable_speaker_gives_one_speaker_without_a_nan_centroid():
    from engines.diarization.ahc import AhcParams, agglomerative_clustering

    # every local speaker talks alone for less than 20 % of its chunk: nothing to cluster
    seg = np.zeros((2, 100, 3), np.float32)
    seg[:, :10, 0] = 1
    seg[:, 50:60, 1] = 1
    embeddings = np.array([[[1.0, 0.0], [0.0, 1.0], [np.nan, np.nan]]] * 2)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "Mean of empty slice" included
        clusters, centroids = agglomerative_clustering(embeddings, seg, AhcParams(threshold=0.8))
    assert clusters.tolist() == [[0, 0, 0], [0, 0, 0]]
    assert centroids.shape == (1, 2) and np.allclose(centroids, [[0.5, 0.5]])
    # and with no usable embedding at all, a zero centroid rather than NaN
    _, centroids = agglomerative_clustering(np.full((2, 3, 2), np.nan), seg, AhcParams(threshold=0.8))
    assert centroids.tolist() == [[0.0, 0.0]]


def _two_chunks_of_two_talkers():
    # chunk 0: voices a and b, each alone for 40 % of it (both clustered); chunk 1: two short local
    # speakers (10 %: only assigned) whose voices are both nearer a than b
    seg = np.zeros((2, 100, 2), np.float32)
    seg[0, :40, 0] = seg[0, 50:90, 1] = 1
    seg[1, :10, 0] = seg[1, 50:60, 1] = 1
    a, b = [1.0, 0.0], [0.0, 1.0]
    embeddings = np.array([[a, b], [[1.0, 0.1], [0.8, 0.6]]])
    return embeddings, seg


def test_unconstrained_assignment_may_give_one_chunks_two_speakers_the_same_cluster():
    from engines.diarization.ahc import AhcParams, agglomerative_clustering

    embeddings, seg = _two_chunks_of_two_talkers()
    clusters, _ = agglomerative_clustering(embeddings, seg, AhcParams(threshold=0.5))
    assert clusters[0].tolist() == [0, 1]
    assert clusters[1].tolist() == [0, 0]


def test_constrained_assignment_gives_one_chunks_speakers_distinct_clusters():
    from engines.diarization.ahc import AhcParams, agglomerative_clustering

    embeddings, seg = _two_chunks_of_two_talkers()
    params = AhcParams(threshold=0.5, constrained_assignment=True)
    clusters, _ = agglomerative_clustering(embeddings, seg, params)
    assert clusters[0].tolist() == [0, 1]
    # the assignment with the highest total similarity: [1, 0.1] is the nearer to a
    assert clusters[1].tolist() == [0, 1]


def test_constrained_assignment_leaves_a_speaker_without_a_cluster_when_there_are_fewer():
    from engines.diarization.ahc import constrained_argmax

    # one chunk, three local speakers, two clusters: the weakest match gets none (-2)
    soft = np.array([[[1.9, 1.0], [1.2, 1.1], [1.0, 1.8]]])
    assert constrained_argmax(soft).tolist() == [[0, -2, 1]]


def test_average_linkage_cuts_at_the_mean_cosine_distance_between_clusters():
    from engines.diarization.ahc import AhcParams, agglomerative_clustering

    # two pairs of voices; within a pair 0.02 apart, between the pairs a mean cosine distance of
    # 1 - cos(40 deg) ~ 0.234 (the four cross pairs at 38-42 degrees)
    angles = np.radians([0.0, 2.0, 40.0, 42.0])
    seg = np.zeros((4, 100, 1), np.float32)
    seg[:, :50, 0] = 1
    embeddings = np.stack([np.cos(angles), np.sin(angles)], axis=1)[:, None, :]
    between = np.mean([1 - np.cos(x - y) for x in angles[2:] for y in angles[:2]])
    for threshold, expected in ((between - 0.01, 2), (between + 0.01, 1)):
        clusters, centroids = agglomerative_clustering(
            embeddings, seg, AhcParams(method="average", threshold=threshold)
        )
        assert len(centroids) == expected
        assert clusters[0, 0] == clusters[1, 0] and clusters[2, 0] == clusters[3, 0]


def _outlier_case(chunks_with_short_talker: int):
    # speaker A alone in every chunk long enough to be clustered; a short talker B (10 % of the
    # chunk, left out of the clustering) in the first `chunks_with_short_talker` chunks
    seg = np.zeros((4, 100, 3), np.float32)
    seg[:, :80, 0] = 1
    seg[:chunks_with_short_talker, 85:95, 1] = 1
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    embeddings = np.array([[a, b if c < chunks_with_short_talker else [np.nan] * 3, [np.nan] * 3] for c in range(4)])
    return embeddings, seg


def test_a_far_short_talker_seen_in_enough_chunks_becomes_its_own_speaker():
    from engines.diarization.ahc import AhcParams, agglomerative_clustering

    embeddings, seg = _outlier_case(2)
    # pyannote's rule: the short talker joins the only cluster
    clusters, _ = agglomerative_clustering(embeddings, seg, AhcParams(threshold=0.8))
    assert set(clusters[:2, 1].tolist()) == {0}
    # orthogonal voices are cosine distance 1 apart: beyond 0.6, so a new speaker, in both chunks
    params = AhcParams(threshold=0.8, outlier_distance=0.6, outlier_min_tracks=2)
    clusters, centroids = agglomerative_clustering(embeddings, seg, params)
    assert clusters[:, 0].tolist() == [0, 0, 0, 0]
    assert clusters[:2, 1].tolist() == [1, 1]
    assert centroids.shape == (2, 3) and np.allclose(centroids[1], [0.0, 1.0, 0.0])


def test_an_outlier_needs_its_chunks_its_distance_and_no_count_hint():
    from engines.diarization.ahc import AhcParams, agglomerative_clustering

    params = AhcParams(threshold=0.8, outlier_distance=0.6, outlier_min_tracks=2)
    # seen in one chunk only: no evidence of a speaker, it joins the nearest cluster
    embeddings, seg = _outlier_case(1)
    clusters, centroids = agglomerative_clustering(embeddings, seg, params)
    assert clusters[0, 1] == 0 and len(centroids) == 1
    # not far enough from the cluster
    embeddings, seg = _outlier_case(2)
    clusters, _ = agglomerative_clustering(embeddings, seg, dataclasses.replace(params, outlier_distance=1.5))
    assert set(clusters[:2, 1].tolist()) == {0}
    # a count hint is kept exactly, and max_speakers bounds the new speakers
    for kwargs in ({"num_clusters": 1}, {"max_clusters": 1}):
        clusters, centroids = agglomerative_clustering(embeddings, seg, params, **kwargs)
        assert set(clusters[:2, 1].tolist()) == {0} and len(centroids) == 1
    clusters, centroids = agglomerative_clustering(embeddings, seg, params, max_clusters=2)
    assert clusters[:2, 1].tolist() == [1, 1] and len(centroids) == 2


def test_with_the_conflict_rule_an_outlier_must_share_its_cluster_with_a_chunk_mate():
    from engines.diarization.ahc import AhcParams, agglomerative_clustering, in_conflict

    params = AhcParams(threshold=0.8, outlier_distance=0.6, outlier_min_tracks=1, outlier_conflict=True)
    # the short talker B speaks while A is active in its chunk: assigned, B would be A's cluster,
    # one window's two local speakers made one person, so B becomes a speaker of its own
    embeddings, seg = _outlier_case(1)
    hard = np.zeros((4, 3), dtype=np.int8)
    assert in_conflict(hard, np.sum(seg, axis=1) > 0)[0].tolist() == [True, True, False]
    hard[0, :2] = -2  # left without a cluster by the constrained assignment: no shared cluster
    assert not in_conflict(hard, np.sum(seg, axis=1) > 0)[0].any()
    clusters, centroids = agglomerative_clustering(embeddings, seg, params)
    assert clusters[0, 1] == 1 and len(centroids) == 2
    # the same far voice alone in a chunk of its own is no conflict: it joins the nearest cluster
    # (without the conflict rule it would be a new speaker)
    alone = seg.copy()
    alone[0, :, 0] = 0
    embeddings_alone = embeddings.copy()
    embeddings_alone[0, 0] = np.nan
    clusters, centroids = agglomerative_clustering(embeddings_alone, alone, params)
    assert clusters[0, 1] == 0 and len(centroids) == 1
    clusters, centroids = agglomerative_clustering(
        embeddings_alone, alone, dataclasses.replace(params, outlier_conflict=False)
    )
    assert clusters[0, 1] == 1 and len(centroids) == 2


def test_a_local_speaker_whose_halves_disagree_is_cut_in_two(model):
    pipeline, _ = _pipeline(model, exclude=False)
    pipeline.params = dataclasses.replace(pipeline.params, split_distance=0.5, split_min_s=1.0)
    seg = _segmentation()  # speaker 0 on all 100 frames, speaker 1 on 40-59
    embeddings = np.array([[[1.0, 1.0], [1.0, 0.0], [np.nan, np.nan]]], np.float32)
    halves = np.array([[[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.1]], [[np.nan] * 2] * 2]], np.float32)
    out_seg, out_emb = pipeline.split_tracks(seg, embeddings, halves)
    assert out_seg.shape == (1, 100, 6) and out_emb.shape == (1, 6, 2)
    # speaker 0's halves are orthogonal (cosine distance 1 > 0.5): its second 50 frames move to local speaker 3
    assert out_seg[0, :, 0].tolist() == [1] * 50 + [0] * 50
    assert out_seg[0, :, 3].tolist() == [0] * 50 + [1] * 50
    assert out_emb[0, 0].tolist() == [1.0, 0.0] and out_emb[0, 3].tolist() == [0.0, 1.0]
    # speaker 1's halves agree: unchanged, and its partner column stays silent and unembedded
    assert out_seg[0, :, 1].tolist() == seg[0, :, 1].tolist() and out_seg[0, :, 4].sum() == 0
    assert out_emb[0, 1].tolist() == [1.0, 0.0] and np.isnan(out_emb[0, 4]).all()
    # the speaker count per frame is the same
    assert out_seg.sum(axis=2).tolist() == seg.sum(axis=2).tolist()


def test_a_local_speaker_too_short_for_two_halves_is_not_cut(model):
    pipeline, _ = _pipeline(model, exclude=False)
    # speaker 1's 20 frames (2 s) cannot give two halves of 1.5 s
    pipeline.params = dataclasses.replace(pipeline.params, split_distance=0.5, split_min_s=1.5)
    seg = _segmentation()
    embeddings = np.array([[[1.0, 1.0], [1.0, 1.0], [np.nan, np.nan]]], np.float32)
    orthogonal = [[1.0, 0.0], [0.0, 1.0]]
    halves = np.array([[orthogonal, orthogonal, [[np.nan] * 2] * 2]], np.float32)
    out_seg, _ = pipeline.split_tracks(seg, embeddings, halves)
    assert out_seg[0, :, 4].sum() == 0 and out_seg[0, :, 1].tolist() == seg[0, :, 1].tolist()
    assert out_seg[0, :, 3].sum() == 50  # speaker 0 (10 s) still is


def test_campplus_halves_come_from_the_same_forward_and_leave_the_whole_unchanged():
    pytest.importorskip("torchaudio")
    from engines.diarization.campplus_embedding import CamPlusEmbedding
    from engines.diarization.campplus_model import CAMPPlus

    torch.manual_seed(0)
    network = CAMPPlus().eval()  # random weights: the arithmetic, not the voices
    features = torch.randn(2, 120, 80)
    with torch.inference_mode():
        assert torch.allclose(network.pool(network.frame_features(features)), network(features), atol=1e-5)
    embedding = CamPlusEmbedding(network)
    waveforms = torch.randn(3, 1, 32_000) * 0.1
    masks = torch.ones(3, 100)
    masks[1, 20:] = 0  # 0.4 s kept: below the 0.5 s minimum, NaN
    whole = embedding(waveforms, masks=masks)
    again, halves = embedding(waveforms, masks=masks, halves=True)
    assert np.array_equal(whole, again, equal_nan=True)
    assert halves.shape == (3, 2, 192)
    assert np.isnan(halves[1]).all() and np.isfinite(halves[[0, 2]]).all()
    # each half is pooled from its own frames: the two differ, and neither is the whole
    assert not np.allclose(halves[0, 0], halves[0, 1]) and not np.allclose(halves[0, 0], whole[0])


def test_after_clustering_a_track_is_cut_only_where_its_halves_belong_to_different_clusters(model):
    pipeline, _ = _pipeline(model, exclude=False)
    pipeline.params = dataclasses.replace(
        pipeline.params, split_distance=0.0, split_min_s=1.0, split_after_clustering=True
    )
    seg = _segmentation()  # speaker 0 on all 100 frames, speaker 1 on 40-59
    centroids = np.array([[1.0, 0.0], [0.0, 1.0]])
    hard = np.array([[0, 1, -2]])
    # speaker 0's first half is near cluster 0, its second near cluster 1; speaker 1's both near 1
    halves = np.array([[[[1.0, 0.1], [0.1, 1.0]], [[0.2, 1.0], [0.1, 1.0]], [[np.nan] * 2] * 2]], np.float32)
    out_seg, out_hard = pipeline.cut_between_clusters(seg, hard, centroids, halves)
    assert out_seg.shape == (1, 100, 6) and out_hard.shape == (1, 6)
    assert out_seg[0, :, 0].tolist() == [1] * 50 + [0] * 50 and out_seg[0, :, 3].tolist() == [0] * 50 + [1] * 50
    assert out_hard[0].tolist() == [0, 1, -2, 1, -2, -2]
    assert out_seg[0, :, 1].tolist() == seg[0, :, 1].tolist() and out_seg[0, :, 4].sum() == 0
    # no new cluster is made: the speaker count stays the clustering's (hints stay exact)
    assert set(out_hard[0].tolist()) - {-2} <= {0, 1}


def test_reclustering_after_the_cut_uses_the_halves_instead_of_the_mixture(model):
    pipeline, _ = _pipeline(model, exclude=False)
    pipeline.params = dataclasses.replace(
        pipeline.params, split_distance=0.0, split_min_s=1.0, split_after_clustering=True
    )
    # three chunks, one local speaker each, talking throughout: A alone, a mixture of A then B, B alone
    seg = np.zeros((3, 100, 3), np.float32)
    seg[:, :, 0] = 1
    a, b, mixture, nan = [1.0, 0.0], [0.0, 1.0], [0.9, 0.45], [np.nan] * 2
    embeddings = np.array([[a, nan, nan], [mixture, nan, nan], [b, nan, nan]])
    halves = np.array(
        [[[a, a], [nan, nan], [nan, nan]], [[a, b], [nan, nan], [nan, nan]], [[b, b], [nan, nan], [nan, nan]]]
    )
    count = pipeline.speaker_count(seg)
    once = pipeline.cluster_and_reconstruct(seg, count, embeddings, None, 1, math.inf, halves=halves)
    pipeline.params = dataclasses.replace(pipeline.params, split_recluster=True)
    again = pipeline.cluster_and_reconstruct(seg, count, embeddings, None, 1, math.inf, halves=halves)
    # two speakers either way; the first clustering's centroid of A holds the mixture, the second's does not
    assert len(once.centroids) == len(again.centroids) == 2
    a_once = once.centroids[np.argmax(once.centroids[:, 0])]
    a_again = again.centroids[np.argmax(again.centroids[:, 0])]
    assert np.allclose(a_once, np.mean([a, mixture], axis=0)) and np.allclose(a_again, a)
    assert {k for *_, k in once.turns} == {k for *_, k in again.turns} == {0, 1}


def test_count_bias_moves_the_rounding_of_the_mean_count(model):
    pipeline, _ = _pipeline(model, exclude=False)
    mean = np.array([[0.0], [0.2], [0.4], [0.5], [1.5], [2.5]])  # frames' summed activity, averaged
    pipeline.aggregate = lambda scores, frames, skip_average=False: mean  # the rounding alone
    seg = _segmentation()

    def counts(bias):
        pipeline.params = dataclasses.replace(pipeline.params, count_bias=bias)
        return pipeline.speaker_count(seg).reshape(-1).tolist()

    assert counts(None) == [0, 0, 0, 0, 2, 2]  # pyannote's np.rint: exact halves to even
    assert counts(0.0) == [0, 0, 0, 1, 2, 3]  # halves up
    assert counts(0.2) == [0, 0, 1, 1, 2, 3]  # 2 of 5 windows are enough
    assert counts(-0.2) == [0, 0, 0, 0, 1, 2]


def test_turns_shorter_than_min_duration_on_are_dropped_unless_a_count_needs_them(model):
    from engines.diarization.segmentation_model import Frames

    pipeline, _ = _pipeline(model, exclude=False)
    frames = Frames(start=0.0, duration=0.02, step=0.02)  # 20 ms frames: a run of n frames lasts n x 20 ms
    binary = np.zeros((200, 2), np.float32)
    binary[10:110, 0] = 1  # speaker 0: 2 s
    binary[150:152, 0] = 1  # and a 40 ms blip
    binary[120:123, 1] = 1  # speaker 1: only a 60 ms blip

    def spans(min_on, keep=False):
        pipeline.params = dataclasses.replace(pipeline.params, min_duration_on=min_on)
        return [(round(s, 2), round(e, 2), k) for s, e, k in pipeline.to_turns(binary, frames, keep)]

    assert spans(0.0) == [(0.21, 2.21, 0), (2.41, 2.47, 1), (3.01, 3.05, 0)]  # pyannote 3.x: every run
    assert spans(0.05) == [(0.21, 2.21, 0), (2.41, 2.47, 1)]
    assert spans(0.1) == [(0.21, 2.21, 0)]  # speaker 1 was only a blip: gone
    # a speaker count was asked for: speaker 1 keeps its longest turn, speaker 0's blip still goes
    assert spans(0.1, keep=True) == [(0.21, 2.21, 0), (2.41, 2.47, 1)]
