"""The neural diarizer (pyannote's algorithm + segmentation-3.0 + CAM++) with its real weights.

Its lean copy of pyannote's pipeline is checked against pyannote.audio's own (imported here, in the
tests, never by the engine: it costs the worker ~390 MB).

The models load once per module; clips are short. Dev recordings are read from the shared dev set
(skipped when it is absent); pyannote's sample.wav ships with pyannote.audio.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from engines.speakers import overlapped_regions
from engines.types import DiarizationRequest
from scripts.bench_diarization import read_rttm, solo_spans
from scripts.dev_data import dev_data_dir
from tests.support.audio import read_wav, sample_wav

neural_diarization = pytest.importorskip("model_store.neural_diarization")
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py says why
SR = 16_000


def _models():
    try:
        return neural_diarization.package_models()
    except neural_diarization.NeuralModelsUnavailable as exc:
        pytest.skip(f"neural diarizer weights unavailable: {exc}")


@pytest.fixture(scope="module")
def diarizer():
    from engines.diarization.neural import NeuralDiarizer, NeuralDiarizerConfig

    models = _models()
    return NeuralDiarizer(NeuralDiarizerConfig(segmentation=models.segmentation, embedding=models.embedding))


@pytest.fixture(scope="module")
def sample():
    audio, rate = read_wav(sample_wav())
    assert rate == SR
    return audio, read_rttm(sample_wav().with_suffix(".rttm"))


def dev_clip(name: str) -> np.ndarray:
    root = dev_data_dir()
    if root is None or not (root / "stt" / f"{name}.wav").is_file():
        pytest.skip("shared dev recordings not found (set VOICE_API_DEV_DATA)")
    audio, rate = read_wav(root / "stt" / f"{name}.wav")
    assert rate == SR
    return audio


def joined(clips: list[np.ndarray], gap_s: float = 0.4) -> np.ndarray:
    gap = np.zeros(int(gap_s * SR), np.float32)
    return np.concatenate([part for clip in clips for part in (clip, gap)])


def speakers(turns) -> set[str]:
    return {t.speaker for t in turns}


def test_sample_has_two_speakers_and_overlap_where_the_reference_overlaps(diarizer, sample):
    audio, ref = sample
    result = diarizer.diarize_full(DiarizationRequest(audio=audio))
    assert speakers(result.turns) == {"SPEAKER_00", "SPEAKER_01"}
    assert result.turns == sorted(result.turns, key=lambda t: (t.start, t.end))
    from engines.types import SpeakerTurn

    ref_overlap = overlapped_regions([SpeakerTurn(s, e, k) for s, e, k in ref])
    found_overlap = overlapped_regions(result.turns)
    assert ref_overlap and found_overlap
    shared = sum(max(0.0, min(b, d) - max(a, c)) for a, b in ref_overlap for c, d in found_overlap)
    assert shared > 0.5 * sum(d - c for c, d in found_overlap), (ref_overlap, found_overlap)
    # the exclusive view: one speaker at a time, same names
    ends = [t.end for t in result.exclusive]
    assert all(t.start >= prev - 1e-6 for t, prev in zip(result.exclusive[1:], ends, strict=False))
    assert speakers(result.exclusive) == speakers(result.turns)


def test_three_voices_from_real_recordings(diarizer):
    a = [dev_clip(n) for n in ("ps_librivox_0870", "ps_librivox_0890", "ps_librivox_0920")]
    b = [dev_clip(n) for n in ("lj_LJ001-0001", "lj_LJ001-0005", "lj_LJ001-0007")]
    c = [dev_clip(n) for n in ("ls_2412-153948-0000",)]
    c = [c[0][: len(c[0]) // 2], c[0][len(c[0]) // 2 :]]
    conversation = joined([a[0], b[0], c[0], a[1], b[1], c[1], a[2], b[2]])
    turns = diarizer.diarize(DiarizationRequest(audio=conversation))
    assert len(speakers(turns)) == 3


def test_monologue_stays_one_speaker(diarizer):
    clips = [dev_clip(n) for n in ("lj_LJ001-0001", "lj_LJ001-0003", "lj_LJ001-0005", "lj_LJ001-0007")]
    turns = diarizer.diarize(DiarizationRequest(audio=joined(clips)))
    assert len(speakers(turns)) == 1


@pytest.mark.parametrize("count", [1, 3])
def test_num_speakers_is_honoured_exactly(diarizer, sample, count):
    audio, _ = sample
    turns = diarizer.diarize(DiarizationRequest(audio=audio, num_speakers=count))
    assert len(speakers(turns)) == count


def test_min_and_max_speakers_bound_the_count(diarizer, sample):
    audio, _ = sample
    assert len(speakers(diarizer.diarize(DiarizationRequest(audio=audio, min_speakers=3)))) >= 3
    assert len(speakers(diarizer.diarize(DiarizationRequest(audio=audio, max_speakers=1)))) == 1


def test_silence_and_tiny_inputs_give_no_turns(diarizer):
    assert diarizer.diarize(DiarizationRequest(audio=np.zeros(5 * SR, np.float32))) == []
    assert diarizer.diarize(DiarizationRequest(audio=np.zeros(100, np.float32))) == []


# --- the CAM++ adapter against pyannote's embedding interface ---------------------------------


@pytest.fixture(scope="module")
def embedding(diarizer):
    return diarizer.pipeline().embedding


def test_adapter_declares_what_pyannote_reads(embedding):
    assert (embedding.sample_rate, embedding.dimension, embedding.metric) == (16_000, 192, "cosine")
    assert embedding.min_num_samples == 8_000


def _chunk(audio: np.ndarray, start_s: float):
    import torch

    piece = audio[int(start_s * SR) : int(start_s * SR) + 10 * SR]
    return torch.from_numpy(np.ascontiguousarray(piece))[None, None]


def test_masked_out_samples_do_not_change_the_embedding(embedding, sample):
    import torch

    audio, _ = sample
    waveform = _chunk(audio, 5.0)
    mask = torch.zeros(1, 589)
    mask[0, :300] = 1.0
    altered = waveform.clone()
    altered[..., 5 * SR + 2000 :] = torch.randn_like(altered[..., 5 * SR + 2000 :]) * 0.1
    first = embedding(waveform, masks=mask)
    second = embedding(altered, masks=mask)
    assert np.allclose(first, second, atol=1e-5)
    assert not np.allclose(first, embedding(waveform, masks=torch.ones(1, 589)), atol=1e-2)


def test_too_short_or_empty_masks_give_nan_rows(embedding, sample):
    import torch

    audio, _ = sample
    waveform = _chunk(audio, 5.0).repeat(3, 1, 1)
    masks = torch.zeros(3, 589)
    masks[0, :100] = 1.0  # ~1.7 s: embedded
    masks[1, :20] = 1.0  # ~0.34 s: too short
    out = embedding(waveform, masks=masks)
    assert out.shape == (3, 192)
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all() and np.isnan(out[2]).all()


def test_batched_rows_equal_rows_embedded_alone(embedding, sample):
    import torch

    audio, _ = sample
    waveform = torch.cat([_chunk(audio, 0.0), _chunk(audio, 10.0), _chunk(audio, 20.0)])
    masks = torch.zeros(3, 589)
    masks[0, :400], masks[1, 100:250], masks[2, :] = 1.0, 1.0, 1.0
    together = embedding(waveform, masks=masks)
    alone = np.vstack([embedding(waveform[i : i + 1], masks=masks[i : i + 1]) for i in range(3)])
    assert np.allclose(together, alone, atol=1e-4)


def test_same_speaker_is_closer_than_the_other_speaker(embedding, sample):
    import torch

    audio, ref = sample
    spans = {}
    for s, e, k in solo_spans(ref, min_s=1.5):
        spans.setdefault(k, []).append(torch.from_numpy(audio[int(s * SR) : int(e * SR)].copy())[None, None])
    (a1, a2, *_), (b1, *_) = spans.values()
    vectors = {name: embedding(x)[0] for name, x in (("a1", a1), ("a2", a2), ("b1", b1))}

    def cos(u, v):
        return float(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v))

    assert cos(vectors["a1"], vectors["a2"]) > cos(vectors["a1"], vectors["b1"]) + 0.1


def test_pyannote_get_embeddings_accepts_the_adapter(reference, sample):
    """pyannote's own get_embeddings drives the adapter: one row per (chunk, local speaker), NaN for
    a speaker that never speaks in a chunk."""
    import torch
    from pyannote.core import SlidingWindow, SlidingWindowFeature

    audio, _ = sample
    binary = np.zeros((2, 589, 3), np.float32)
    binary[0, :300, 0] = binary[0, 300:, 1] = binary[1, :, 0] = 1.0
    segmentations = SlidingWindowFeature(binary, SlidingWindow(start=0.0, duration=10.0, step=5.0))
    file = {"waveform": torch.from_numpy(audio)[None], "sample_rate": SR, "uri": "sample"}
    embeddings = reference.get_embeddings(file, segmentations)
    assert embeddings.shape == (2, 3, 192)
    assert np.isfinite(embeddings[0, :2]).all() and np.isfinite(embeddings[1, 0]).all()
    assert np.isnan(embeddings[0, 2]).all() and np.isnan(embeddings[1, 1:]).all()


# --- the lean pipeline against pyannote.audio's own -------------------------------------------


@pytest.fixture(scope="module")
def reference(diarizer):
    from tests.support.pyannote_reference import reference_pipeline

    pytest.importorskip("pyannote.audio")
    return reference_pipeline(diarizer._config.segmentation, diarizer.pipeline().embedding, diarizer._config)


def test_segmentation_model_equals_pyannotes_pyannet(diarizer, sample):
    import torch
    from pyannote.audio import Model
    from pyannote.audio.utils.powerset import Powerset

    audio, _ = sample
    chunks = torch.stack([torch.from_numpy(audio[i * SR : (i + 10) * SR].copy()) for i in (0, 7, 20)])[:, None]
    ours = diarizer.pipeline().segmentation
    theirs = Model.from_pretrained(str(diarizer._config.segmentation)).eval()
    with torch.inference_mode():
        expected = Powerset(3, 2)(theirs(chunks))
        assert torch.equal(ours(chunks), expected)
    frames = theirs.receptive_field
    assert (ours.frames.start, ours.frames.duration, ours.frames.step) == (frames.start, frames.duration, frames.step)


def _as_tuples(annotation):
    return sorted(
        (s.start, s.end, int(label.rsplit("_", 1)[1])) for s, _, label in annotation.itertracks(yield_label=True)
    )


def _same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(sorted(ours), theirs, strict=True):
        assert a[2] == b[2] and a[0] == pytest.approx(b[0], abs=1e-6) and a[1] == pytest.approx(b[1], abs=1e-6)


@pytest.mark.parametrize(
    ("clip", "hint"), [("sample", {}), ("sample", {"num_speakers": 3}), ("ami_en2002a_184s", {"max_speakers": 2})]
)
def test_pipeline_turns_equal_pyannotes_pipeline(diarizer, reference, sample, clip, hint):
    import torch

    from engines.diarization.neural_pipeline import NeuralPipeline

    if clip == "sample":
        audio = sample[0]
    else:
        root = dev_data_dir()
        if root is None or not (root / "diarization" / f"{clip}.wav").is_file():
            pytest.skip("shared dev recordings not found (set VOICE_API_DEV_DATA)")
        audio, _ = read_wav(root / "diarization" / f"{clip}.wav")
    # pyannote's algorithm, so without the engine's own steps: cutting tracks whose halves belong to
    # different clusters, the count's rounding offset, the shortest turn kept (pyannote 4 has no
    # min_duration_on) and new speakers from outlying local speakers
    # (tests/unit/test_neural_diarization_logic.py tests all four)
    pipeline = diarizer.pipeline()
    clustering = dataclasses.replace(pipeline.params.clustering, outlier_distance=math.inf)
    params = dataclasses.replace(
        pipeline.params, split_distance=math.inf, count_bias=None, min_duration_on=0.0, clustering=clustering
    )
    pyannotes = NeuralPipeline(pipeline.segmentation, pipeline.embedding, params)
    ours = pyannotes(audio, **hint)
    theirs = reference({"waveform": torch.from_numpy(audio)[None], "sample_rate": SR}, **hint)
    _same(ours.turns, _as_tuples(theirs.speaker_diarization))
    _same(ours.exclusive, _as_tuples(theirs.exclusive_speaker_diarization))
    assert len({k for *_, k in ours.turns}) >= 2


def test_the_engine_never_imports_pyannote_audio_or_lightning():
    """The reason for the copy: a worker that diarizes must not pay for lightning's imports."""
    import subprocess
    import sys

    _models()
    code = (
        "import sys, numpy as np\n"
        "from engines.diarization.neural import NeuralDiarizer, NeuralDiarizerConfig\n"
        "from engines.types import DiarizationRequest\n"
        "from model_store import neural_diarization\n"
        "m = neural_diarization.package_models()\n"
        "d = NeuralDiarizer(NeuralDiarizerConfig(segmentation=m.segmentation, embedding=m.embedding))\n"
        "noise = (0.05 * np.random.default_rng(0).standard_normal(16000 * 12)).astype(np.float32)\n"
        "d.diarize_full(DiarizationRequest(audio=noise))\n"
        "heavy = ('lightning', 'pyannote.audio', 'torchmetrics', 'asteroid_filterbanks')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr[-2000:]
