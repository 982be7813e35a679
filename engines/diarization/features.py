"""Voice activity (Silero VAD) and speaker embeddings (Resemblyzer's GE2E encoder) on CPU.

Both models ship inside their PyPI packages, so nothing is downloaded. torch is imported here,
and this module is only imported lazily by `builtin.py`, so importing the engine package stays
cheap.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
import torch

from engines.diarization.vad import VAD_CHUNK
from engines.types import SAMPLE_RATE, EngineUnavailable

MEL_HOP = 160  # Resemblyzer's mel frames: 25 ms window, 10 ms step, 40 bands
MEL_FFT = 400
MEL_BANDS = 40


def _package_dir(name: str) -> Path | None:
    # find_spec locates a package without importing it: `import silero_vad` would call
    # torch.set_num_threads(1) for the whole process, and `import resemblyzer` imports librosa.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


_SHARED_LOCK = threading.Lock()
_SHARED: dict[type, object] = {}


def shared(model_class):
    """The process-wide instance of a stateless model (SileroVad, SpeakerEncoder): loaded once and
    used by the diarizer, the clone gate and voice matching alike. Both keep no state between
    calls (the VAD's recurrent state lives inside each call), so threads may share them."""
    with _SHARED_LOCK:
        if model_class not in _SHARED:
            _SHARED[model_class] = model_class()
        return _SHARED[model_class]


class SileroVad:
    """Silero VAD's ONNX export (shipped in the silero-vad wheel) run by onnxruntime.

    ONNX rather than the TorchScript file: the TorchScript one spent ~8 s CPU optimising itself on
    the first call of each process; the ONNX one has no warm-up and stepped 2.5x faster.
    """

    def __init__(self) -> None:
        pkg = _package_dir("silero_vad")
        path = pkg / "data" / "silero_vad.onnx" if pkg else None
        if path is None or not path.is_file():
            raise EngineUnavailable("silero-vad is not installed (its package ships the VAD model)")
        try:
            import onnxruntime
        except ImportError as exc:  # pragma: no cover - a faster-whisper dependency
            raise EngineUnavailable("onnxruntime is not installed") from exc
        opts = onnxruntime.SessionOptions()
        # One thread: the model is tiny, batching streams gives the speed-up, not threads.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

    def probabilities(
        self, audio: np.ndarray, min_stream_s: float = 30.0, max_streams: int = 64, warmup_s: float = 1.0
    ) -> np.ndarray:
        """Speech probability for each 32 ms chunk of `audio`.

        The model is recurrent and stepped one chunk at a time. The file is cut into up to
        `max_streams` streams stepped side by side as one batch (~2x faster than one stream);
        each stream starts `warmup_s` early and drops those outputs so its state has settled.
        """
        n_chunks = -(-audio.size // VAD_CHUNK)
        if n_chunks == 0:
            return np.zeros(0, np.float32)
        if audio.size < VAD_CHUNK:  # so that there is at least one whole chunk below
            audio = np.pad(audio, (0, VAD_CHUNK - audio.size))
        per_stream = min(n_chunks, max(int(min_stream_s * SAMPLE_RATE / VAD_CHUNK), -(-n_chunks // max_streams)))
        warm = int(warmup_s * SAMPLE_RATE / VAD_CHUNK)
        starts = np.arange(0, n_chunks, per_stream)
        steps = warm + per_stream
        state = np.zeros((2, len(starts), 128), np.float32)
        context = np.zeros((len(starts), _CONTEXT), np.float32)
        sr = np.array(SAMPLE_RATE, dtype=np.int64)
        out = np.zeros((len(starts), steps), np.float32)
        # A (chunks x 512) view of the audio (no copy of a long file), plus one zero-padded
        # last chunk and one all-zero chunk for indexes before the start or past the end.
        n_full = audio.size // VAD_CHUNK
        tail = np.zeros((2, VAD_CHUNK), np.float32)
        tail[0, : audio.size - n_full * VAD_CHUNK] = audio[n_full * VAD_CHUNK :]
        full = audio[: n_full * VAD_CHUNK].reshape(n_full, VAD_CHUNK)
        for k in range(steps):
            idx = starts - warm + k  # chunk index of each stream at step k
            chunk = full[np.clip(idx, 0, n_full - 1)]
            outside = (idx < 0) | (idx >= n_full)
            if outside.any():
                chunk[outside] = tail[np.where(idx[outside] == n_full, 0, 1)]
            x = np.concatenate([context, chunk], axis=1)
            prob, state = self._session.run(None, {"input": x, "state": state, "sr": sr})
            out[:, k] = prob[:, 0]
            context = x[:, -_CONTEXT:]
        probs = np.zeros(n_chunks, np.float32)
        for i, s in enumerate(starts):
            n = min(per_stream, n_chunks - s)
            probs[s : s + n] = out[i, warm : warm + n]
        return probs


_CONTEXT = 64  # samples of the previous chunk the ONNX model expects in front of each chunk


def _slaney_mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = MEL_FFT, n_mels: int = MEL_BANDS) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels) (Slaney scale and area norm), re-implemented so that
    librosa (and its numba JIT, ~2-14 s on first call) is never imported; a test checks equality."""

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), lin)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), (200.0 / 3) * m)

    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


class _GE2EEncoder(torch.nn.Module):
    """Resemblyzer's VoiceEncoder network (3-layer LSTM + projection), built here so that the
    resemblyzer package (which imports librosa and webrtcvad at import time) is never imported."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(MEL_BANDS, 256, 3, batch_first=True)
        self.linear = torch.nn.Linear(256, 256)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        e = torch.relu(self.linear(hidden[-1]))
        return e / torch.linalg.vector_norm(e, dim=1, keepdim=True).clamp_min(1e-8)


class SpeakerEncoder:
    """Fixed-length window embeddings (256-d, L2-normalised, non-negative)."""

    def __init__(self) -> None:
        pkg = _package_dir("resemblyzer")
        weights = pkg / "pretrained.pt" if pkg else None
        if weights is None or not weights.is_file():
            raise EngineUnavailable("resemblyzer is not installed (its package ships the speaker encoder)")
        state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
        self._net = _GE2EEncoder()
        # strict=False: the checkpoint also holds the GE2E loss's similarity_weight/bias.
        self._net.load_state_dict(state, strict=False)
        self._net.eval()
        self._mel_fb = torch.from_numpy(_slaney_mel_filterbank())
        self._window = torch.hann_window(MEL_FFT)

    @torch.no_grad()
    def embed_windows(self, audio: np.ndarray, starts: np.ndarray, length: int, target_rms: float) -> np.ndarray:
        """Embeddings of the windows audio[s : s + length] for s in starts -> (len(starts), 256).

        Each window is scaled to `target_rms` first. The encoder reads a *linear* power mel, so
        loudness leaks into the embedding. With one gain for the whole file instead, the best
        split of 12 s of one real voice (clean, noisy, telephone copies) had centroid cosine
        0.87-0.94; per window it is 0.90-0.93, further from the 0.89 of sample.wav's two speakers.
        """
        x = np.zeros((starts.size, length), np.float32)
        for i, s in enumerate(starts):
            piece = audio[s : s + length]
            x[i, : piece.size] = piece
        x = torch.from_numpy(x)
        rms = x.square().mean(dim=1, keepdim=True).sqrt().clamp_min(1e-4)
        x = x * (target_rms / rms)
        spec = torch.stft(
            x,
            n_fft=MEL_FFT,
            hop_length=MEL_HOP,
            window=self._window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        mels = torch.matmul(self._mel_fb, spec.abs().square()).transpose(1, 2).contiguous()
        return self._net(mels).numpy()
