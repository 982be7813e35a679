from __future__ import annotations

import numpy as np
import pytest

from engines.audio_encode import FORMATS, encode
from engines.audio_io import decode_mono, probe


@pytest.mark.parametrize("fmt", sorted(FORMATS))
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
    assert 0.15 < np.abs(decoded).max() < 0.4


def test_requested_sample_rate_snaps_to_what_the_codec_allows():
    tone = np.zeros(22_050, dtype=np.float32)
    assert encode(tone, 22_050, "opus", sample_rate=44_100)[1] == 48_000
    assert encode(tone, 22_050, "wav", sample_rate=44_100)[1] == 44_100
    assert encode(tone, 22_050, "mp3")[1] == 22_050
