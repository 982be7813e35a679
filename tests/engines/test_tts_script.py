"""Script language and chunking: pure-Python, fast, no audio."""

from __future__ import annotations

import pytest

from engines.tts.chunking import CLAUSE, SENTENCE, chunk_text, split_sentences
from engines.tts.emotion import _ALIASES, STYLES, resolve_cue
from engines.tts.events import EVENT_ALIASES, EVENTS
from engines.tts.script import Event, SpeechRun, parse_script
from engines.tts.types import (
    EmptyScript,
    EngineError,
    InvalidMarker,
    SpeakerOutOfRange,
    TextTooLong,
)


def runs(script):
    return [(i.speaker, i.style, i.text) for i in script.items if isinstance(i, SpeechRun)]


def test_text_before_any_marker_is_speaker_zero_and_markers_switch():
    s = parse_script("Hello. <|speaker:1|> Hi! <| Speaker : 0 |>Bye.", num_speakers=2)
    assert runs(s) == [(0, None, "Hello."), (1, None, "Hi!"), (0, None, "Bye.")]
    assert s.speakers == [0, 1]


def test_speaker_out_of_range_names_marker_and_position():
    text = "One. Two. <|speaker:2|> three"
    with pytest.raises(SpeakerOutOfRange) as err:
        parse_script(text, num_speakers=2)
    e = err.value
    assert isinstance(e, EngineError) and e.code == "speaker_out_of_range"
    assert e.marker == "<|speaker:2|>" and e.position == text.index("<|") == 10
    assert "<|speaker:2|>" in str(e) and "10" in str(e)


def test_malformed_marker_is_an_error_not_text():
    with pytest.raises(InvalidMarker) as err:
        parse_script("a <|speakr:1|> b", num_speakers=2)
    assert err.value.code == "invalid_marker" and err.value.position == 2


def test_style_scope_ends_at_next_cue_speaker_change_and_blank_line():
    s = parse_script("[excited] A. [sad] B. <|speaker:1|> C. <|speaker:0|>[whisper] D.\n\nE.", 2)
    assert runs(s) == [(0, "excited", "A."), (0, "sad", "B."), (1, None, "C."), (0, "whisper", "D."), (0, None, "E.")]
    assert [i.paragraph for i in s.items] == [0, 0, 0, 0, 1]


def test_events_are_inserted_in_place_and_keep_the_style():
    s = parse_script("[happy] Ha [laugh] that is funny. [pause] Right.")
    kinds = [(type(i).__name__, getattr(i, "name", None) or i.text) for i in s.items]
    assert kinds == [
        ("SpeechRun", "Ha"),
        ("Event", "laugh"),
        ("SpeechRun", "that is funny."),
        ("Event", "pause"),
        ("SpeechRun", "Right."),
    ]
    assert all(i.style == "happy" for i in s.items if isinstance(i, SpeechRun))


@pytest.mark.parametrize(
    "cue,expected",
    [
        ("[Whispering]", ("style", "whisper")),
        ("[ WHISPERS ]", ("style", "whisper")),
        ("[sighing]", ("event", "sigh")),
        ("[sighs]", ("event", "sigh")),
        ("[laughing]", ("event", "laugh")),
        ("[Laughs]", ("event", "laugh")),
        ("[shout]", ("style", "shouting")),
        ("[long break]", ("event", "long-break")),
        ("[Long_Break]", ("event", "long-break")),
        ("[soft  tone]", ("style", "soft tone")),
        ("[in a hurry tone]", ("style", "in a hurry tone")),
        ("[sad voice]", ("style", "sad")),
        ("[in a whisper]", ("style", "whisper")),
        ("[crying loudly]", ("style", "crying loudly")),
    ],
)
def test_cue_aliases_case_and_whitespace(cue, expected):
    assert resolve_cue(cue[1:-1]) == expected


def test_fish_audio_emotion_and_tone_list_is_covered():
    fish = [
        "happy",
        "sad",
        "angry",
        "excited",
        "calm",
        "nervous",
        "confident",
        "surprised",
        "satisfied",
        "delighted",
        "scared",
        "worried",
        "upset",
        "frustrated",
        "depressed",
        "empathetic",
        "embarrassed",
        "disgusted",
        "moved",
        "proud",
        "relaxed",
        "grateful",
        "curious",
        "sarcastic",
        "whispering",
        "shouting",
        "screaming",
        "laughing",
        "chuckling",
        "sobbing",
        "sighing",
        "panting",
        "groaning",
        "soft tone",
        "in a hurry tone",
        "crying loudly",
    ]
    assert [w for w in fish if resolve_cue(w) is None] == []


def test_vocabulary_is_consistent():
    for name, aliases in (_ALIASES | EVENT_ALIASES).items():
        assert name in STYLES or name in EVENTS
        for alias in aliases:
            assert resolve_cue(alias) is not None


def test_unknown_cue_is_dropped_with_warning_never_spoken():
    s = parse_script("Hello [zorblax] world. [] Done.")
    assert s.text == "Hello world. Done."
    assert [(w.code, w.cue, w.position) for w in s.warnings] == [("unknown_cue", "zorblax", 6), ("unknown_cue", "", 23)]


def test_escapes_write_literal_brackets():
    s = parse_script(r"Array \[0] is \[sad\] not a cue \\ ok")
    assert s.text == r"Array [0] is [sad] not a cue \ ok" and not s.warnings
    assert all(i.style is None for i in s.items)


def test_stray_bracket_warns_and_is_not_spoken():
    s = parse_script("before [ after")
    assert s.text == "before after" and s.warnings[0].code == "stray_bracket"


def test_spoken_character_count_excludes_markers_and_cues():
    s = parse_script("<|speaker:0|>[excited]  Hello   there! [laugh] <|speaker:1|>[pause]Yes.", 2)
    assert s.spoken_chars == len("Hello there!") + len("Yes.")
    parse_script("[whisper] " + "a" * 10, max_chars=10)
    with pytest.raises(TextTooLong) as err:
        parse_script("[whisper] " + "a" * 11, max_chars=10)
    assert err.value.code == "text_too_long" and err.value.spoken_chars == 11


def test_cues_only_is_empty_text():
    with pytest.raises(EmptyScript) as err:
        parse_script("[excited] [laugh] <|speaker:0|>")
    assert err.value.code == "empty_text"


def test_positions_point_into_the_source():
    text = "Hi. [sad] Oh no. [sigh]"
    s = parse_script(text)
    assert [text[i.position] for i in s.items] == ["H", "O", "["]
    assert isinstance(s.items[-1], Event)


# --- chunking ----------------------------------------------------------------------------------


def test_sentences_respect_abbreviations_initials_decimals_and_quotes():
    text = (
        "Dr. Smith paid $42.50 on Jan. 3rd. It was J. R. R. Tolkien's book! "
        'He asked "why?" and left. Wait... what? Then... Nothing.\nA heading\nNext.'
    )
    assert split_sentences(text) == [
        "Dr. Smith paid $42.50 on Jan. 3rd.",
        "It was J. R. R. Tolkien's book!",
        'He asked "why?" and left.',
        "Wait... what?",
        "Then...",
        "Nothing.",
        "A heading",
        "Next.",
    ]


def test_chunks_are_sentences_and_long_ones_split_at_clauses_then_words():
    short = chunk_text("One. Two!", 50)
    assert [(c.text, c.boundary) for c in short] == [("One.", SENTENCE), ("Two!", SENTENCE)]
    long = (
        "This is a long sentence, which goes on and on; it has clauses: many of them, and "
        "finally a verylongwordthatcannotbesplitatall at the end of it with more words after it."
    )
    chunks = chunk_text(long, 40)
    words = long.split()
    assert " ".join(c.text for c in chunks).split() == words  # nothing lost, nothing mid-word
    assert all(len(c.text) <= 40 for c in chunks)
    assert chunks[0].boundary == CLAUSE and chunks[-1].boundary == SENTENCE
    assert chunks[0].text.endswith(",")
    assert chunk_text("x" * 60, 40)[0].text == "x" * 60  # a lone giant word stays whole
