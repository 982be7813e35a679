"""A cloned voice's embedding comes only from the current encoder: stored when it made it, else
recomputed from the voice's reference.wav (voices cloned with Resemblyzer, or without an encoder)."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from engines.audio_encode import encode
from model_store.voices import VoiceModel, VoiceStore
from server.worker.voice_embedding import ENCODER_KEY, pcm16_samples, stored_embedding, voice_embedding


class CountingEncoder:
    """Stands in for the CAM++ SpeakerEncoder: a deterministic 'embedding' of what it is given."""

    version = "campplus-test@0123"

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []

    def embed(self, audio: np.ndarray) -> np.ndarray:
        self.calls.append(audio)
        return np.asarray([audio.size, float(np.sum(np.abs(audio)))], dtype=np.float32)


def reference() -> np.ndarray:
    t = np.arange(16_000 * 2) / 16_000
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def make_voice(store: VoiceStore, embedding: np.ndarray | None, engine_data: dict) -> VoiceModel:
    files = {"reference.wav": encode(reference(), 16_000, "wav")[0]}
    if embedding is not None:
        buffer = io.BytesIO()
        np.save(buffer, embedding)
        files["embedding.npy"] = buffer.getvalue()
    model = VoiceModel(id=store.new_id(), owner="alice", title="t", engine="piper+voice-match", engine_data=engine_data)
    return store.create(model, files)


@pytest.fixture
def store(tmp_path):
    return VoiceStore(tmp_path / "models")


def test_the_stored_embedding_is_used_when_the_current_encoder_made_it(store):
    encoder = CountingEncoder()
    voice = make_voice(store, np.ones(192, np.float32), {ENCODER_KEY: encoder.version})
    assert np.array_equal(voice_embedding(store, encoder, voice), np.ones(192, np.float32))
    assert encoder.calls == []


@pytest.mark.parametrize(
    "engine_data",
    [
        {"voice_match": 1},  # cloned before the encoder was recorded: a Resemblyzer embedding.npy
        {"voice_match": 1, ENCODER_KEY: "campplus-fbank80-win10-v0@ffff"},  # another encoder version
    ],
)
def test_another_encoders_embedding_is_never_returned(store, engine_data):
    encoder = CountingEncoder()
    voice = make_voice(store, np.full(256, 0.5, np.float32), engine_data)
    assert stored_embedding(store, voice, encoder.version) is None
    got = voice_embedding(store, encoder, voice)
    assert len(encoder.calls) == 1  # re-embedded from reference.wav
    assert np.array_equal(encoder.calls[0], pcm16_samples((store.path(voice.id) / "reference.wav").read_bytes()))
    assert got.shape == (2,) and got[0] == reference().size


def test_a_voice_without_embedding_is_embedded_from_its_reference(store):
    encoder = CountingEncoder()
    voice = make_voice(store, None, {ENCODER_KEY: encoder.version})  # version but the file is gone
    voice_embedding(store, encoder, voice)
    assert len(encoder.calls) == 1


def test_pcm16_samples_reads_what_decode_mono_reads(tmp_path):
    from engines.audio_io import decode_mono

    data = encode(reference(), 16_000, "wav")[0]
    path = tmp_path / "r.wav"
    path.write_bytes(data)
    assert np.array_equal(pcm16_samples(data), decode_mono(path))
    stereo = io.BytesIO()
    with wave.open(stereo, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x00" * 400)
    with pytest.raises(ValueError, match="16-bit mono"):
        pcm16_samples(stereo.getvalue())
