"""Audio probing and decoding with PyAV (FFmpeg's libraries, already a faster-whisper dependency).

`probe` reads the container headers (and, only when they state no duration, the packet headers) and
is cheap enough to run before a task is enqueued.
`decode_mono` streams frames through a resampler into one preallocated buffer, so a long file is
never held twice in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.types import SAMPLE_RATE, EngineError


class AudioDecodeError(EngineError):
    """The file is not audio, is truncated beyond use, or uses a codec FFmpeg cannot read."""

    code = "unsupported_audio"


class EmptyAudio(AudioDecodeError):
    code = "empty_audio"


@dataclass(frozen=True)
class AudioInfo:
    format_name: str
    codec: str
    sample_rate: int
    channels: int
    duration: float | None  # seconds; None only when neither the headers nor the packets tell


def _open(path: Path):
    import av

    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise AudioDecodeError(f"not a readable audio file ({type(exc).__name__})") from exc


def probe(path: Path) -> AudioInfo:
    """Read container headers; raise AudioDecodeError when there is no audio stream."""
    if path.stat().st_size == 0:
        raise EmptyAudio("the file is empty")
    with _open(path) as container:
        streams = container.streams.audio
        if not streams:
            raise AudioDecodeError("the file has no audio stream")
        stream = streams[0]
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000  # AV_TIME_BASE
        else:
            duration = _packet_duration(container, stream)
        return AudioInfo(
            format_name=container.format.name,
            codec=stream.codec_context.name,
            sample_rate=stream.codec_context.sample_rate or 0,
            channels=stream.codec_context.channels or 0,
            duration=duration,
        )


def _packet_duration(container, stream) -> float | None:
    """Duration from the packets' timestamps, for streams written without one in the header: a
    browser's MediaRecorder WebM, FLAC or Matroska piped out of FFmpeg. Demuxing reads packet
    headers without decoding (0.5 s for 30 min of 20 ms Opus packets here), so the duration limit
    and the STT quota still see the real length of such uploads."""
    import av

    end = None
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and packet.time_base is not None:
                packet_end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = packet_end if end is None else max(end, packet_end)
    except (av.error.FFmpegError, ValueError):
        pass  # damaged part-way: what was read so far is the best estimate; decoding decides the rest
    return end


def decode_mono(path: Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """Decode the first audio stream to float32 mono at `sample_rate`.

    Memory: one buffer sized from the container's duration (grown if the container under-reports),
    so an hour of audio costs ~230 MB once, not a list of frames plus their concatenation.
    Raises AudioDecodeError when nothing decodes; a file that is corrupt part-way yields the audio
    decoded up to the damage (FFmpeg's own behaviour), which is what users expect of a truncated MP3.
    """
    import av

    limit = int(max_seconds * sample_rate) if max_seconds else None
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    with _open(path) as container:
        if not container.streams.audio:
            raise AudioDecodeError("the file has no audio stream")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        expected = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 60.0
        buffer = _Buffer(int(min(expected, max_seconds or expected) * sample_rate) + sample_rate)
        try:
            for frame in container.decode(stream):
                frame.pts = None  # the resampler re-times frames itself; broken pts must not stop it
                for out in resampler.resample(frame):
                    buffer.append(out.to_ndarray().reshape(-1))
                if limit is not None and buffer.size > limit:
                    raise AudioDecodeError(f"audio is longer than the {max_seconds:.0f} s limit")
            for out in resampler.resample(None):
                buffer.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if buffer.size == 0:
                raise AudioDecodeError(f"cannot decode audio ({type(exc).__name__})") from exc
    if buffer.size == 0:
        raise EmptyAudio("the file contains no audio samples")
    audio = buffer.result()
    np.clip(audio, -1.0, 1.0, out=audio)
    return audio


class _Buffer:
    """A growable float32 array (amortised doubling), trimmed once at the end."""

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(capacity, 1), dtype=np.float32)
        self.size = 0

    def append(self, block: np.ndarray) -> None:
        end = self.size + block.size
        if end > self._data.size:
            grown = np.empty(max(end, self._data.size * 2), dtype=np.float32)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : end] = block
        self.size = end

    def result(self) -> np.ndarray:
        if self.size < 0.9 * self._data.size:  # give back a large unused tail
            return self._data[: self.size].copy()
        return self._data[: self.size]
