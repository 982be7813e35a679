"""Real speech and generated audio for tests. Nothing is downloaded."""

from __future__ import annotations

import importlib.util
import io
import wave
from functools import cache
from pathlib import Path

import numpy as np


@cache
def pyannote_sample_dir() -> Path:
    # find_spec locates the package without importing it (its import is slow and noisy).
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyannote.audio is not installed; it ships the reference speech sample")
    return Path(next(iter(spec.submodule_search_locations))) / "sample"


def sample_wav() -> Path:
    """30 s of real two-speaker telephone speech with reference transcript and speaker turns."""
    return pyannote_sample_dir() / "sample.wav"


def sample_reference_text() -> str:
    """The reference transcript from sample.stm (one utterance per line, text from field 6 on)."""
    words = []
    for line in (pyannote_sample_dir() / "sample.stm").read_text().splitlines():
        parts = line.split()
        if len(parts) > 5:
            words.extend(parts[5:])
    return " ".join(words)


def single_speaker_spans(speaker: str) -> np.ndarray:
    """The speech of sample.wav's reference speaker (speaker90, speaker91) where nobody else talks, joined."""
    from scripts.bench_diarization import read_rttm

    turns = read_rttm(sample_wav().with_suffix(".rttm"))
    audio = read_wav(sample_wav())[0]
    pieces = []
    for start, end, who in turns:
        if who != speaker:
            continue
        cuts = [(s, e) for s, e, k in turns if k != speaker and s < end and start < e]
        for s, e in cuts:  # trim the overlap away (sample.rttm's overlaps sit at turn edges)
            start, end = (max(start, e), end) if s <= start else (start, min(end, s))
        if end - start > 0.5:
            pieces.append(audio[int(start * 16_000) : int(end * 16_000)])
    return np.concatenate(pieces)


def wav_bytes(samples: np.ndarray, sample_rate: int = 16_000, channels: int = 1) -> bytes:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as src:
        rate = src.getframerate()
        data = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2").astype(np.float32) / 32768
        if src.getnchannels() > 1:
            data = data.reshape(-1, src.getnchannels()).mean(axis=1)
    return data, rate


def tiled_sample(seconds: float) -> bytes:
    """The real sample repeated to `seconds`, as WAV bytes: long enough to catch a task mid-run."""
    audio, rate = read_wav(sample_wav())
    reps = int(np.ceil(seconds * rate / audio.size))
    return wav_bytes(np.tile(audio, reps)[: int(seconds * rate)], rate)


# container, codec, file suffix: the formats the API promises to accept
FORMATS = {
    "mp3": ("mp3", "libmp3lame", ".mp3"),
    "m4a": ("ipod", "aac", ".m4a"),
    "flac": ("flac", "flac", ".flac"),
    "ogg": ("ogg", "vorbis", ".ogg"),  # FFmpeg's native Vorbis encoder (PyAV has no libvorbis)
    "opus": ("ogg", "libopus", ".opus"),
    "webm": ("webm", "libopus", ".webm"),
    "wav": ("wav", "pcm_s16le", ".wav"),
}


class _Pipe(io.RawIOBase):
    """A write-only, unseekable output: the muxer cannot go back to write the duration into the
    header, as when a browser's MediaRecorder or `ffmpeg ... -` streams a recording."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, chunk) -> int:
        self.data += bytes(chunk)
        return len(chunk)

    def getvalue(self) -> bytes:
        return bytes(self.data)


def encode(samples: np.ndarray, sample_rate: int, fmt: str, streamed: bool = False) -> bytes:
    """Encode mono float32 audio with PyAV's bundled FFmpeg into one of FORMATS; `streamed` writes it
    as a live recorder does, without a duration in the header."""
    import av

    container_format, codec, _ = FORMATS[fmt]
    rate = 48_000 if codec == "libopus" else sample_rate  # Opus only runs at 48 kHz and friends
    if rate != sample_rate:
        samples = np.interp(np.arange(0, samples.size, sample_rate / rate), np.arange(samples.size), samples)
    buffer = _Pipe() if streamed else io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as out:
        # FFmpeg's native Vorbis encoder is experimental and stereo-only; the decoder mixes back to mono.
        layout = "stereo" if codec == "vorbis" else "mono"
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        frame_size = stream.codec_context.frame_size or 1024
        pcm = samples.astype(np.float32)
        fmt_name = stream.codec_context.format.name
        for start in range(0, pcm.size, frame_size):
            block = pcm[start : start + frame_size]
            if fmt_name == "s16":
                frame = av.AudioFrame.from_ndarray(
                    (block * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
                )
            elif fmt_name.endswith("p"):
                planes = np.repeat(block[None, :], 2 if layout == "stereo" else 1, axis=0)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes), format="fltp", layout=layout)
            else:
                frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def sample_clip(seconds: float, offset: float = 0.0) -> tuple[np.ndarray, int]:
    audio, rate = read_wav(sample_wav())
    start = int(offset * rate)
    return audio[start : start + int(seconds * rate)], rate


def espeak(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> np.ndarray:
    """Speech from Debian's espeak-ng (a real formant synthesiser), as float32 16 kHz mono."""
    import shutil
    import subprocess

    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (scripts/install.sh --dev installs it)")
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav), "rb") as src:
        rate = src.getframerate()
        data = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2").astype(np.float32) / 32768
    if rate != 16_000:
        data = np.interp(np.arange(0, data.size, rate / 16_000), np.arange(data.size), data).astype(np.float32)
    return data


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16_000), dtype=np.float32)
