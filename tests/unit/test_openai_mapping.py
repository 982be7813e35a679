"""OpenAI request fields mapped to ours: voices through the alias table, instructions to a style
cue (the rest reported), speed clamped to what the engines do, pcm at 24 kHz; error bodies."""

from __future__ import annotations

import pytest

from server.domain.errors import BadRequest
from server.domain.transcript_formats import speaker_letters
from server.http.openai.errors import openai_error_body
from server.http.openai.speech import SpeechRequest, plan_speech
from server.http.openai.transcription import parse_form
from server.services.speech_style import style_from_instructions
from server.settings import Settings


def plan(**body):
    settings = Settings(openai={"voice_aliases": {"nova": "en_US-amy-medium", "alloy": ""}})
    return plan_speech(SpeechRequest(**{"model": "tts-1", "input": "Hello.", "voice": "alloy", **body}), settings)


def test_voices_map_through_the_alias_table_and_ids_pass_through():
    assert plan().request.model_ids == ["en_US-joe-medium"]  # "" = the default voice
    assert plan(voice="nova").request.model_ids == ["en_US-amy-medium"]
    assert plan(voice="0123456789abcdef").request.model_ids == ["0123456789abcdef"]  # a clone id
    assert plan(voice={"id": "en_US-joe-medium"}).request.model_ids == ["en_US-joe-medium"]
    assert plan(model="gpt-4o-mini-tts").origin == {"api": "openai", "model": "gpt-4o-mini-tts", "voice": "alloy"}


def test_instructions_become_one_style_cue_and_the_rest_is_reported():
    result = plan(instructions="Please speak calmly and warmly")
    assert result.request.text == "[calm] Hello."
    assert result.headers["X-Instructions-Applied"] == "calm"
    assert result.headers["X-Instructions-Ignored"] == "Please speak and warmly"
    assert style_from_instructions("Talk like a pirate").style is None
    assert style_from_instructions("in a hurry, please").style == "in a hurry tone"


def test_speed_is_clamped_to_the_engine_range_and_said():
    fast = plan(speed=4.0)
    assert fast.request.speed == 2.0 and fast.headers["X-Speed-Applied"] == "2" and fast.origin["speed_requested"] == 4
    assert plan(speed=0.25).request.speed == 0.5 and plan(speed=1.3).request.speed == 1.3


def test_pcm_is_24_khz_and_other_formats_keep_the_voice_rate():
    assert plan(response_format="pcm").request.sample_rate == 24_000
    assert plan(response_format="opus").request.sample_rate is None


def test_control_characters_are_a_bad_request_naming_the_input():
    with pytest.raises(BadRequest) as caught:
        plan_speech(SpeechRequest(model="tts-1", input="bad\x0e", voice="alloy"), Settings())
    assert caught.value.details["param"] == "input"


def test_transcription_forms():
    form = parse_form({"model": "whisper-1", "response_format": "diarized_json", "prompt": "Voice API"}, False)
    assert form.options.diarize and form.options.prompt == "Voice API" and form.options.task == "transcribe"
    words = parse_form({"model": "m", "timestamp_granularities[]": ["word", "segment"]}, False)
    assert words.options.word_timestamps and not words.options.diarize
    translate = parse_form({"model": "m", "language": "de"}, True)
    assert translate.options.task == "translate" and translate.options.language is None
    for fields, param in (({"model": "m", "response_format": "xml"}, "response_format"), ({"file2": "x"}, "file2")):
        with pytest.raises(BadRequest) as caught:
            parse_form(fields, False)
        assert caught.value.details["param"] == param
    with pytest.raises(BadRequest):
        parse_form({"model": "m", "response_format": "diarized_json"}, True)
    assert speaker_letters(["SPEAKER_00", "SPEAKER_01"]) == {"SPEAKER_00": "A", "SPEAKER_01": "B"}


def test_error_bodies_have_openai_fields():
    body = openai_error_body(429, {"code": "rate_limited", "message": "slow down", "retry_after": 3})
    assert body == {
        "error": {
            "message": "slow down",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limited",
            "retry_after": 3,
        }
    }
    assert openai_error_body(422, {"code": "x", "message": "m", "field": "speed"})["error"]["param"] == "speed"
    assert openai_error_body(503, {"code": "queue_unavailable", "message": "m"})["error"]["type"] == "server_error"


def test_a_model_naming_an_engine_must_be_served():
    from server.domain.errors import InvalidRequest
    from server.services.tts_requests import check_engine

    assert plan(model="xtts").engine == "xtts" and plan(model="tts-1-hd").engine is None
    check_engine("piper", {"tts": {"engine": "xtts+piper"}})
    with pytest.raises(InvalidRequest) as caught:
        check_engine("xtts", {"tts": {"engine": "piper"}})
    assert caught.value.code == "engine_unavailable" and caught.value.details["param"] == "model"
