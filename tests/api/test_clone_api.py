"""/v1/clone and the catalog with real engines: gate errors, a clone used in TTS, cache, restart."""

from __future__ import annotations

import numpy as np
import pytest
from litestar.testing import TestClient

from engines.audio_io import decode_mono
from engines.cloning.voice_match import cosine, speaker_embedding
from server.http.app import create_app
from tests.api.conftest import assert_error, wait_finished
from tests.support.audio import espeak, sample_wav, silence, wav_bytes

TARGET_VOICE = ("en-us+f3", 80)  # an espeak-ng female voice: far from the Piper base voice
SENTENCES = [
    "The harbour was quiet in the early morning, and the gulls circled above the fishing boats.",
    "She wrote three letters before breakfast, then walked to the post office by the old bridge.",
    "Every winter the village held a market where farmers sold cheese, honey and warm bread.",
]


def target_speech() -> np.ndarray:
    voice, pitch = TARGET_VOICE
    return np.concatenate([np.concatenate([espeak(s, voice, pitch=pitch), silence(0.4)]) for s in SENTENCES])


def clone(client, data: bytes, **fields) -> dict:
    response = client.post("/v1/clone", files={"file": ("reference.wav", data)}, data={"title": "x", **fields})
    assert response.status_code == 202, response.text
    return wait_finished(client, f"/v1/clone/{response.json()['task_id']}")


@pytest.fixture(scope="module")
def cloned(tmp_path_factory):
    """One clone from real (synthesised) speech, shared by the checks below."""
    from tests.conftest import settings_in

    data_dir = tmp_path_factory.mktemp("clone") / "data"
    with TestClient(create_app(settings_in(data_dir))) as client:
        status = clone(
            client,
            wav_bytes(target_speech()),
            title="Harbour Narrator",
            tags="calm,story",
            languages="en",
            description="A calm storyteller",
        )
        assert status["status"] == "succeeded", status
        yield client, status["result"]["model_id"], data_dir


def test_clone_result_and_catalog_entry(cloned):
    client, model_id, _ = cloned
    model = client.get(f"/v1/models/{model_id}").json()
    assert model["title"] == "Harbour Narrator" and model["engine"] == "piper+voice-match"
    assert model["visibility"] == "private" and model["tags"] == ["calm", "story"] and model["author"] == "local"
    found = client.get("/v1/models", params={"title": "harbor narator", "refresh": "true"}).json()
    assert found["items"][0]["id"] == model_id  # misspelt, found first


def test_a_clone_speaks_closer_to_its_target_than_the_base_voice(cloned, tmp_path):
    client, model_id, _ = cloned
    sentence = "The lighthouse keeper climbed the stairs at dusk."
    text = f"{sentence} <|speaker:1|> {sentence}"
    task_id = client.post(
        "/v1/tts", json={"text": text, "model_ids": ["en_US-joe-medium", model_id], "format": "wav"}
    ).json()["task_id"]
    status = wait_finished(client, f"/v1/tts/{task_id}")
    assert status["status"] == "succeeded", status
    path = tmp_path / "two.wav"
    path.write_bytes(client.get(f"/v1/tts/{task_id}/audio").content)
    audio = decode_mono(path)
    half = audio.size // 2
    base_part, clone_part = audio[: int(half * 0.9)], audio[int(half * 1.1) :]
    held_out = speaker_embedding(
        espeak(
            "A different sentence that the clone never heard, about rivers and hills.",
            TARGET_VOICE[0],
            pitch=TARGET_VOICE[1],
        )
    )
    base_emb, clone_emb = speaker_embedding(base_part), speaker_embedding(clone_part)
    assert cosine(base_emb, clone_emb) < 0.85  # the two speakers of the script differ
    assert cosine(clone_emb, held_out) > cosine(base_emb, held_out) + 0.05


def test_the_stored_embedding_is_the_speaker_encoders(cloned):
    """embedding.npy is CAM++'s (the diarizer's and the speaker registry's encoder), with its version
    recorded, and equal to what re-embedding the stored reference.wav gives."""
    from server.domain.factory import open_voice_store
    from server.worker.engines import build_speaker_encoder
    from server.worker.voice_embedding import ENCODER_KEY, voice_embedding
    from tests.conftest import settings_in

    _, model_id, data_dir = cloned
    settings = settings_in(data_dir)
    store = open_voice_store(settings)
    voice = store.get(model_id)
    encoder = build_speaker_encoder(settings)
    assert voice is not None and voice.engine_data[ENCODER_KEY] == encoder.version
    stored = np.load(store.path(model_id) / "embedding.npy")
    assert stored.shape == (192,) and abs(float(np.linalg.norm(stored)) - 1.0) < 1e-5
    again = encoder.embed(decode_mono(store.path(model_id) / "reference.wav"))
    assert cosine(stored, again) > 0.9999
    assert np.array_equal(voice_embedding(store, encoder, voice), stored)
    held_out = encoder.embed(
        espeak("Another sentence, about rivers and hills.", TARGET_VOICE[0], pitch=TARGET_VOICE[1])
    )
    assert cosine(stored, held_out) > 0.5  # the same (espeak) voice saying something else


def test_new_clone_appears_at_once_and_delete_removes_it(cloned):
    client, _, _ = cloned
    before = client.get("/v1/models", params={"self": "true"}).json()
    assert client.get("/v1/models", params={"self": "true"}).headers["x-cache"] == "hit"
    status = clone(client, wav_bytes(target_speech()), title="Second Voice")
    after = client.get("/v1/models", params={"self": "true"})
    assert after.headers["x-cache"] == "miss" and after.json()["total"] == before["total"] + 1
    assert client.delete(f"/v1/models/{status['result']['model_id']}").status_code == 204
    assert client.get("/v1/models", params={"self": "true"}).json()["total"] == before["total"]


def test_voices_survive_a_restart(cloned):
    _, model_id, data_dir = cloned
    from tests.conftest import settings_in

    with TestClient(create_app(settings_in(data_dir))) as fresh:
        assert fresh.get(f"/v1/models/{model_id}").json()["title"] == "Harbour Narrator"


@pytest.mark.parametrize(
    ("make_audio", "code"),
    [
        (lambda: espeak("Far too short to clone.", *TARGET_VOICE[:1]), "audio_too_short"),
        (lambda: silence(15.0), "no_speech"),
        (lambda: None, "multiple_speakers"),  # the real two-speaker telephone call
        (lambda: np.clip(target_speech() * 20, -1, 1), "poor_quality"),
    ],
    ids=["short", "silence", "two-speakers", "clipped"],
)
def test_gate_rejects_bad_references_with_specific_codes(client, make_audio, code):
    audio = make_audio()
    data = sample_wav().read_bytes() if audio is None else wav_bytes(audio)
    status = clone(client, data)
    assert status["status"] == "failed" and status["error"]["code"] == code, status
    assert client.get("/v1/models", params={"self": "true"}).json()["total"] == 0


def test_too_long_is_refused_before_queueing(client):
    assert_error(
        client.post("/v1/clone", files={"file": ("long.wav", wav_bytes(silence(130.0)))}, data={"title": "x"}),
        413,
        "audio_too_long",
    )
    assert_error(
        client.post("/v1/clone", files={"file": ("a.wav", wav_bytes(silence(12.0)))}), 422, "invalid_request"
    )  # title is required
