"""The pyannote diarization engine through the API, from a tiny pipeline in the model store."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from server.http.app import create_app
from tests.api.test_stt_features import transcribe
from tests.fixtures.tiny_pyannote import build_tiny_pyannote_pipeline
from tests.support.audio import sample_clip, wav_bytes


@pytest.fixture
def pyannote_client(make_settings):
    settings = make_settings()
    build_tiny_pyannote_pipeline(settings.storage.models / "pyannote" / settings.diarization.pipeline)
    with TestClient(create_app(settings)) as client:
        yield client


def test_auto_selects_pyannote_when_its_pipeline_is_provisioned(pyannote_client):
    diarization = pyannote_client.get("/v1/health").json()["engines"]["diarization"]
    assert diarization["engine"] == "pyannote" and diarization["available"] is True
    clip, rate = sample_clip(12.0, offset=6.0)
    result = transcribe(pyannote_client, wav_bytes(clip, rate))
    # random weights: the labels mean nothing, but they must be well formed and on every segment
    assert result["speakers"] and result["speakers"][0] == "SPEAKER_00"
    assert all(s["speaker"] in result["speakers"] for s in result["segments"])


def test_neural_is_used_when_no_pipeline_is_provisioned(client):
    assert client.get("/v1/health").json()["engines"]["diarization"]["engine"] == "neural"
