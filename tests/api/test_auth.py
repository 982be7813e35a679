"""API keys, plans, rate limits, quotas and isolation between owners, through the real app."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from model_store.voices import VoiceModel, VoiceStore
from server.http.app import create_app
from tests.api.conftest import assert_error, services, wait_finished
from tests.support.audio import encode, sample_clip, wav_bytes


@pytest.fixture
def app_client(make_settings):
    # each test here checks one limit; the concurrency limit has its own test below
    basic = {"requests_per_hour": 3, "tts_characters_per_month": 200, "max_concurrent_tasks": 50}
    settings = make_settings(auth={"enabled": True, "plans": {"basic": basic}})
    with TestClient(create_app(settings)) as client:
        yield client


def key_for(client, owner: str, plan: str = "pro") -> dict[str, str]:
    _, plaintext = services(client).keys.create(owner=owner, plan=plan)
    return {"Authorization": f"Bearer {plaintext}"}


def test_requests_without_a_valid_key_are_401(app_client):
    response = app_client.get("/v1/models")
    assert_error(response, 401, "missing_api_key")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_error(app_client.get("/v1/models", headers={"Authorization": "Bearer va_nope"}), 401, "invalid_api_key")
    assert_error(app_client.get("/v1/models", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401, "missing_api_key")
    assert app_client.get("/v1/health").status_code == 200  # public, for load balancers
    assert app_client.get("/docs/openapi.json").status_code == 200


def test_x_api_key_header_and_revocation_take_effect_at_once(app_client):
    key, plaintext = services(app_client).keys.create(owner="team-a", plan="pro")
    assert app_client.get("/v1/models", headers={"X-API-Key": plaintext}).status_code == 200
    services(app_client).keys.revoke(key.key_id)
    assert_error(app_client.get("/v1/models", headers={"X-API-Key": plaintext}), 401, "invalid_api_key")


def test_rate_limit_counts_submissions_not_polls(app_client):
    headers = key_for(app_client, "team-b", plan="basic")
    accepted = []
    for _ in range(3):
        response = app_client.post("/v1/tts", json={"text": "Hi."}, headers=headers)
        assert response.status_code == 202
        accepted.append(response)
    assert [int(r.headers["x-ratelimit-remaining"]) for r in accepted] == [2, 1, 0]
    for _ in range(5):  # polling is free, and still reports the budget
        poll = app_client.get(f"/v1/tts/{accepted[0].json()['task_id']}", headers=headers)
        assert poll.status_code == 200 and poll.headers["x-ratelimit-remaining"] == "0"
    refused = app_client.post("/v1/tts", json={"text": "Hi."}, headers=headers)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["retry-after"]) >= 1 and refused.headers["x-ratelimit-limit"] == "3"
    usage = app_client.get("/v1/usage", headers=headers).json()
    assert usage["plan"] == "basic" and usage["requests"]["remaining"] == 0
    assert "voice_api_rate_limited_total 1" in app_client.get("/metrics").text


def test_monthly_quota_is_enforced_and_reported(app_client):
    headers = key_for(app_client, "team-c", plan="basic")
    assert app_client.post("/v1/tts", json={"text": "x" * 150}, headers=headers).status_code == 202
    error = assert_error(app_client.post("/v1/tts", json={"text": "y" * 100}, headers=headers), 429, "quota_exceeded")
    assert error["used"] == 150 and error["limit"] == 200
    quotas = app_client.get("/v1/usage", headers=headers).json()["quotas"]
    assert quotas["tts_characters"] == {"used": 150, "limit": 200}


def test_owners_never_see_each_others_tasks_audio_or_results(app_client):
    alice, bob = key_for(app_client, "alice"), key_for(app_client, "bob")
    clip, rate = sample_clip(4.0, offset=6.0)
    stt = app_client.post(
        "/v1/stt", files={"file": ("a.wav", wav_bytes(clip, rate))}, data={"diarize": "false"}, headers=alice
    ).json()["task_id"]
    tts = app_client.post("/v1/tts", json={"text": "Private words."}, headers=alice).json()["task_id"]
    assert wait_finished(app_client, f"/v1/stt/{stt}", headers=alice)["status"] == "succeeded"
    assert wait_finished(app_client, f"/v1/tts/{tts}", headers=alice)["status"] == "succeeded"
    for route in (f"/v1/stt/{stt}", f"/v1/stt/{stt}/result", f"/v1/tts/{tts}", f"/v1/tts/{tts}/audio"):
        assert app_client.get(route, headers=alice).status_code == 200
        assert_error(app_client.get(route, headers=bob), 404, "task_not_found")


def test_private_voices_are_invisible_to_other_owners(app_client):
    store: VoiceStore = services(app_client).catalog._voices
    private = store.create(VoiceModel(id=store.new_id(), owner="alice", title="Alice secret voice", engine="piper"))
    public = store.create(
        VoiceModel(id=store.new_id(), owner="alice", title="Alice public voice", engine="piper", visibility="public")
    )
    alice, bob = key_for(app_client, "alice"), key_for(app_client, "bob")
    bob_ids = [m["id"] for m in app_client.get("/v1/models", headers=bob).json()["items"]]
    assert public.id in bob_ids and private.id not in bob_ids
    assert_error(app_client.get(f"/v1/models/{private.id}", headers=bob), 404, "model_not_found")
    assert_error(app_client.delete(f"/v1/models/{private.id}", headers=bob), 404, "model_not_found")
    assert_error(app_client.delete(f"/v1/models/{public.id}", headers=bob), 403, "forbidden")
    assert_error(
        app_client.post("/v1/tts", json={"text": "hi", "model_ids": [private.id]}, headers=bob), 404, "model_not_found"
    )
    assert app_client.get(f"/v1/models/{private.id}", headers=alice).status_code == 200
    assert app_client.delete(f"/v1/models/{private.id}", headers=alice).status_code == 204
    assert_error(app_client.get(f"/v1/models/{private.id}", headers=alice), 404, "model_not_found")


def test_security_headers_and_cors_off_by_default(app_client):
    response = app_client.get("/v1/health")
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-frame-options"] == "DENY"
    preflight = app_client.options(
        "/v1/models", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_when_configured(make_settings):
    settings = make_settings(api={"cors_origins": ["https://studio.example"]})
    with TestClient(create_app(settings)) as client:
        preflight = client.options(
            "/v1/models", headers={"Origin": "https://studio.example", "Access-Control-Request-Method": "GET"}
        )
        assert preflight.headers["access-control-allow-origin"] == "https://studio.example"


def test_plan_limits_tasks_queued_or_running_at_once(make_settings):
    settings = make_settings(auth={"enabled": True, "plans": {"pro": {"max_concurrent_tasks": 2}}})
    # the embedded worker is not started (no lifespan): submitted tasks stay queued
    client = TestClient(create_app(settings))
    headers = key_for(client, "team-d", plan="pro")
    for _ in range(2):
        assert client.post("/v1/tts", json={"text": "Queued."}, headers=headers).status_code == 202
    error = assert_error(client.post("/v1/tts", json={"text": "One more."}, headers=headers), 429, "too_many_tasks")
    assert error["active"] == 2 and error["limit"] == 2
    other = key_for(client, "team-e", plan="pro")
    assert client.post("/v1/tts", json={"text": "Another team."}, headers=other).status_code == 202


def test_plan_limits_upload_size_and_audio_length(make_settings):
    plans = {"basic": {"max_upload_mb": 0.1}, "ultra": {"max_audio_minutes": 0.25}}
    with TestClient(create_app(make_settings(auth={"enabled": True, "plans": plans}))) as client:
        small_uploads, short_audio = key_for(client, "team-f", plan="basic"), key_for(client, "team-g", plan="ultra")
        clip = wav_bytes(sample_clip(20.0)[0])  # 640 kB, 20 s

        def stt(headers):
            return client.post("/v1/stt", files={"file": ("a.wav", clip)}, headers=headers)

        assert_error(stt(small_uploads), 413, "upload_too_large")
        assert "limit is 15 s" in assert_error(stt(short_audio), 413, "audio_too_long")["message"]
        assert stt(key_for(client, "team-h", plan="pro")).status_code == 202  # within the pro plan's limits


def test_recordings_without_a_declared_duration_are_still_charged_and_limited(make_settings):
    # A browser's MediaRecorder writes WebM with no duration in its header; reading it as 0 s
    # would transcribe it for free and past any length limit.
    plans = {"basic": {"stt_minutes_per_month": 1, "max_concurrent_tasks": 50}, "ultra": {"max_audio_minutes": 0.25}}
    with TestClient(create_app(make_settings(auth={"enabled": True, "plans": plans}))) as client:
        recording = encode(*sample_clip(20.0), "webm", streamed=True)

        def stt(headers):
            return client.post("/v1/stt", files={"file": ("rec.webm", recording)}, headers=headers)

        basic = key_for(client, "team-i", plan="basic")
        assert stt(basic).status_code == 202
        assert (
            client.get("/v1/usage", headers=basic).json()["quotas"]["stt_seconds"]["used"] == 21
        )  # 20.0x s, rounded up
        assert stt(basic).status_code == 202
        assert_error(stt(basic), 429, "quota_exceeded")  # 42 + 21 s > 60 s
        assert_error(stt(key_for(client, "team-j", plan="ultra")), 413, "audio_too_long")
