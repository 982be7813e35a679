"""Encoding synthesised audio (float32 mono) to the formats the API serves, with PyAV's FFmpeg."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OutputFormat:
    name: str
    container: str
    codec: str
    media_type: str
    extension: str
    rates: tuple[int, ...] | None = None  # codec-imposed sample rates; None: any


FORMATS = {
    "mp3": OutputFormat(
        "mp3", "mp3", "libmp3lame", "audio/mpeg", "mp3", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
    ),
    "wav": OutputFormat("wav", "wav", "pcm_s16le", "audio/wav", "wav"),
    "flac": OutputFormat("flac", "flac", "flac", "audio/flac", "flac"),
    "opus": OutputFormat("opus", "ogg", "libopus", "audio/ogg", "opus", (8000, 12000, 16000, 24000, 48000)),
    # AAC in ADTS frames (what OpenAI's aac is): self-delimiting, so it streams like MP3.
    "aac": OutputFormat("aac", "adts", "aac", "audio/aac", "aac"),
    # Headerless 16-bit little-endian mono samples; the rate is the caller's to know (OpenAI: 24 kHz).
    "pcm": OutputFormat("pcm", "s16le", "pcm_s16le", "audio/pcm", "pcm"),
}


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt", layout="mono")
    frame.sample_rate = rate
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def nearest_rate(fmt: OutputFormat, wanted: int) -> int:
    if fmt.rates is None:
        return wanted
    return min(fmt.rates, key=lambda r: (abs(r - wanted), -r))


def encode(
    samples: np.ndarray, rate: int, fmt_name: str, bitrate_kbps: int = 128, sample_rate: int | None = None
) -> tuple[bytes, int]:
    """Return (encoded bytes, the sample rate actually used)."""
    import av

    fmt = FORMATS[fmt_name]
    target = nearest_rate(fmt, sample_rate or rate)
    pcm = np.clip(resample(samples, rate, target), -1.0, 1.0).astype(np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt.container) as container:
        stream = container.add_stream(fmt.codec, rate=target, layout="mono")
        if not isinstance(stream, av.AudioStream):  # PyAV types add_stream by any codec name
            raise TypeError(f"{fmt.codec} is not an audio codec")
        if fmt.codec in ("libmp3lame", "libopus"):
            stream.bit_rate = bitrate_kbps * 1000
        codec_format = stream.codec_context.format.name
        frame_size = stream.codec_context.frame_size or 4096
        for start in range(0, max(pcm.size, 1), frame_size):
            block = pcm[start : start + frame_size]
            if block.size == 0:
                break
            if codec_format.startswith("s16"):
                data, layout_format = (block * 32767).astype(np.int16)[None, :], "s16"
            else:
                data, layout_format = block[None, :], "fltp" if codec_format.endswith("p") else "flt"
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=layout_format, layout="mono")
            frame.sample_rate = target
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue(), target


class _Sink:
    """A write-only file: FFmpeg muxers see it is not seekable and write a streamable form (no
    header rewritten at the end); what they wrote so far is taken with `take()`."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data) -> int:
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


# Ogg pages are flushed after this much audio (FFmpeg's default is 1 s), so Opus streams in small steps.
_OGG_PAGE_US = "100000"


def streaming_wav_header(rate: int) -> bytes:
    """A 16-bit mono WAV header whose sizes say "unknown" (0xFFFFFFFF), as streaming players expect."""
    import struct

    return (
        b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data" + struct.pack("<I", 0xFFFFFFFF)
    )  # fmt: skip


class StreamEncoder:
    """Encodes audio as it is made: `feed(chunk)` returns the bytes ready so far, `close()` the rest.

    The bytes joined are one playable stream of `fmt_name`: MP3, AAC (ADTS), Opus (Ogg), FLAC and
    raw PCM are streamable as they are; WAV gets a header with unknown sizes. The resampler keeps
    its state across chunks, so chunk edges leave no trace.
    """

    def __init__(self, fmt_name: str, rate: int, bitrate_kbps: int = 128, sample_rate: int | None = None) -> None:
        import av

        self._fmt = FORMATS[fmt_name] if fmt_name != "wav" else FORMATS["pcm"]
        self._rate = rate
        self.sample_rate = nearest_rate(self._fmt, sample_rate or rate)
        self._resampler = (
            av.AudioResampler(format="flt", layout="mono", rate=self.sample_rate) if self.sample_rate != rate else None
        )
        self._header = streaming_wav_header(self.sample_rate) if fmt_name == "wav" else b""
        self._raw = self._fmt.codec == "pcm_s16le"
        if not self._raw:
            self._sink = _Sink()
            options = {"page_duration": _OGG_PAGE_US} if self._fmt.container == "ogg" else {}
            self._container = av.open(self._sink, mode="w", format=self._fmt.container, options=options)
            stream = self._container.add_stream(self._fmt.codec, rate=self.sample_rate, layout="mono")
            if not isinstance(stream, av.AudioStream):  # PyAV types add_stream by any codec name
                raise TypeError(f"{self._fmt.codec} is not an audio codec")
            self._stream = stream
            if self._fmt.codec in ("libmp3lame", "libopus"):
                self._stream.bit_rate = bitrate_kbps * 1000
            self._pending = np.zeros(0, np.float32)

    def feed(self, samples: np.ndarray) -> bytes:
        return self._encode(self._resample(np.asarray(samples, np.float32)), final=False)

    def close(self) -> bytes:
        tail = self._resample(None)
        return self._encode(tail, final=True)

    def _resample(self, samples: np.ndarray | None) -> np.ndarray:
        if self._resampler is None:
            return samples if samples is not None else np.zeros(0, np.float32)
        import av

        frame = None
        if samples is not None:
            if not samples.size:
                return samples
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
            frame.sample_rate = self._rate
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def _encode(self, pcm: np.ndarray, final: bool) -> bytes:
        pcm = np.clip(pcm, -1.0, 1.0).astype(np.float32)
        header, self._header = self._header, b""
        if self._raw:
            return header + (pcm * 32767).astype("<i2").tobytes()
        import av

        pcm = np.concatenate([self._pending, pcm])
        frame_size = self._stream.codec_context.frame_size or 4096
        whole = pcm.size if final else pcm.size // frame_size * frame_size
        self._pending = pcm[whole:]
        codec_format = self._stream.codec_context.format.name  # an audio codec context always has one
        for start in range(0, whole, frame_size):
            block = pcm[start : start + frame_size]
            if codec_format.startswith("s16"):
                data, layout_format = (block * 32767).astype(np.int16)[None, :], "s16"
            else:
                data, layout_format = block[None, :], "fltp" if codec_format.endswith("p") else "flt"
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=layout_format, layout="mono")
            frame.sample_rate = self.sample_rate
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        if final:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        return header + self._sink.take()
