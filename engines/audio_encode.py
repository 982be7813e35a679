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
