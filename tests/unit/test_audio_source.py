"""Staging any front-end's audio: raw PCM becomes a WAV that probes like an upload; limits hold."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from engines.audio_io import decode_mono, probe
from server.domain.artifacts import ArtifactStore
from server.domain.errors import PayloadTooLarge, UnsupportedMediaType
from server.services.audio_source import AudioStream, PcmFormat, stage_audio_source


async def pieces(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_raw_pcm_in_odd_chunks_is_staged_as_a_wav(tmp_path):
    rate = 22050
    t = np.arange(rate) / rate
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1)
    pcm = (stereo * 20000).astype("<i2").tobytes()
    artifacts = ArtifactStore(tmp_path)
    source = AudioStream(pieces(pcm, 1023), name="mic", pcm=PcmFormat(rate=rate, width=2, channels=2))
    staged = asyncio.run(stage_audio_source(source, artifacts, "t1", max_bytes=10_000_000))
    assert staged.size == len(pcm) and staged.name == "mic"
    assert probe(staged.path).duration == pytest.approx(1.0, abs=0.01)
    audio = decode_mono(staged.path)
    assert audio.size == pytest.approx(16000, abs=20)  # decoded like any upload: 16 kHz mono


def test_the_limit_is_enforced_while_streaming_and_nothing_is_left(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    with pytest.raises(PayloadTooLarge):
        asyncio.run(stage_audio_source(AudioStream(pieces(b"x" * 5000, 1000)), artifacts, "t2", max_bytes=4096))
    with pytest.raises(PayloadTooLarge):  # an announced size over the limit: refused before reading
        asyncio.run(stage_audio_source(AudioStream(pieces(b"", 1), declared_bytes=5000), artifacts, "t3", 4096))
    assert list((tmp_path / "t2").iterdir()) == []


def test_impossible_pcm_formats_are_refused():
    with pytest.raises(UnsupportedMediaType):
        PcmFormat(rate=100)
    with pytest.raises(UnsupportedMediaType):
        PcmFormat(rate=16000, width=5)
