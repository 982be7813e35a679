from __future__ import annotations

import json
import logging

from server.logging_setup import JsonFormatter
from tests.api.conftest import wait_finished
from tests.support.audio import sample_clip, wav_bytes


def test_metrics_count_outcomes_durations_and_rtf(client):
    clip, rate = sample_clip(4.0, offset=6.0)
    task_id = client.post(
        "/v1/stt", files={"file": ("a.wav", wav_bytes(clip, rate))}, data={"diarize": "false"}
    ).json()["task_id"]
    assert wait_finished(client, f"/v1/stt/{task_id}")["status"] == "succeeded"
    bad = client.post("/v1/tts", json={"text": "Hi.", "model_ids": ["en_US-joe-medium"]}).json()["task_id"]
    wait_finished(client, f"/v1/tts/{bad}")
    body = client.get("/metrics").text
    assert 'voice_api_tasks_total{kind="stt",outcome="succeeded"} 1' in body
    assert 'voice_api_task_duration_seconds_bucket{kind="stt",le="+Inf"} 1' in body
    assert 'voice_api_task_real_time_factor_count{kind="stt"} 1' in body
    assert 'voice_api_queue_depth{queue="all"} 0' in body and "voice_api_queue_up 1" in body
    assert "# TYPE voice_api_task_duration_seconds histogram" in body


def test_json_logs_carry_the_task_id():
    record = logging.LogRecord(
        "server.worker.runner",
        logging.INFO,
        __file__,
        1,
        "task %s succeeded",
        ("0123456789abcdef0123456789abcdef",),
        None,
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["task_id"] == "0123456789abcdef0123456789abcdef" and entry["level"] == "INFO"
