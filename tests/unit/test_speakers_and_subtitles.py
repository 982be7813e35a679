from __future__ import annotations

import html
import io

import srt
import webvtt

from engines.speakers import assign_speakers
from engines.types import Segment, SpeakerTurn, Transcript, Word
from server.domain.transcript_formats import srt as to_srt
from server.domain.transcript_formats import vtt as to_vtt
from server.domain.transcripts import SttResult


def words(*items: tuple[float, float, str]) -> list[Word]:
    return [Word(start=s, end=e, word=w, probability=0.9) for s, e, w in items]


def transcript(*segments: Segment) -> Transcript:
    return Transcript(text="", language="en", language_probability=1.0, duration=10.0, segments=list(segments))


TURNS = [SpeakerTurn(0.0, 2.0, "SPEAKER_00"), SpeakerTurn(2.2, 5.0, "SPEAKER_01"), SpeakerTurn(5.5, 9.0, "SPEAKER_00")]


def test_segment_spanning_a_speaker_change_is_split_at_the_words():
    seg = Segment(
        id=0,
        start=0.5,
        end=4.0,
        text="Hello? Hi there.",
        words=words((0.5, 1.2, " Hello?"), (2.3, 2.6, " Hi"), (2.7, 3.5, " there.")),
    )
    out = assign_speakers(transcript(seg), TURNS)
    assert [(s.id, s.speaker, s.text, s.start, s.end) for s in out.segments] == [
        (0, "SPEAKER_00", "Hello?", 0.5, 1.2),
        (1, "SPEAKER_01", "Hi there.", 2.3, 3.5),
    ]
    assert [w.speaker for w in out.segments[1].words] == ["SPEAKER_01", "SPEAKER_01"]


def test_without_words_the_segment_takes_the_speaker_overlapping_most():
    seg = Segment(id=0, start=1.5, end=4.5, text="mostly the second speaker")
    assert assign_speakers(transcript(seg), TURNS).segments[0].speaker == "SPEAKER_01"


def test_word_in_a_gap_takes_the_nearest_turn():
    # 0.1 s before SPEAKER_00's turn, 0.4 s after SPEAKER_01's
    seg = Segment(id=0, start=5.35, end=5.45, text="um", words=words((5.35, 5.45, " um")))
    assert assign_speakers(transcript(seg), TURNS).segments[0].speaker == "SPEAKER_00"
    seg = Segment(id=0, start=5.05, end=5.15, text="um", words=words((5.05, 5.15, " um")))
    assert assign_speakers(transcript(seg), TURNS).segments[0].speaker == "SPEAKER_01"
    seg = Segment(id=0, start=2.05, end=2.15, text="so", words=words((2.05, 2.15, " so")))
    assert assign_speakers(transcript(seg), TURNS).segments[0].speaker in {"SPEAKER_00", "SPEAKER_01"}


def test_no_turns_leaves_speakers_empty():
    seg = Segment(id=0, start=0, end=1, text="x")
    assert assign_speakers(transcript(seg), []).segments[0].speaker is None


def test_overlapping_turns_pick_the_larger_share():
    turns = [SpeakerTurn(0.0, 3.0, "SPEAKER_00"), SpeakerTurn(2.0, 6.0, "SPEAKER_01")]
    seg = Segment(id=0, start=2.5, end=5.0, text="x")
    assert assign_speakers(transcript(seg), turns).segments[0].speaker == "SPEAKER_01"


def document():
    segs = [
        Segment(id=0, start=0.5, end=1.25, text="Hello <there> & welcome", speaker="SPEAKER_00"),
        Segment(id=1, start=3661.0, end=3662.5, text="Second.", speaker="SPEAKER_01"),
        Segment(id=2, start=3663.0, end=3663.5, text="   "),
    ]
    return SttResult.from_engine(
        Transcript(text="Hello", language="en", language_probability=1.0, duration=3664.0, segments=segs),
        include_words=False,
    )


def test_srt_parses_with_speakers_and_hour_timestamps():
    cues = list(srt.parse(to_srt(document())))
    assert [c.content for c in cues] == ["[SPEAKER_00] Hello <there> & welcome", "[SPEAKER_01] Second."]
    assert cues[1].start.total_seconds() == 3661.0 and cues[1].end.total_seconds() == 3662.5


def test_vtt_parses_with_voice_spans():
    captions = webvtt.from_buffer(io.StringIO(to_vtt(document())))
    assert [c.start for c in captions] == ["00:00:00.500", "01:01:01.000"]
    # cue text is escaped as WebVTT requires; a player shows it unescaped
    assert captions[0].voice == "SPEAKER_00" and html.unescape(captions[0].text) == "Hello <there> & welcome"
    assert len(captions) == 2


def test_document_lists_speakers_in_first_appearance_order():
    assert document().speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert document().to_json()["speakers"] == ["SPEAKER_00", "SPEAKER_01"]
