"""pyannote adapter against a tiny random-weight pipeline built on disk: real loading code, no network.

Random weights make the turns meaningless, so these tests check the contract, not quality.
"""

from __future__ import annotations

import os
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

os.environ["PYANNOTE_METRICS_ENABLED"] = "false"  # before pyannote is imported: no telemetry
pytest.importorskip("pyannote.audio")

from engines.diarization.pyannote_engine import (  # noqa: E402
    PyannoteConfig,
    PyannoteDiarizer,
    _to_turns,
    is_pipeline_dir,
    pipeline_dir_problems,
)
from engines.types import (  # noqa: E402
    SAMPLE_RATE,
    DiarizationRequest,
    EngineUnavailable,
    InvalidSpeakerCount,
    SpeakerTurn,
)
from tests.fixtures.tiny_pyannote import CONFIG_YAML, build_tiny_pyannote_pipeline  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning"),
    pytest.mark.usefixtures("one_torch_thread"),  # tests/conftest.py says why
]


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    return build_tiny_pyannote_pipeline(tmp_path_factory.mktemp("tiny-pyannote"))


@pytest.fixture(scope="module")
def no_hub():
    """Any attempt to reach the Hugging Face hub fails the test instead of downloading."""
    import pyannote.audio.utils.hf_hub as hf_hub

    def refuse(*args, **kwargs):
        raise AssertionError(f"pyannote tried to download {args} {kwargs}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(hf_hub, "hf_hub_download", refuse)
        yield


@pytest.fixture(scope="module")
def diarizer(pipeline_dir, no_hub) -> PyannoteDiarizer:
    engine = PyannoteDiarizer(PyannoteConfig(pipeline_dir=pipeline_dir))
    engine.pipeline()  # load now, under no_hub
    return engine


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    import pyannote.audio

    path = Path(pyannote.audio.__file__).parent / "sample" / "sample.wav"
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, SAMPLE_RATE)
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def assert_contract(turns: list[SpeakerTurn], duration: float) -> None:
    assert all(isinstance(t, SpeakerTurn) for t in turns)
    assert [t.start for t in turns] == sorted(t.start for t in turns)
    for t in turns:
        assert 0.0 <= t.start < t.end <= duration + 1e-6
    first_seen = list(dict.fromkeys(t.speaker for t in turns))
    assert first_seen == [f"SPEAKER_{i:02d}" for i in range(len(first_seen))]


def test_is_pipeline_dir(pipeline_dir: Path, tmp_path: Path) -> None:
    assert is_pipeline_dir(pipeline_dir)
    assert not is_pipeline_dir(tmp_path)
    hub_ref = tmp_path / "hub-ref"
    hub_ref.mkdir()
    config = CONFIG_YAML.replace("$model/embedding", "pyannote/wespeaker-voxceleb-resnet34-LM")
    (hub_ref / "config.yaml").write_text(config)
    problems = pipeline_dir_problems(hub_ref)
    assert any("embedding" in p and "not a local path" in p for p in problems)
    assert any("segmentation" in p and "missing" in p for p in problems)


def test_missing_config_is_unavailable(tmp_path: Path) -> None:
    engine = PyannoteDiarizer(PyannoteConfig(pipeline_dir=tmp_path))
    with pytest.raises(EngineUnavailable, match="config.yaml"):
        engine.diarize(DiarizationRequest(audio=np.ones(SAMPLE_RATE, np.float32) * 0.1))


def test_hub_reference_is_unavailable_without_download(pipeline_dir: Path, tmp_path: Path, no_hub) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG_YAML.replace("plda: $model/plda\n", ""))
    for sub in ("segmentation", "embedding"):
        (tmp_path / sub).symlink_to(pipeline_dir / sub)
    engine = PyannoteDiarizer(PyannoteConfig(pipeline_dir=tmp_path))
    with pytest.raises(EngineUnavailable, match="plda"):
        engine.pipeline()


def test_diarize_sample(diarizer: PyannoteDiarizer, sample: np.ndarray) -> None:
    calls: list[tuple[float, float]] = []
    turns = diarizer.diarize(DiarizationRequest(audio=sample), progress=lambda c, t: calls.append((c, t)))
    duration = sample.size / SAMPLE_RATE
    assert turns, "random weights still mark speech on real audio"
    assert_contract(turns, duration)
    assert len(calls) >= 3  # intermediate steps, not just the final call
    assert all(t == pytest.approx(duration) for _, t in calls)
    done = [c for c, _ in calls]
    assert done == sorted(done) and done[-1] == pytest.approx(duration)


def test_pipeline_runs_on_the_diarizers_own_torch_thread(diarizer: PyannoteDiarizer, sample: np.ndarray) -> None:
    # pyannote calls the progress hook from inside the pipeline, so every report but the adapter's
    # final 100% says which thread the run is on.
    threads: list[str] = []
    request = DiarizationRequest(audio=sample[: 6 * SAMPLE_RATE])
    diarizer.diarize(request, lambda done, total: threads.append(threading.current_thread().name))
    assert len(threads) >= 2 and threads[-1] == threading.current_thread().name
    assert all(name.startswith("pyannote-diarizer") for name in threads[:-1])


def test_num_speakers_is_passed_through(diarizer: PyannoteDiarizer, sample: np.ndarray) -> None:
    turns = diarizer.diarize(DiarizationRequest(audio=sample[: 12 * SAMPLE_RATE], num_speakers=1))
    assert_contract(turns, 12.0)
    assert {t.speaker for t in turns} == {"SPEAKER_00"}


@pytest.mark.parametrize("samples", [0, 10, SAMPLE_RATE * 5])
def test_silence_and_tiny_clips_return_nothing(diarizer: PyannoteDiarizer, samples: int) -> None:
    calls: list[tuple[float, float]] = []
    request = DiarizationRequest(audio=np.zeros(samples, np.float32))
    assert diarizer.diarize(request, progress=lambda c, t: calls.append((c, t))) == []
    assert calls == ([(samples / SAMPLE_RATE, samples / SAMPLE_RATE)] if samples else [])


def test_quiet_noise_runs_the_pipeline(diarizer: PyannoteDiarizer) -> None:
    noise = (np.random.default_rng(0).standard_normal(3 * SAMPLE_RATE) * 1e-3).astype(np.float32)
    assert_contract(diarizer.diarize(DiarizationRequest(audio=noise)), 3.0)


def test_invalid_speaker_counts(diarizer: PyannoteDiarizer, sample: np.ndarray) -> None:
    with pytest.raises(InvalidSpeakerCount):
        diarizer.diarize(DiarizationRequest(audio=sample, min_speakers=3, max_speakers=2))
    with pytest.raises(InvalidSpeakerCount):
        diarizer.diarize(DiarizationRequest(audio=sample, num_speakers=0))


def test_output_conversion() -> None:
    from pyannote.audio.pipelines.speaker_diarization import DiarizeOutput
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    annotation[Segment(5.0, 7.0)] = "SPEAKER_00"
    annotation[Segment(1.0, 3.0)] = "SPEAKER_01"
    annotation[Segment(6.5, 12.0)] = "SPEAKER_01"  # overlaps, and spills past the 10 s of audio
    expected = [
        SpeakerTurn(1.0, 3.0, "SPEAKER_00"),
        SpeakerTurn(5.0, 7.0, "SPEAKER_01"),
        SpeakerTurn(6.5, 10.0, "SPEAKER_00"),
    ]
    assert _to_turns(annotation, 10.0, exclusive=False) == expected  # legacy pipelines
    output = DiarizeOutput(speaker_diarization=annotation, exclusive_speaker_diarization=Annotation())
    assert _to_turns(output, 10.0, exclusive=False) == expected
    assert _to_turns(output, 10.0, exclusive=True) == []


def test_concurrent_first_use_loads_once(pipeline_dir: Path, no_hub, monkeypatch) -> None:
    from pyannote.audio import Pipeline

    loads: list[Path] = []
    original = Pipeline.from_pretrained.__func__

    def counting(cls, checkpoint, *args, **kwargs):
        loads.append(checkpoint)
        return original(cls, checkpoint, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "from_pretrained", classmethod(counting))
    engine = PyannoteDiarizer(PyannoteConfig(pipeline_dir=pipeline_dir))
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(engine.pipeline())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(results) == 3 and all(r is results[0] for r in results)
