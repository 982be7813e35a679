from __future__ import annotations

import numpy as np
import pytest

from engines.audio_encode import FORMATS, StreamEncoder, encode
from engines.audio_io import decode_mono, probe


@pytest.mark.parametrize("fmt", sorted(set(FORMATS) - {"pcm"}))
def test_encoded_audio_decodes_to_the_same_duration(tmp_path, fmt):
    t = np.arange(0, 2.5, 1 / 22_050)
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    data, rate = encode(tone, 22_050, fmt, bitrate_kbps=64)
    path = tmp_path / f"out.{FORMATS[fmt].extension}"
    path.write_bytes(data)
    # Opus decoders always run at 48 kHz, whatever rate it was encoded from
    assert probe(path).sample_rate == (48_000 if fmt == "opus" else rate)
    decoded = decode_mono(path)
    assert abs(decoded.size / 16_000 - 2.5) < 0.08
    # AAC's transform overshoots a little on a pure tone's onset
    assert 0.15 < np.abs(decoded).max() < (0.5 if fmt == "aac" else 0.4)


def test_pcm_is_headerless_16_bit_samples_at_the_requested_rate():
    tone = (0.3 * np.sin(np.linspace(0, 2 * np.pi * 220, 22_050))).astype(np.float32)
    data, rate = encode(tone, 22_050, "pcm", sample_rate=24_000)
    samples = np.frombuffer(data, "<i2")
    assert rate == 24_000 and abs(samples.size - 24_000) <= 2
    assert 0.28 < np.abs(samples).max() / 32767 < 0.32


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_stream_encoder_output_plays_as_one_stream(tmp_path, fmt):
    """Chunks fed one by one come out as one stream of the whole duration (the WAV one with a
    streaming header), so a client can play the bytes as they arrive."""
    t = np.arange(0, 2.5, 1 / 22_050)
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    encoder = StreamEncoder(fmt, 22_050, bitrate_kbps=64, sample_rate=24_000 if fmt == "pcm" else None)
    parts = [encoder.feed(tone[i : i + 7_000]) for i in range(0, tone.size, 7_000)]
    parts.append(encoder.close())
    data = b"".join(parts)
    assert sum(1 for p in parts[:-1] if p) >= 2  # bytes come out before the end
    if fmt == "pcm":
        assert abs(len(data) / 2 / 24_000 - 2.5) < 0.01
        return
    if fmt == "wav":
        assert data[4:8] == b"\xff\xff\xff\xff" and data[40:44] == b"\xff\xff\xff\xff"
        data = (
            data[:4]
            + (len(data) - 8).to_bytes(4, "little")
            + data[8:40]
            + (len(data) - 44).to_bytes(4, "little")
            + data[44:]
        )
    path = tmp_path / f"out.{FORMATS[fmt].extension}"
    path.write_bytes(data)
    decoded = decode_mono(path)
    assert abs(decoded.size / 16_000 - 2.5) < 0.08


def test_requested_sample_rate_snaps_to_what_the_codec_allows():
    tone = np.zeros(22_050, dtype=np.float32)
    assert encode(tone, 22_050, "opus", sample_rate=44_100)[1] == 48_000
    assert encode(tone, 22_050, "wav", sample_rate=44_100)[1] == 44_100
    assert encode(tone, 22_050, "mp3")[1] == 22_050
