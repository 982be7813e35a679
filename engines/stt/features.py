"""Whisper's log-mel features, computed a block of frames at a time: the same numbers, less memory.

faster-whisper's FeatureExtractor takes the STFT of its whole input at once: for one 300 s window
(the engine's sequential windows) that is 30,000 frames x 400 windowed samples, their complex
spectrum, its complex64 copy and the squared magnitudes, about 270 MB of transient buffers (+273 MB
of peak RSS measured for one call), which long jobs pay next to the diarizer's own. Frames are
independent, so this computes them `block_frames` at a time into the output array; only the final
clamp to (max - 8) needs every frame, and it runs in place at the end. The output is identical to
faster-whisper's (tests/engines/test_stt_features.py compares them).
"""

from __future__ import annotations

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor


class BlockFeatureExtractor(FeatureExtractor):
    block_frames = 3000  # 30 s of frames per STFT block: ~27 MB of transients

    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        if chunk_length is not None:
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
        if padding:
            waveform = np.pad(waveform, (0, padding))
        n_fft, hop = self.n_fft, self.hop_length
        # FeatureExtractor.stft's centring: reflect-pad n_fft // 2 on both sides
        padded = np.pad(waveform, (n_fft // 2, n_fft // 2), mode="reflect")
        n_frames = 1 + (padded.size - n_fft) // hop
        out_frames = n_frames - 1  # faster-whisper drops the last frame
        window = np.hanning(n_fft + 1)[:-1].astype("float32")
        # (frames, bins) in memory, used transposed: the layout faster-whisper's matmul gets, so BLAS
        # takes the same path and the mel sums are the same to the last bit
        magnitudes = np.empty((max(out_frames, 0), n_fft // 2 + 1), dtype=np.float32)
        for first in range(0, out_frames, self.block_frames):
            count = min(self.block_frames, out_frames - first)
            # one frame more than kept, as in the whole-input STFT whose last frame is dropped
            block = padded[first * hop : (first + count) * hop + n_fft]
            stft = self.stft(block, n_fft, hop, window=window, center=False, return_complex=True)
            magnitudes[first : first + count] = (np.abs(stft.astype("complex64")[..., :count]) ** 2).T
        log_spec = self.mel_filters @ magnitudes.T
        del magnitudes
        np.clip(log_spec, 1e-10, None, out=log_spec)
        np.log10(log_spec, out=log_spec)
        if log_spec.size:
            np.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)
        log_spec += 4.0
        log_spec /= 4.0
        return log_spec
