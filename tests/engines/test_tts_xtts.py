"""XTTS adapter against a tiny random-weight checkpoint built on disk: coqui's real loading code, no network.

Random weights make the audio noise, so these tests check the contract, not quality.
"""

from __future__ import annotations

import importlib.util
import socket
import wave
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("TTS.tts.models.xtts")

from engines.model_cache import ModelCache  # noqa: E402
from engines.tts.types import SynthesisRequest, UnknownVoice  # noqa: E402
from engines.tts.xtts_engine import (  # noqa: E402
    XttsConditioning,
    XttsConfig,
    XttsSynthesizer,
    is_checkpoint_dir,
    load_conditioning,
    save_conditioning,
    speaker_names,
    split_text,
)
from engines.types import EngineUnavailable, UnsupportedLanguage  # noqa: E402
from tests.fixtures.tiny_xtts import GPT_CHANNELS, SPEAKERS, build_tiny_xtts_checkpoint  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


@pytest.fixture(scope="module")
def no_network():
    """Any hub download or outgoing connection fails the test instead of fetching weights."""
    import huggingface_hub

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to reach the network: {args} {kwargs}")

    real_connect = socket.socket.connect

    def local_only(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address)
        return real_connect(sock, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        for name in ("hf_hub_download", "snapshot_download"):
            mp.setattr(huggingface_hub, name, refuse)
        mp.setattr(socket.socket, "connect", local_only)
        yield


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory, no_network) -> Path:
    return build_tiny_xtts_checkpoint(tmp_path_factory.mktemp("tiny-xtts"))


@pytest.fixture(scope="module")
def engine(checkpoint_dir) -> XttsSynthesizer:
    return XttsSynthesizer(XttsConfig(checkpoint_dir=checkpoint_dir), cache=ModelCache(idle_ttl=float("inf")))


@pytest.fixture(scope="module")
def reference_speech() -> tuple[np.ndarray, int]:
    spec = importlib.util.find_spec("pyannote.audio")  # only to locate its bundled sample, not to import it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyannote.audio (which ships the reference speech sample) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "sample" / "sample.wav"
    with wave.open(str(path)) as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getframerate() * 6)
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0, rate


def assert_speech_like(audio, engine) -> None:
    assert audio.sample_rate == 24000 == engine.sample_rate
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.samples.size > 0 and np.isfinite(audio.samples).all()
    assert np.abs(audio.samples).max() <= 1.0


def test_checkpoint_dir_detection(checkpoint_dir, tmp_path):
    assert is_checkpoint_dir(checkpoint_dir)
    assert not is_checkpoint_dir(tmp_path)


def test_builtin_speakers_are_voices(engine, checkpoint_dir):
    assert speaker_names(checkpoint_dir / "speakers_xtts.pth") == list(SPEAKERS)
    voices = engine.voices()
    assert [v.id for v in voices] == ["xtts:ana-florence", "xtts:claribel-dervla"]
    assert [v.title for v in voices] == list(SPEAKERS)
    assert all(v.engine == "xtts" and v.languages == ("en",) and v.sample_rate == 24000 for v in voices)


def test_synthesize_with_builtin_speaker(engine):
    audio = engine.synthesize(SynthesisRequest(text="Hello world, this is a test.", voice_id="xtts:ana-florence"))
    assert_speech_like(audio, engine)


def test_speed_changes_duration(engine):
    request = SynthesisRequest(text="Hello there.", voice_id="xtts:claribel-dervla")
    normal = engine.synthesize(request)
    fast = engine.synthesize(SynthesisRequest(text=request.text, voice_id=request.voice_id, speed=2.0))
    # random weights never stop early, so both runs generate the same number of codes
    assert fast.duration < normal.duration


def test_cloned_conditioning_round_trip(engine, reference_speech, tmp_path):
    samples, rate = reference_speech
    cond = engine.conditioning_from_reference(samples, rate)
    assert cond.gpt_cond_latent.shape == (1, 32, GPT_CHANNELS)
    assert cond.speaker_embedding.shape == (1, 512, 1)
    save_conditioning(cond, tmp_path / "voice")
    loaded = load_conditioning(tmp_path / "voice")
    np.testing.assert_array_equal(loaded.gpt_cond_latent, cond.gpt_cond_latent)
    np.testing.assert_array_equal(loaded.speaker_embedding, cond.speaker_embedding)
    assert_speech_like(engine.synthesize_with(loaded, "A cloned voice.", "en", 1.0), engine)


def test_long_text_is_split_not_crashed(engine):
    sentence = "This sentence is repeated to make the text far too long for one call. "
    cond = XttsConditioning(np.zeros((1, 32, GPT_CHANNELS), np.float32), np.zeros((1, 512, 1), np.float32))
    pieces = engine.pieces(sentence * 12, "en")
    assert len(pieces) > 1 and all(len(p) <= 250 for p in pieces)  # the tokenizer's "en" char limit
    assert_speech_like(engine.synthesize_with(cond, "word" * 300, "en"), engine)  # one 1200-char "word"


def test_token_guard_splits_further():
    text = "one two three four five six seven eight nine ten. " + "x" * 30
    pieces = split_text(text, char_limit=250, count_tokens=len, max_tokens=12)
    assert all(len(p) < 12 for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_unknown_voice(engine):
    with pytest.raises(UnknownVoice):
        engine.synthesize(SynthesisRequest(text="Hi.", voice_id="xtts:nobody"))


def test_unsupported_language(engine):
    cond = XttsConditioning(np.zeros((1, 32, GPT_CHANNELS), np.float32), np.zeros((1, 512, 1), np.float32))
    with pytest.raises(UnsupportedLanguage):
        engine.synthesize_with(cond, "Hola.", "es")


def test_incomplete_dir_is_unavailable(checkpoint_dir, tmp_path):
    for name in ("config.json", "vocab.json"):  # no model.pth
        (tmp_path / name).write_bytes((checkpoint_dir / name).read_bytes())
    engine = XttsSynthesizer(XttsConfig(checkpoint_dir=tmp_path))
    with pytest.raises(EngineUnavailable, match="model.pth"):
        engine.voices()
    with pytest.raises(EngineUnavailable, match="model.pth"):
        engine.load()


def test_no_speakers_file_means_no_builtin_voices(tmp_path_factory, no_network):
    bare = build_tiny_xtts_checkpoint(tmp_path_factory.mktemp("tiny-xtts-bare"), with_speakers=False)
    assert XttsSynthesizer(XttsConfig(checkpoint_dir=bare)).voices() == []
