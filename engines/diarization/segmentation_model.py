"""pyannote segmentation-3.0 as a plain torch module, loaded from its checkpoint without pyannote.audio.

Why not `pyannote.audio.Model.from_pretrained`: every pyannote.audio import runs its package
`__init__`, which imports `lightning` (and through it torchmetrics, sympy, torch._dynamo, scipy,
matplotlib, transformers...): ~390 MB of resident memory in the worker before any audio, measured
(docs/benchmarks.md, issue 11), for a 1.5 M-parameter network. This module is PyanNet's inference
path from pyannote.audio 4.0.7 (MIT, CNRS / pyannoteAI): SincNet, with asteroid-filterbanks 0.4's
parametric sinc filters (MIT, 40 lines, copied too), a 4-layer BiLSTM, two linear layers and the
powerset classifier, under the same module names, so the published state dict loads with
`strict=True`. tests/engines/test_diarization_neural.py checks its output against pyannote's own
PyanNet on real speech.

The checkpoint is a Lightning checkpoint that pickles three small pyannote classes (the task's
Specifications, Problem and Resolution); they are mapped to the stand-ins below for torch's
`weights_only` unpickler, so loading executes no code from the file and imports nothing of pyannote.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

SAMPLE_RATE = 16_000
# SincNet's conv/pool stack (kernel, stride); receptive field arithmetic as pyannote's.
_SINCNET_STRIDE = 10
_KERNELS = (251, 3, 5, 3, 5, 3)
_STRIDES = (_SINCNET_STRIDE, 3, 1, 3, 1, 3)


class _Problem(enum.Enum):  # pyannote.audio.core.task.Problem
    BINARY_CLASSIFICATION = 0
    MONO_LABEL_CLASSIFICATION = 1
    MULTI_LABEL_CLASSIFICATION = 2
    REPRESENTATION = 3
    REGRESSION = 4


class _Resolution(enum.Enum):  # pyannote.audio.core.task.Resolution
    FRAME = 1
    CHUNK = 2


class _Specifications:  # pyannote.audio.core.task.Specifications: only its attributes are read
    duration: float
    classes: list[str]
    powerset: bool
    powerset_max_classes: int


_STAND_INS = [
    (_Specifications, "pyannote.audio.core.task.Specifications"),
    (_Problem, "pyannote.audio.core.task.Problem"),
    (_Resolution, "pyannote.audio.core.task.Resolution"),
]


@dataclass(frozen=True)
class Frames:
    """The model's output frames in seconds (pyannote's `Model.receptive_field` SlidingWindow)."""

    start: float
    duration: float
    step: float


class _ParamSincFB(nn.Module):
    """asteroid_filterbanks.ParamSincFB(80, 251, min_low_hz=50, min_band_hz=50): 40 band-pass
    pairs (cosine and sine) from learnt low/band cut-offs. Its tensors are all in the state dict."""

    def __init__(self, n_filters: int = 80, kernel_size: int = 251, min_low_hz: float = 50, min_band_hz: float = 50):
        super().__init__()
        self.min_low_hz, self.min_band_hz = min_low_hz, min_band_hz
        self.n_filters, self.kernel_size = n_filters, kernel_size
        half = kernel_size // 2
        self.low_hz_ = nn.Parameter(torch.zeros(n_filters // 2, 1))
        self.band_hz_ = nn.Parameter(torch.zeros(n_filters // 2, 1))
        self.register_buffer("window_", torch.zeros(half))
        self.register_buffer("n_", torch.zeros(1, half))

    def filters(self) -> torch.Tensor:
        low = self.min_low_hz + torch.abs(self.low_hz_)
        high = torch.clamp(low + self.min_band_hz + torch.abs(self.band_hz_), self.min_low_hz, SAMPLE_RATE / 2)
        band = (high - low)[:, 0]
        ft_low, ft_high = low @ self.n_, high @ self.n_
        cos_left = ((torch.sin(ft_high) - torch.sin(ft_low)) / (self.n_ / 2)) * self.window_
        cos = torch.cat([cos_left, 2 * band.view(-1, 1), torch.flip(cos_left, dims=[1])], dim=1)
        sin_left = ((torch.cos(ft_low) - torch.cos(ft_high)) / (self.n_ / 2)) * self.window_
        sin = torch.cat([sin_left, torch.zeros_like(band.view(-1, 1)), -torch.flip(sin_left, dims=[1])], dim=1)
        shape = (self.n_filters // 2, 1, self.kernel_size)
        return torch.cat([(cos / (2 * band[:, None])).view(shape), (sin / (2 * band[:, None])).view(shape)], dim=0)


class _SincEncoder(nn.Module):  # asteroid_filterbanks.Encoder: the filterbank as a strided conv1d
    def __init__(self) -> None:
        super().__init__()
        self.filterbank = _ParamSincFB()

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return F.conv1d(waveforms, self.filterbank.filters(), stride=_SINCNET_STRIDE)


class _SincNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
        self.conv1d = nn.ModuleList(
            [
                _SincEncoder(),
                nn.Conv1d(80, 60, 5, stride=1),
                nn.Conv1d(60, 60, 5, stride=1),
            ]
        )
        self.pool1d = nn.ModuleList([nn.MaxPool1d(3, stride=3) for _ in range(3)])
        self.norm1d = nn.ModuleList([nn.InstanceNorm1d(n, affine=True) for n in (80, 60, 60)])

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        outputs = self.wav_norm1d(waveforms)
        for c, (conv1d, pool1d, norm1d) in enumerate(zip(self.conv1d, self.pool1d, self.norm1d, strict=True)):
            outputs = conv1d(outputs)
            if c == 0:
                outputs = torch.abs(outputs)
            outputs = F.leaky_relu(norm1d(pool1d(outputs)))
        return outputs


class SegmentationModel(nn.Module):
    """(chunks, 1, samples) of 16 kHz audio -> (chunks, frames, speakers) hard 0/1 activity, as
    pyannote's Inference returns for a powerset model (argmax class, mapped to its speaker set)."""

    def __init__(self, hparams: dict, duration: float, num_classes: int, max_set_size: int) -> None:
        super().__init__()
        lstm, linear = hparams["lstm"], hparams["linear"]
        if not lstm.get("monolithic", True) or not lstm.get("bidirectional", True):
            raise ValueError("only the monolithic bidirectional PyanNet of segmentation-3.0 is supported")
        self.duration = float(duration)
        self.sincnet = _SincNet()
        self.lstm = nn.LSTM(
            60, hidden_size=lstm["hidden_size"], num_layers=lstm["num_layers"], bidirectional=True, batch_first=True
        )
        sizes = [2 * lstm["hidden_size"]] + [linear["hidden_size"]] * linear["num_layers"]
        self.linear = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        sets = [s for size in range(max_set_size + 1) for s in combinations(range(num_classes), size)]
        mapping = torch.zeros(len(sets), num_classes)
        for k, members in enumerate(sets):
            mapping[k, list(members)] = 1.0
        self.register_buffer("mapping", mapping, persistent=False)
        self.classifier = nn.Linear(sizes[-1], len(sets))
        self.num_speakers = num_classes

    @property
    def frames(self) -> Frames:
        size = _receptive_field_size(1)
        step = _receptive_field_size(2) - size
        start = _receptive_field_center(0) - (size - 1) / 2
        return Frames(start / SAMPLE_RATE, size / SAMPLE_RATE, step / SAMPLE_RATE)

    def forward(self, waveforms: torch.Tensor, speech_bias: float = 0.0, overlap_bias: float = 0.0) -> torch.Tensor:
        return self.binarize(self.logits(waveforms), speech_bias, overlap_bias)

    def logits(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(chunks, frames, powerset classes) raw classifier outputs; class 0 is silence."""
        outputs = self.sincnet(waveforms).transpose(1, 2)  # batch, frame, feature
        outputs, _ = self.lstm(outputs)
        for layer in self.linear:
            outputs = F.leaky_relu(layer(outputs))
        return self.classifier(outputs)

    def binarize(self, logits: torch.Tensor, speech_bias: float = 0.0, overlap_bias: float = 0.0) -> torch.Tensor:
        """The argmax powerset class per frame, as its speakers' 0/1 activity. `speech_bias` is
        added to every non-silent class's logit first: a detection threshold for a powerset model
        (log-softmax shifts every class alike, so adding b is scaling silence's odds by e^-b; 0 is
        pyannote's plain argmax, > 0 detects quieter speech). `overlap_bias` is added to the classes
        of two or more speakers on top of it (> 0 favours overlap over a single speaker)."""
        if speech_bias or overlap_bias:
            sizes = self.mapping.sum(dim=1)
            logits = logits + speech_bias * (sizes > 0) + overlap_bias * (sizes > 1)
        one_hot = F.one_hot(torch.argmax(logits, dim=-1), self.mapping.shape[0]).float()
        return one_hot @ self.mapping


def load_segmentation(path: Path | str, device: torch.device | str = "cpu") -> SegmentationModel:
    """segmentation-3.0's pytorch_model.bin -> SegmentationModel; raises on a missing, truncated or
    mismatched file (a wrong architecture fails `strict` loading)."""
    with torch.serialization.safe_globals([*_STAND_INS, torch.torch_version.TorchVersion]):
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
    specs = checkpoint["pyannote.audio"]["specifications"]
    if not getattr(specs, "powerset", False):
        raise ValueError(f"{path}: not a powerset segmentation model")
    hparams = checkpoint["hyper_parameters"]
    if hparams.get("sample_rate", SAMPLE_RATE) != SAMPLE_RATE or hparams.get("sincnet", {}).get("stride") != 10:
        raise ValueError(f"{path}: unexpected SincNet configuration {hparams.get('sincnet')}")
    model = SegmentationModel(hparams, specs.duration, len(specs.classes), specs.powerset_max_classes)
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    return model.eval().to(device)


def _receptive_field_size(num_frames: int) -> int:
    size = num_frames
    for kernel, stride in reversed(list(zip(_KERNELS, _STRIDES, strict=True))):
        size = kernel + (size - 1) * stride
    return size


def _receptive_field_center(frame: int) -> int:
    center = frame
    for kernel, stride in reversed(list(zip(_KERNELS, _STRIDES, strict=True))):
        center = center * stride + (kernel - 1) // 2
    return center


def num_frames(num_samples: int) -> int:
    """Output frames for a chunk of `num_samples` (SincNet's convolutions and pools, no padding)."""
    frames = num_samples
    for kernel, stride in zip(_KERNELS, _STRIDES, strict=True):
        frames = 1 + (frames - kernel) // stride
    return frames
