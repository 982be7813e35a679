"""Built-in diarizer with its real bundled models (Silero VAD, Resemblyzer) on real speech.

sample.wav (shipped by pyannote.audio): 30 s of telephone speech, two women, reference turns in
sample.rttm. Quality figures live in scripts/bench_diarization.py; these tests pin the contract and
the behaviour the product relies on (two speakers found, one voice stays one speaker).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines.types import SAMPLE_RATE, DiarizationRequest, EngineError, SpeakerTurn

for _module in ("silero_vad", "resemblyzer", "onnxruntime", "scipy", "pyannote.audio"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} is not installed", allow_module_level=True)

from engines.diarization.builtin import BuiltinDiarizer, BuiltinDiarizerConfig  # noqa: E402

try:
    from tests.support.audio import read_wav, sample_wav
except ModuleNotFoundError:  # plain `pytest` does not put the repository root on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.support.audio import read_wav, sample_wav


def _reference() -> list[tuple[float, float, str]]:
    turns = []
    for line in (sample_wav().parent / "sample.rttm").read_text().splitlines():
        f = line.split()
        turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return turns


@pytest.fixture(scope="module")
def diarizer() -> BuiltinDiarizer:
    return BuiltinDiarizer()


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    audio, rate = read_wav(sample_wav())
    assert rate == SAMPLE_RATE
    return audio


@pytest.fixture(scope="module")
def sample_turns(diarizer, sample) -> list[SpeakerTurn]:
    return diarizer.diarize(DiarizationRequest(audio=sample))


def _speakers(turns: list[SpeakerTurn]) -> set[str]:
    return {t.speaker for t in turns}


def test_two_speakers_found_without_a_hint(sample_turns):
    assert _speakers(sample_turns) == {"SPEAKER_00", "SPEAKER_01"}


def test_turns_match_the_reference_roughly(sample_turns):
    # Frame-level agreement with the reference outside overlaps, under the best label mapping;
    # the bench measures DER properly (8.2% with collar 0.25 s at the time of writing).
    ref = _reference()
    grid = np.arange(0, 30, 0.01)

    def labels(turns):
        out = np.full(grid.size, "", dtype=object)
        for s, e, k in turns:
            out[(grid >= s) & (grid < e)] = np.where(out[(grid >= s) & (grid < e)] == "", k, "overlap")
        return out

    r = labels(ref)
    h = labels([(t.start, t.end, t.speaker) for t in sample_turns])
    scored = (r != "") & (r != "overlap") & (h != "")
    mapping = [
        {"speaker90": "SPEAKER_00", "speaker91": "SPEAKER_01"},
        {"speaker90": "SPEAKER_01", "speaker91": "SPEAKER_00"},
    ]
    agree = max(np.mean([m[x] == y for x, y in zip(r[scored], h[scored], strict=True)]) for m in mapping)
    assert agree > 0.85


def test_labels_numbered_in_order_of_first_appearance(sample_turns):
    seen: list[str] = []
    for turn in sample_turns:
        if turn.speaker not in seen:
            seen.append(turn.speaker)
    assert seen == [f"SPEAKER_{i:02d}" for i in range(len(seen))]


def test_turns_sorted_and_within_the_audio(sample_turns, sample):
    duration = sample.size / SAMPLE_RATE
    assert sample_turns
    assert all(0 <= t.start < t.end <= duration for t in sample_turns)
    assert [t.start for t in sample_turns] == sorted(t.start for t in sample_turns)
    # one label per frame: the engine does not emit overlapping turns
    assert all(a.end <= b.start for a, b in zip(sample_turns, sample_turns[1:], strict=False))


@pytest.mark.parametrize("speaker", ["speaker90", "speaker91"])
def test_one_voice_stays_one_speaker(diarizer, sample, speaker):
    # Every stretch where only this speaker talks, joined with short pauses (~12 s of speech):
    # the product rejects multi-speaker voice-clone references on this answer.
    ref = _reference()
    pieces = []
    for s, e, k in ref:
        if k != speaker:
            continue
        others = [(s2, e2) for s2, e2, k2 in ref if k2 != k and s2 < e and e2 > s]
        for s2, e2 in others:  # cut the overlapped part away
            s, e = (s, min(e, s2)) if s2 > s else (max(s, e2), e)
        if e - s > 0.4:
            pieces += [sample[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)], np.zeros(SAMPLE_RATE // 2, np.float32)]
    turns = diarizer.diarize(DiarizationRequest(audio=np.concatenate(pieces)))
    assert _speakers(turns) == {"SPEAKER_00"}


def test_num_speakers_is_honoured(diarizer, sample):
    short = sample[: 22 * SAMPLE_RATE]  # the engine alone finds one speaker in these 22 s
    assert len(_speakers(diarizer.diarize(DiarizationRequest(audio=short, num_speakers=2)))) == 2
    assert len(_speakers(diarizer.diarize(DiarizationRequest(audio=sample, num_speakers=1)))) == 1


def test_max_and_min_speakers_are_honoured(diarizer, sample):
    assert len(_speakers(diarizer.diarize(DiarizationRequest(audio=sample, max_speakers=1)))) == 1
    assert len(_speakers(diarizer.diarize(DiarizationRequest(audio=sample, min_speakers=3)))) == 3


def test_silence_gives_no_turns(diarizer):
    assert diarizer.diarize(DiarizationRequest(audio=np.zeros(5 * SAMPLE_RATE, np.float32))) == []
    assert diarizer.diarize(DiarizationRequest(audio=np.zeros(0, np.float32))) == []


def test_progress_reaches_the_end(diarizer, sample):
    calls: list[tuple[float, float]] = []
    diarizer.diarize(DiarizationRequest(audio=sample[: 10 * SAMPLE_RATE]), progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1] == 10.0
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.mark.parametrize("counts", [{"num_speakers": 0}, {"min_speakers": 3, "max_speakers": 2}])
def test_invalid_counts_rejected(diarizer, counts):
    with pytest.raises(EngineError) as info:
        diarizer.diarize(DiarizationRequest(audio=np.zeros(SAMPLE_RATE, np.float32), **counts))
    assert info.value.code == "invalid_speaker_count"


def test_import_is_light_and_config_has_defaults():
    # torch, onnxruntime and scipy are imported on first use, not with the module.
    code = (
        "import sys; import engines.diarization.builtin as b; b.BuiltinDiarizer(b.BuiltinDiarizerConfig()); "
        "print(sorted(m for m in ('torch', 'onnxruntime', 'scipy') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert BuiltinDiarizer.name == "builtin"


def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    from engines.diarization.features import _slaney_mel_filterbank

    expected = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=400, n_mels=40)
    np.testing.assert_allclose(_slaney_mel_filterbank(), expected, rtol=1e-5, atol=1e-7)


def test_torch_thread_setting_does_not_leak(sample):
    import torch

    before = torch.get_num_threads()
    BuiltinDiarizer(BuiltinDiarizerConfig(torch_threads=1)).diarize(DiarizationRequest(audio=sample[: 8 * SAMPLE_RATE]))
    assert torch.get_num_threads() == before
