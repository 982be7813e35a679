"""A cloned voice's speaker embedding, only ever from the current speaker encoder.

New clones store the CAM++ embedding of their reference (embedding.npy) and the encoder's version
in meta.json (engine_data["speaker_encoder"]), as the speaker registry does for voiceprints. Voices
cloned before that hold a Resemblyzer embedding.npy and no version (or, without the encoder's
weights, no embedding at all): their embedding is recomputed from the stored reference.wav, so a
stored vector is never compared with another encoder's output. Voice folders are written once and
never edited (model_store/voices.py), so the recomputed vector is not written back.
"""

from __future__ import annotations

import io
import wave

import numpy as np

from engines.audio_io import decode_mono
from engines.speaker_id.encoder import SpeakerEncoder
from model_store.voices import VoiceModel, VoiceStore

ENCODER_KEY = "speaker_encoder"  # engine_data key: the encoder version that made embedding.npy
EMBEDDING_FILE = "embedding.npy"
REFERENCE_FILE = "reference.wav"


def pcm16_samples(wav_bytes: bytes) -> np.ndarray:
    """A 16-bit mono WAV's samples as float32 in [-1, 1), as decode_mono reads the stored file, so
    a voice is embedded from exactly what reference.wav holds (quiet frames' log-mel energies move
    with the quantisation) and re-embedding the file later gives the same vector."""
    with wave.open(io.BytesIO(wav_bytes)) as reader:
        if reader.getsampwidth() != 2 or reader.getnchannels() != 1:
            raise ValueError("expected 16-bit mono WAV")
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768


def stored_embedding(store: VoiceStore, model: VoiceModel, encoder_version: str) -> np.ndarray | None:
    """embedding.npy when `encoder_version` made it, else None (older encoder, or none stored)."""
    if model.engine_data.get(ENCODER_KEY) != encoder_version:
        return None
    path = store.path(model.id) / EMBEDDING_FILE
    try:
        return np.load(path, allow_pickle=False).astype(np.float32).reshape(-1)
    except (OSError, ValueError):
        return None


def voice_embedding(store: VoiceStore, encoder: SpeakerEncoder, model: VoiceModel) -> np.ndarray:
    """The voice's embedding by `encoder`: the stored one when it made it, else its reference.wav's."""
    stored = stored_embedding(store, model, encoder.version)
    if stored is not None:
        return stored
    return encoder.embed(decode_mono(store.path(model.id) / REFERENCE_FILE))
