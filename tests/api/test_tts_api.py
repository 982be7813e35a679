"""/v1/tts through the real app with the real Piper engine; round trips through our own /v1/stt."""

from __future__ import annotations

import pytest

from engines.tts.emotion import measure
from server.auth.caller import LOCAL_OWNER
from server.domain.tasks import Task, TaskKind
from tests.api.conftest import assert_error, services, wait_finished
from tests.support.wer import normalise, word_error_rate

VOICE = "en_US-joe-medium"


def synthesise(client, **body) -> tuple[dict, bytes, object]:
    response = client.post("/v1/tts", json=body)
    assert response.status_code == 202, response.text
    status = wait_finished(client, f"/v1/tts/{response.json()['task_id']}")
    assert status["status"] == "succeeded", status
    audio = client.get(f"/v1/tts/{status['task_id']}/audio")
    assert audio.status_code == 200
    return status, audio.content, audio


def decode(tmp_path, data: bytes, suffix: str):
    from engines.audio_io import decode_mono

    path = tmp_path / f"out{suffix}"
    path.write_bytes(data)
    return decode_mono(path)


def transcribe(client, data: bytes) -> str:
    task_id = client.post("/v1/stt", files={"file": ("tts.mp3", data)}, data={"diarize": "false"}).json()["task_id"]
    assert wait_finished(client, f"/v1/stt/{task_id}")["status"] == "succeeded"
    return client.get(f"/v1/stt/{task_id}/result", params={"plain_text": "true"}).text


def test_mp3_round_trip_with_unknown_cue_dropped(client, tmp_path):
    # chosen because tiny.en transcribed 12 of 12 Piper renders of it without error ("laptop" was not)
    text = "The meeting starts at noon. [mumbling] Please bring the quarterly report to the office."
    status, data, response = synthesise(client, text=text)
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["content-disposition"] == f'attachment; filename="{status["task_id"]}.mp3"'
    result = status["result"]
    assert result["format"] == "mp3" and result["chunks"] >= 1 and result["characters"] < len(text)
    assert [w["code"] for w in result["warnings"]] == ["unknown_cue"] and "mumbling" in result["warnings"][0]["message"]
    audio = decode(tmp_path, data, ".mp3")
    assert audio.size / 16_000 == pytest.approx(result["duration"], abs=0.1)
    heard = transcribe(client, data)
    assert "mumbling" not in normalise(heard)
    # 13 words, 7.7% each; intelligibility proper is measured on 24 sentences by scripts/bench_tts.py
    assert word_error_rate(text.replace("[mumbling] ", ""), heard) <= 0.16


def test_default_stochastic_voice_stays_intelligible(make_settings):
    """The one test of the voice users hear by default, with Piper's sampling noise on: every render
    differs, so it is judged on the median of three. Measured on this sentence at the engine level
    (render -> tiny.en, beam 5, VAD): 0 of 40 renders over the bound, so a render fails with p < 7.5%
    (95% bound) and the median of three with 3p^2 - 2p^3 < 1.6%; observed 0%."""
    import statistics

    from litestar.testing import TestClient

    from server.http.app import create_app

    text = "The meeting starts at noon. Please bring the quarterly report to the office."
    with TestClient(create_app(make_settings(tts={"deterministic": False}))) as stochastic:
        renders = [synthesise(stochastic, text=text)[1] for _ in range(3)]
        assert len(set(renders)) > 1  # the sampling noise is really on: three different renders
        errors = [word_error_rate(text, transcribe(stochastic, data)) for data in renders]
    assert statistics.median(errors) <= 0.16, errors


def test_range_requests(client):
    status, data, _ = synthesise(client, text="Seeking works in every browser.")
    route = f"/v1/tts/{status['task_id']}/audio"
    part = client.get(route, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == data[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(data)}"
    tail = client.get(route, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == data[-50:]
    assert_error(client.get(route, headers={"Range": f"bytes={len(data)}-"}), 416, "range_not_satisfiable")


@pytest.mark.parametrize(
    ("fmt", "media_type", "suffix"),
    [("wav", "audio/wav", ".wav"), ("flac", "audio/flac", ".flac"), ("opus", "audio/ogg", ".opus")],
)
def test_other_formats_and_sample_rate(client, tmp_path, fmt, media_type, suffix):
    status, data, response = synthesise(client, text="Short and clear.", format=fmt, sample_rate=16000)
    assert response.headers["content-type"].startswith(media_type)
    assert status["result"]["sample_rate"] == 16000
    assert decode(tmp_path, data, suffix).size / 16_000 == pytest.approx(status["result"]["duration"], abs=0.1)


def test_whisper_cue_is_unvoiced_and_volume_is_applied(client, tmp_path):
    sentence = "I will tell you a secret about the old lighthouse by the sea."
    _, neutral, _ = synthesise(client, text=sentence, format="wav")
    _, whispered, _ = synthesise(client, text=f"[whisper] {sentence}", format="wav")
    _, louder, _ = synthesise(client, text=sentence, format="wav", volume_db=6)
    n = measure(decode(tmp_path, neutral, ".wav"), 16_000)
    w = measure(decode(tmp_path, whispered, ".wav"), 16_000)
    loud = measure(decode(tmp_path, louder, ".wav"), 16_000)
    assert w["voiced_fraction"] < 0.3 * n["voiced_fraction"]
    assert loud["rms_db"] > n["rms_db"] + 3


def test_two_speaker_script_has_a_longer_pause_at_the_change(client):
    status, _, _ = synthesise(client, text="Hello there. <|speaker:1|> Hi, how are you?", model_ids=[VOICE, VOICE])
    assert status["result"]["chunks"] >= 2


def test_audio_of_a_failed_task_is_409(client):
    # A queued or running task's audio streams as it is made (tests/api/test_openai_speech.py).
    task = Task.new(TaskKind.TTS, LOCAL_OWNER)
    store = services(client).tasks.store
    store.create(task)
    assert client.get(f"/v1/tts/{task.id}").json()["status"] == "queued"
    store.start(task.id)
    store.fail(task.id, "unknown_voice", "no such voice")
    assert assert_error(client.get(f"/v1/tts/{task.id}/audio"), 409, "task_failed")["message"]
    assert_error(client.get("/v1/tts/" + "0" * 32), 404, "task_not_found")


def test_script_errors_are_rejected_before_queueing(client):
    error = assert_error(
        client.post("/v1/tts", json={"text": "Hi. <|speaker:3|> Bye.", "model_ids": [VOICE]}),
        422,
        "speaker_out_of_range",
    )
    assert "<|speaker:3|>" in error["message"] and error["position"] == 4
    cap = services(client).settings.tts.max_characters
    error = assert_error(client.post("/v1/tts", json={"text": "word " * cap}), 413, "text_too_long")
    assert str(cap) in error["message"]
    assert_error(client.post("/v1/tts", json={"text": "[laugh] [sigh]  "}), 422, "empty_text")
    assert_error(client.post("/v1/tts", json={"text": "hi", "model_ids": ["nobody"]}), 404, "model_not_found")
    assert_error(client.post("/v1/tts", json={"text": "hi", "speed": 3}), 400, "invalid_request")
    assert_error(client.post("/v1/tts", json={"text": "hi", "mp3_bitrate": 100}), 400, "invalid_request")
    assert_error(
        client.post("/v1/tts", content=b"{not json", headers={"content-type": "application/json"}), 400, "bad_request"
    )
    assert list(services(client).tasks.artifacts.task_ids()) == []


def test_control_characters_and_undecodable_bodies_are_400s_not_500s(client):
    error = assert_error(client.post("/v1/tts", json={"text": "Hello\u0000world"}), 400, "invalid_request")
    assert "U+0000" in error["message"]
    assert_error(
        client.post("/v1/tts", content=b'{"text": "caf\xe9"}', headers={"content-type": "application/json"}),
        400,
        "bad_request",
    )
