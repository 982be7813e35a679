"""CAM++ speaker embeddings in the shape pyannote.audio's diarization pipeline expects.

pyannote's `SpeakerDiarization.get_embeddings` calls its embedding object as
`embedding(waveforms (B, 1, T), masks=(B, F))` and reads `sample_rate`, `dimension`, `metric` and
`min_num_samples` from it; rows of NaN mark (chunk, speaker) pairs with too little speech, which
its clustering then ignores. This class honours that contract for CAM++:

  mask upsampled to samples (nearest, > 0.5, as pyannote's own embeddings do) -> the kept samples
  -> 80-bin Kaldi fbank of int16-scaled audio (the features CAM++ was trained on) -> minus its
  time mean -> CAM++.

Batching: items of one call have different amounts of kept speech, and CAM++ has no padding mask
(its statistics pooling and context gates average over time). Each item is padded up to the next
multiple of `bucket_frames` by repeating its own frames, which leaves those averages nearly
unchanged (zero padding would not), and items of one padded length run together, at most
`max_batch_frames` frames per forward. Measured on 2 CPU cores: CAM++ costs ~11-15 ms per second
of audio at batch 1-4 x 10 s, but 16 x 10 s in one forward took 5x longer per second (activations
outgrow the caches), so batches are capped by frames, not items; and a few distinct lengths keep
oneDNN from preparing kernels for every new input shape. Memory: the 2-D convolution front end
holds 32 x 80 floats per frame and layer, so 4,000 frames per forward cost +400 MB of peak RSS
against +80-150 MB for 1,000 frames, at the same CPU time (the neural diarizer uses 1,000).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engines.diarization.campplus_model import CAMPPlus

SAMPLE_RATE = 16_000
FBANK_BINS = 80
EMBEDDING_DIM = 192
_FRAME_SHIFT = 160  # Kaldi fbank: 10 ms frames
_FRAME_LENGTH = 400  # 25 ms window


def load_campplus(weights: Path, device: torch.device | str = "cpu") -> CAMPPlus:
    """CAM++ with the published state dict; raises on a missing, truncated or mismatched file."""
    model = CAMPPlus(feat_dim=FBANK_BINS, embedding_size=EMBEDDING_DIM)
    state = torch.load(str(weights), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)


def fbank(samples: torch.Tensor) -> torch.Tensor:
    """(n,) float audio in [-1, 1] -> (frames, 80) mean-normalised log-mel features."""
    import torchaudio.compliance.kaldi as kaldi

    feats = kaldi.fbank(
        samples[None] * 32768, num_mel_bins=FBANK_BINS, sample_frequency=SAMPLE_RATE, dither=0.0, window_type="povey"
    )
    return feats - feats.mean(dim=0, keepdim=True)


class CamPlusEmbedding:
    """pyannote-compatible embedding object: `__call__(waveforms, masks) -> (B, 192)` numpy array."""

    sample_rate = SAMPLE_RATE
    dimension = EMBEDDING_DIM
    metric = "cosine"

    def __init__(
        self,
        model: CAMPPlus,
        min_speech_s: float = 0.5,
        bucket_frames: int = 50,
        max_batch_frames: int = 1000,
    ) -> None:
        self._model = model
        self.min_speech_s = min_speech_s
        self.bucket_frames = bucket_frames
        self.max_batch_frames = max_batch_frames
        self._lock = threading.Lock()  # one forward at a time: the model holds no per-call state, but
        # two CPU-bound forwards on the same cores only slow each other down

    @property
    def device(self) -> torch.device:
        return next(self._model.parameters()).device

    @property
    def min_num_samples(self) -> int:
        """Fewer kept samples than this give a NaN row (pyannote uses it with exclude_overlap)."""
        return int(self.min_speech_s * SAMPLE_RATE)

    def __call__(
        self,
        waveforms: torch.Tensor,
        masks: torch.Tensor | None = None,
        progress: Callable[[int], None] | None = None,
        halves: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """`progress(items done)` after each forward: one call of 32 x 10 s items took ~10 s of wall
        time on a loaded core, too long between two progress reports of a long job.

        halves: also (B, 2, D) embeddings of the first and the second half of each item's kept
        speech, pooled from the same forward (CAMPPlus.pool over each half of its frame features:
        no second pass; the halves' frames have still seen the whole item through the network's
        convolutions and context gates, so they differ less than two separate passes would).
        NaN where the whole is."""
        waveforms = torch.as_tensor(waveforms, dtype=torch.float32)
        batch, _, num_samples = waveforms.shape
        if masks is None:
            keep = torch.ones(batch, num_samples, dtype=torch.bool)
        else:
            masks = torch.nan_to_num(torch.as_tensor(masks, dtype=torch.float32), nan=0.0)
            keep = F.interpolate(masks[:, None], size=num_samples, mode="nearest")[:, 0] > 0.5
        out = np.full((batch, EMBEDDING_DIM), np.nan, dtype=np.float32)
        half_out = np.full((batch, 2, EMBEDDING_DIM), np.nan, dtype=np.float32) if halves else None
        feats: dict[int, torch.Tensor] = {}
        for b in range(batch):
            samples = waveforms[b, 0][keep[b]]
            if samples.numel() >= max(self.min_num_samples, _FRAME_LENGTH):
                feats[b] = fbank(samples)
        done = batch - len(feats)  # NaN rows: nothing to compute
        if feats:
            with self._lock, torch.inference_mode():
                for frames, group in _length_groups(feats, self.bucket_frames, self.max_batch_frames):
                    stacked = torch.stack([_repeat_to(feats[b], frames) for b in group]).to(self.device)
                    if half_out is None:
                        out[group] = self._model(stacked).float().cpu().numpy()
                    else:
                        features = self._model.frame_features(stacked)
                        out[group] = self._model.pool(features).float().cpu().numpy()
                        for i, b in enumerate(group):
                            real = -(-feats[b].shape[0] // 2)  # the item's own frames, before its repeats
                            middle = real // 2
                            if middle >= 2 and real - middle >= 2:
                                for h, part in enumerate((features[i, :, :middle], features[i, :, middle:real])):
                                    half_out[b, h] = self._model.pool(part[None])[0].float().cpu().numpy()
                    done += len(group)
                    if progress is not None:
                        progress(done)
        return out if half_out is None else (out, half_out)


def _length_groups(feats: dict[int, torch.Tensor], bucket: int, max_frames: int) -> list[tuple[int, list[int]]]:
    """(padded length, item indices) groups: lengths rounded up to a multiple of `bucket`, and at
    most `max_frames` frames per group (a single longer item still gets a group of its own)."""
    by_length: dict[int, list[int]] = {}
    for b, x in feats.items():
        by_length.setdefault(-(-x.shape[0] // bucket) * bucket, []).append(b)
    groups = []
    for frames, items in sorted(by_length.items()):
        per_group = max(1, max_frames // frames)
        groups += [(frames, items[i : i + per_group]) for i in range(0, len(items), per_group)]
    return groups


def _repeat_to(x: torch.Tensor, frames: int) -> torch.Tensor:
    if x.shape[0] == frames:
        return x
    reps = -(-frames // x.shape[0])
    return x.repeat(reps, 1)[:frames]
