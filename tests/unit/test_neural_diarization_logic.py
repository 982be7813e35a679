"""The neural diarizer's own additions to pyannote's algorithm, on hand-made inputs (no weights).

The powerset detection bias (SegmentationModel.binarize) and pyannote's embedding_exclude_overlap
as copied in NeuralPipeline.embed. The whole pipeline is compared with pyannote's own on real
speech in tests/engines/test_diarization_neural.py.
"""

from __future__ import annotations

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
