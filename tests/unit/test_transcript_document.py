"""The one transcript document: built from the engines' result, stored as JSON and read back
unchanged, and every wire format rendered from it."""

from __future__ import annotations

import json

from engines.types import Segment, SpeakerTurn, Transcript, Word
from server.domain.transcript_formats import diarized_json, openai_body, spoken, verbose_json
from server.domain.transcripts import SttResult, segment_from_engine, segment_from_json, segment_json


def engine_transcript() -> Transcript:
    words = [
        Word(0.123456, 0.51, " Hello", 0.912345, speaker="SPEAKER_01"),
        Word(0.6, 1.0, " there.", 0.5, speaker="SPEAKER_01", overlap=True),
    ]
    segments = [
        Segment(0, 0.1, 1.0, " Hello there.", avg_logprob=-0.123456, words=words, speaker="SPEAKER_01", overlap=True),
        Segment(1, 1.5, 2.0, " Bye.", no_speech_prob=0.011111, speaker="SPEAKER_00"),
    ]
    return Transcript("Hello there. Bye.", "de", 0.987654, 2.5, segments)


TURNS = [SpeakerTurn(1.4, 2.1, "SPEAKER_00"), SpeakerTurn(0.0, 1.2, "SPEAKER_01")]


def test_built_once_with_rounded_scores_speakers_in_order_and_sorted_turns():
    result = SttResult.from_engine(engine_transcript(), include_words=True, turns=TURNS)
    assert result.language_probability == 0.9877 and result.segments[0].avg_logprob == -0.1235
    assert result.segments[0].words is not None and result.segments[0].words[0].start == 0.123
    assert result.speakers == ["SPEAKER_01", "SPEAKER_00"]
    assert result.turns is not None and [t.start for t in result.turns] == [0.0, 1.4]
    document = result.to_json()
    assert document["segments"][0]["overlap"] is True and "overlap" not in document["segments"][1]
    assert [w.get("overlap") for w in document["segments"][0]["words"]] == [None, True]


def test_stored_json_reads_back_to_the_same_document_and_bytes():
    for include_words, turns in ((True, TURNS), (False, None)):
        written = json.dumps(SttResult.from_engine(engine_transcript(), include_words, turns).to_json())
        assert json.dumps(SttResult.from_json(json.loads(written)).to_json()) == written


def test_without_words_or_diarization_those_fields_are_absent():
    document = SttResult.from_engine(engine_transcript(), include_words=False).to_json()
    assert "turns" not in document and all("words" not in s for s in document["segments"])


def test_an_early_document_without_the_later_fields_still_reads():
    early = {
        "text": "hi",
        "language": "en",
        "duration": 1.0,
        "segments": [{"id": 0, "start": 0.0, "end": 1.0, "text": "hi", "speaker": "SPEAKER_00"}],
    }
    result = SttResult.from_json(early)
    assert result.speakers == ["SPEAKER_00"] and result.turns is None and result.segments[0].words is None


def test_streamed_segments_have_the_document_shape_and_old_streams_still_read():
    segment = engine_transcript().segments[1]
    assert segment_from_json(segment_json(segment_from_engine(segment))) == segment_from_engine(segment)
    assert segment_from_json({"id": 3, "start": 1.0, "end": 2.0, "text": " so"}).text == " so"


def test_openai_and_wyoming_renderings():
    result = SttResult.from_engine(engine_transcript(), include_words=True, turns=TURNS)
    verbose = verbose_json(result, "transcribe", words=True)
    assert verbose["language"] == "german" and verbose["usage"] == {"type": "duration", "seconds": 3}
    assert [w["word"] for w in verbose["words"]] == ["Hello", "there."]
    assert "words" not in verbose_json(result, "transcribe", words=False)
    assert [s["speaker"] for s in diarized_json(result, "transcribe")["segments"]] == ["A", "B"]
    assert openai_body(result, "json", "transcribe", words=False) == (
        {"text": "Hello there. Bye.", "usage": {"type": "duration", "seconds": 3}},
        "application/json",
    )
    assert openai_body(result, "srt", "transcribe", words=False)[0].startswith("1\n00:00:00,100 --> 00:00:01,000")
    assert spoken(result) == ("Hello there. Bye.", "de")
