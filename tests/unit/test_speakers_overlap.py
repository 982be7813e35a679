"""Speakers from the exclusive diarization, overlap marks from the overlapping turns, `turns` in the document."""

from __future__ import annotations

from engines.speakers import assign_speakers, number_speakers, overlapped_regions
from engines.types import Diarization, Segment, SpeakerTurn, Transcript, Word
from server.domain.transcripts import SttResult

# A talks 0-5 s, B 4-8 s (overlap 4-5 s); the exclusive view hands 4-5 s to B.
TURNS = [SpeakerTurn(0.0, 5.0, "SPEAKER_00"), SpeakerTurn(4.0, 8.0, "SPEAKER_01")]
EXCLUSIVE = [SpeakerTurn(0.0, 4.0, "SPEAKER_00"), SpeakerTurn(4.0, 8.0, "SPEAKER_01")]


def transcript(*segments: Segment) -> Transcript:
    return Transcript(text="", language="en", language_probability=1.0, duration=8.0, segments=list(segments))


def test_overlapped_regions_are_where_two_turns_are_active():
    assert overlapped_regions(TURNS) == [(4.0, 5.0)]
    assert overlapped_regions([SpeakerTurn(0, 2, "A"), SpeakerTurn(2, 3, "B")]) == []  # touching is not overlap
    three = [SpeakerTurn(0, 10, "A"), SpeakerTurn(1, 3, "B"), SpeakerTurn(2, 6, "C")]
    assert overlapped_regions(three) == [(1, 6)]


def test_words_take_the_exclusive_speaker_and_overlap_marks():
    ws = [
        Word(1.0, 1.5, " one", 0.9),
        Word(4.2, 4.8, " two", 0.9),  # inside the overlap
        Word(4.8, 5.6, " three", 0.9),  # a quarter in it
        Word(6.0, 6.5, " four", 0.9),
    ]
    seg = Segment(id=0, start=1.0, end=6.5, text="one two three four", words=ws)
    out = assign_speakers(transcript(seg), Diarization(turns=TURNS, exclusive=EXCLUSIVE))
    flat = [w for s in out.segments for w in s.words]
    assert [(w.speaker, w.overlap) for w in flat] == [
        ("SPEAKER_00", False),
        ("SPEAKER_01", True),
        ("SPEAKER_01", False),
        ("SPEAKER_01", False),
    ]
    assert [s.speaker for s in out.segments] == ["SPEAKER_00", "SPEAKER_01"]


def test_segment_mostly_in_overlap_is_marked():
    seg = Segment(id=0, start=4.1, end=4.9, text="both at once")
    out = assign_speakers(transcript(seg), Diarization(turns=TURNS, exclusive=EXCLUSIVE))
    assert out.segments[0].overlap and out.segments[0].speaker == "SPEAKER_01"


def test_document_lists_sorted_turns_and_marks_only_true_overlap():
    seg = Segment(id=0, start=4.1, end=4.9, text="x", words=[Word(4.1, 4.9, " x", 0.9)])
    out = assign_speakers(transcript(seg), Diarization(turns=TURNS, exclusive=EXCLUSIVE))
    doc = SttResult.from_engine(out, include_words=True, turns=list(reversed(TURNS))).to_json()
    assert doc["turns"] == [
        {"start": 0.0, "end": 5.0, "speaker": "SPEAKER_00"},
        {"start": 4.0, "end": 8.0, "speaker": "SPEAKER_01"},
    ]
    assert doc["segments"][0]["overlap"] is True and doc["segments"][0]["words"][0]["overlap"] is True
    plain = SttResult.from_engine(transcript(Segment(id=0, start=0.0, end=1.0, text="y")), include_words=False)
    plain = plain.to_json()
    assert "turns" not in plain and "overlap" not in plain["segments"][0]


def test_plain_turn_lists_still_work_without_overlap_marks():
    seg = Segment(id=0, start=4.1, end=4.9, text="x")
    out = assign_speakers(transcript(seg), TURNS)
    assert out.segments[0].speaker in {"SPEAKER_00", "SPEAKER_01"} and out.segments[0].overlap is False


def test_speakers_are_numbered_by_first_appearance_in_the_transcript():
    turns = [
        SpeakerTurn(0.0, 0.4, "SPEAKER_00"),
        SpeakerTurn(1.0, 3.0, "SPEAKER_01"),
        SpeakerTurn(3.0, 5.0, "SPEAKER_00"),
    ]
    seg = Segment(id=0, start=1.0, end=5.0, text="a b", words=[Word(1.2, 2.0, " a", 0.9), Word(3.2, 4.0, " b", 0.9)])
    out, renamed = number_speakers(assign_speakers(transcript(seg), turns), turns)
    assert [s.speaker for s in out.segments] == ["SPEAKER_00", "SPEAKER_01"]
    assert [w.speaker for s in out.segments for w in s.words] == ["SPEAKER_00", "SPEAKER_01"]
    assert [t.speaker for t in renamed] == ["SPEAKER_01", "SPEAKER_00", "SPEAKER_01"]
