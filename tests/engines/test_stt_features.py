"""The block-wise Whisper features are faster-whisper's own, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("faster_whisper")

from faster_whisper.feature_extractor import FeatureExtractor  # noqa: E402

from engines.stt.features import BlockFeatureExtractor  # noqa: E402
from tests.support.audio import pyannote_sample_dir, read_wav  # noqa: E402


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    audio, rate = read_wav(pyannote_sample_dir() / "sample.wav")
    assert rate == 16_000
    return np.tile(audio.astype(np.float32), 3)  # 90 s: several blocks


@pytest.mark.parametrize("seconds", [0.0, 0.006, 0.5, 29.99, 30.0, 61.3, 90.0])
def test_block_features_equal_faster_whispers(speech: np.ndarray, seconds: float) -> None:
    clip = speech[: int(seconds * 16_000)]
    expected = FeatureExtractor(feature_size=80)(clip)
    got = BlockFeatureExtractor(feature_size=80)(clip)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_many_small_blocks_and_chunk_length(speech: np.ndarray) -> None:
    block = BlockFeatureExtractor(feature_size=128)
    block.block_frames = 7  # blocks that do not divide the frame count
    reference = FeatureExtractor(feature_size=128)
    clip = speech[: 16_000 * 20 + 37]
    assert np.array_equal(block(clip, chunk_length=20), reference(clip, chunk_length=20))
    assert block.n_samples == reference.n_samples and block.nb_max_frames == reference.nb_max_frames
    assert np.array_equal(block(clip, padding=0), reference(clip, padding=0))
