"""pyannote.audio 4.x speaker-diarization adapter, for pipelines the operator copies in by hand.

What to copy into the model store (one directory per pipeline), e.g. from
pyannote/speaker-diarization-community-1::

    <pipeline_dir>/
      config.yaml                      # pipeline.name: pyannote.audio.pipelines.SpeakerDiarization
      segmentation/pytorch_model.bin   # referenced in config.yaml as  segmentation: $model/segmentation
      embedding/pytorch_model.bin      #                               embedding: $model/embedding
      plda/xvec_transform.npz          #                               plda: $model/plda
      plda/plda.npz

community-1's repository already has this layout and its config.yaml already uses the
``$model/<subfolder>`` form, so a plain copy of the repository works. Older pipelines
(speaker-diarization-3.1) name their models by hub id (``pyannote/segmentation-3.0``,
``pyannote/wespeaker-voxceleb-resnet34-LM``) and have no PLDA: copy each model's
``pytorch_model.bin`` into a subfolder, rewrite those entries as ``$model/<subfolder>``, and add
``plda: $model/plda`` with the plda/ folder from community-1 (pyannote 4 loads a PLDA even for
AgglomerativeClustering). Every reference must resolve to local files: an entry that is missing
or names a hub id would make pyannote download it, so such a directory is reported as unavailable
instead of being loaded.

Weights are gated on the Hugging Face hub (accept the conditions on the model page first) and
licensed by their authors: community-1 is CC-BY-4.0 (attribution required); 3.1 and
segmentation-3.0 are MIT, and the WeSpeaker embedding 3.1 uses carries its own licence. Check the
model card of whatever you copy before deploying it.

Reference models as ``$model/<subfolder>`` rather than by absolute path: pyannote picks the
embedding backend from the reference string (a path containing "wespeaker" but not "pyannote"
is treated as an ONNX model).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.torch_thread import TorchThread
from engines.types import (
    SAMPLE_RATE,
    DiarizationRequest,
    EngineUnavailable,
    ProgressCallback,
    SpeakerTurn,
)

CONFIG_FILE = "config.yaml"
# Files pyannote 4 reads for each "$model/<subfolder>" reference, by pipeline parameter.
_REQUIRED_FILES = {
    "segmentation": ("pytorch_model.bin",),
    "embedding": ("pytorch_model.bin",),
    "plda": ("xvec_transform.npz", "plda.npz"),
}
# Shorter clips cannot hold a speaker turn, and pyannote rejects an empty waveform outright.
MIN_SAMPLES = SAMPLE_RATE // 10
# Peak below -80 dBFS is digital silence: skip the pipeline (and its random behaviour on it).
SILENCE_PEAK = 1e-4
# Share of overall progress each pyannote step covers; embeddings dominate the run time.
_STEP_SPAN = {
    "segmentation": (0.0, 0.2),
    "speaker_counting": (0.2, 0.22),
    "embeddings": (0.22, 0.95),
    "discrete_diarization": (0.95, 0.98),
}


@dataclass(frozen=True)
class PyannoteConfig:
    pipeline_dir: Path
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", "auto"
    exclusive: bool = False  # True: pyannote's overlap-free variant, easier to align with transcripts
    # torch threads for the run, on the diarizer's own thread (engines/torch_thread.py says why: two
    # OpenMP threads on two shared cores measured 18x the CPU of one). 0: the calling thread, torch's
    # own setting.
    torch_threads: int = 1


def _reference_problem(pipeline_dir: Path, key: str, value: Any) -> str | None:
    if value is None:
        return f"config.yaml names no {key}; pyannote would download its default from the hub"
    if isinstance(value, str) and value.startswith("$model/"):
        subfolder = pipeline_dir / value.removeprefix("$model/").split("@")[0]
        missing = [name for name in _REQUIRED_FILES[key] if not (subfolder / name).is_file()]
        return f"{key}: missing {', '.join(str(subfolder / m) for m in missing)}" if missing else None
    checkpoint = value.get("checkpoint") if isinstance(value, dict) else value
    if isinstance(checkpoint, str | Path) and os.path.exists(checkpoint):
        return None
    return f"{key}: {value!r} is not a local path (hub ids would be downloaded); use $model/<subfolder>"


def pipeline_dir_problems(path: Path | str) -> list[str]:
    """Why `path` cannot be loaded offline, without importing pyannote; [] when it looks usable."""
    path = Path(path)
    config_file = path / CONFIG_FILE
    if not config_file.is_file():
        return [f"{config_file} not found"]
    try:
        import yaml
    except ImportError:  # pyannote depends on PyYAML, so without it loading fails anyway
        return ["PyYAML is not installed"]
    try:
        config = yaml.safe_load(config_file.read_text()) or {}
        pipeline = config["pipeline"]
        params = pipeline.get("params") or {}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        return [f"{config_file} is not a pyannote pipeline config ({exc!r})"]
    if not str(pipeline.get("name", "")).endswith("SpeakerDiarization"):
        return [f"{config_file} describes {pipeline.get('name')!r}, not a SpeakerDiarization pipeline"]
    problems = [_reference_problem(path, key, params.get(key)) for key in _REQUIRED_FILES]
    if params.get("clustering") == "OracleClustering":  # needs reference annotations, not audio
        problems.append("OracleClustering cannot diarize unannotated audio")
    return [p for p in problems if p]


def is_pipeline_dir(path: Path | str) -> bool:
    """Cheap check for health reports: config.yaml present and every model it names is on disk."""
    return not pipeline_dir_problems(path)


class _Progress:
    """Folds pyannote's per-step hook calls into one monotonic progress(completed, total) in seconds."""

    def __init__(self, progress: ProgressCallback | None, duration: float) -> None:
        self._progress = progress
        self._duration = duration
        self._done = 0.0

    def report(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        # a zero total would make the task layer divide by zero; empty audio reports nothing
        if self._progress is not None and self._duration > 0 and fraction > self._done:
            self._done = fraction
            self._progress(fraction * self._duration, self._duration)

    def hook(
        self,
        step_name: str,
        step_artefact: Any = None,
        file: Any = None,
        total: int | None = None,
        completed: int | None = None,
    ) -> None:
        if step_name not in _STEP_SPAN:
            return
        start, end = _STEP_SPAN[step_name]
        if total and completed is not None:  # pyannote's last batch can overshoot the total
            self.report(start + (end - start) * min(completed / total, 1.0))
        elif completed is None:  # called once more with the artefact when the step is over
            self.report(end)


def _to_turns(output: Any, duration: float, exclusive: bool) -> list[SpeakerTurn]:
    # pyannote 4 returns DiarizeOutput; 3.x pipelines and legacy=True return the Annotation itself.
    if hasattr(output, "itertracks"):
        annotation = output
    else:
        annotation = output.exclusive_speaker_diarization if exclusive else output.speaker_diarization
    tracks = []
    for segment, _, label in annotation.itertracks(yield_label=True):
        # chunks are zero-padded past the end of the audio, so turns may spill over it
        start, end = round(max(segment.start, 0.0), 3), round(min(segment.end, duration), 3)
        if end > start:
            tracks.append((start, end, label))
    tracks.sort(key=lambda t: (t[0], t[1]))
    names: dict[Any, str] = {}
    return [SpeakerTurn(s, e, names.setdefault(label, f"SPEAKER_{len(names):02d}")) for s, e, label in tracks]


class PyannoteDiarizer:
    name = "pyannote"

    def __init__(self, config: PyannoteConfig) -> None:
        self._config = config
        self._pipeline: Any = None
        self._load_lock = threading.Lock()
        # pyannote pipelines are not documented as re-entrant (they toggle global torch flags per
        # call), and two CPU-bound runs on the same cores only slow each other down.
        self._run_lock = threading.Lock()
        self._torch = TorchThread(config.torch_threads, "pyannote-diarizer")

    def _device(self):
        import torch

        device = self._config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.device(device)

    def _load(self) -> Any:
        pipeline_dir = Path(self._config.pipeline_dir)
        problems = pipeline_dir_problems(pipeline_dir)
        if problems:
            raise EngineUnavailable(f"pyannote pipeline at {pipeline_dir} unusable: " + "; ".join(problems))
        # pyannote 4 sends usage telemetry unless told otherwise; a self-hosted server must not.
        os.environ["PYANNOTE_METRICS_ENABLED"] = "false"
        try:
            from pyannote.audio import Pipeline
        except ImportError as exc:
            raise EngineUnavailable("pyannote.audio is not installed (pip install pyannote.audio)") from exc
        try:
            pipeline = Pipeline.from_pretrained(pipeline_dir)
            if pipeline is None:
                raise RuntimeError("Pipeline.from_pretrained returned None")
            # inside the try: asking for CUDA on a CPU-only torch fails here, not at config time
            return pipeline.to(self._device())
        except Exception as exc:  # corrupt/incompatible checkpoints surface as many exception types
            raise EngineUnavailable(f"cannot load pyannote pipeline from {pipeline_dir}: {exc}") from exc

    def pipeline(self) -> Any:
        """The loaded pyannote pipeline (loaded on first call, once, whichever thread asks)."""
        if self._pipeline is None:
            with self._load_lock:
                if self._pipeline is None:
                    self._pipeline = self._load()
        return self._pipeline

    def diarize(self, request: DiarizationRequest, progress: ProgressCallback | None = None) -> list[SpeakerTurn]:
        request.check_counts()
        audio = np.ascontiguousarray(request.audio, dtype=np.float32).reshape(-1)
        duration = audio.size / SAMPLE_RATE
        tracker = _Progress(progress, duration)
        if audio.size < MIN_SAMPLES or np.abs(audio).max() < SILENCE_PEAK:
            tracker.report(1.0)
            return []
        pipeline = self.pipeline()
        import torch

        with self._run_lock:
            output = self._torch.run(
                pipeline,
                {"waveform": torch.from_numpy(audio)[None], "sample_rate": SAMPLE_RATE},
                num_speakers=request.num_speakers,
                min_speakers=request.min_speakers,
                max_speakers=request.max_speakers,
                hook=tracker.hook,
            )
        turns = _to_turns(output, duration, self._config.exclusive)
        tracker.report(1.0)
        return turns
