"""Parser for the TTS script language: speaker markers, style and event cues, escapes.

    Hello <|speaker:1|>[excited] Hi there! [laugh] \\[not a cue]

Output is a flat list of SpeechRun / Event items in order. Rules (the product contract):
- `<|speaker:N|>` switches to the N-th voice; text before any marker is speaker 0. N out of range
  or any other `<|…|>` is an error naming the marker and its character position.
- `[style]` applies until the next style cue, speaker change or blank line; `[event]` inserts a
  sound or silence and leaves the style alone. Unknown cues are dropped with a warning, never
  spoken. `\\[` / `\\]` / `\\\\` write literal characters.
- Whitespace is collapsed; single newlines are kept (the chunker treats them as boundaries).
- `spoken_chars` counts only speech text, which is what a per-call character cap applies to.
Pure Python: no audio libraries are imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engines.tts.emotion import resolve_cue
from engines.tts.types import EmptyScript, InvalidMarker, SpeakerOutOfRange, TextTooLong


@dataclass(frozen=True)
class SpeechRun:
    text: str
    speaker: int
    style: str | None  # canonical style name, None = neutral
    paragraph: int  # increments at each blank line; the renderer pauses longer between them
    position: int  # character offset of the run's first character in the source text


@dataclass(frozen=True)
class Event:
    name: str  # canonical event name (emotion.EVENTS)
    speaker: int
    position: int


@dataclass(frozen=True)
class ScriptWarning:
    code: str  # "unknown_cue" | "stray_bracket"
    message: str
    position: int
    cue: str | None = None


@dataclass
class Script:
    items: list[SpeechRun | Event]
    warnings: list[ScriptWarning] = field(default_factory=list)
    spoken_chars: int = 0

    @property
    def speakers(self) -> list[int]:
        return sorted({i.speaker for i in self.items})

    @property
    def text(self) -> str:
        """The spoken text only, as a transcript of the result should read."""
        return " ".join(i.text for i in self.items if isinstance(i, SpeechRun))


_TOKEN = re.compile(
    r"(?P<escape>\\[\[\]\\])"
    r"|(?P<speaker><\|\s*speaker\s*:\s*(?P<n>\d+)\s*\|>)"
    r"|(?P<marker><\|[^\n]{0,40}?\|>)"
    r"|(?P<cue>\[(?P<body>[^\[\]\n]{0,80})\])"
    r"|(?P<para>\n[ \t\r]*\n\s*)"
    r"|(?P<stray>[\[\]])",
    re.IGNORECASE,
)


def parse_script(text: str, num_speakers: int | None = None, max_chars: int | None = None) -> Script:
    """Parse `text`; `num_speakers` (len(model_ids)) bounds speaker markers when given.

    Raises SpeakerOutOfRange, InvalidMarker, EmptyScript (no spoken text) or TextTooLong.
    """
    items: list[SpeechRun | Event] = []
    warnings: list[ScriptWarning] = []
    speaker, style, paragraph = 0, None, 0
    buf: list[str] = []
    buf_start = 0

    def flush() -> None:
        raw = "".join(buf)
        buf.clear()
        cleaned = _normalise_ws(raw)
        if cleaned:
            lead = len(raw) - len(raw.lstrip())
            items.append(SpeechRun(cleaned, speaker, style, paragraph, buf_start + lead))

    def add_text(s: str, at: int) -> None:
        nonlocal buf_start
        if not buf:
            buf_start = at
        buf.append(s)

    pos = 0
    escaped_open = 0  # an escaped "[" still open: its "]" is literal too, not a stray
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            add_text(text[pos : m.start()], pos)
        pos = m.end()
        kind = next(k for k in ("escape", "speaker", "marker", "cue", "para", "stray") if m.group(k))
        if kind == "escape":
            add_text(m.group()[1], m.start())
            escaped_open += {"[": 1, "]": -1}.get(m.group()[1], 0)
        elif kind == "speaker":
            n = int(m.group("n"))
            if num_speakers is not None and n >= num_speakers:
                raise SpeakerOutOfRange(m.group(), m.start(), n, num_speakers)
            flush()
            if n != speaker:
                style = None  # a style belongs to the speaker who was given it
            speaker = n
        elif kind == "marker":
            raise InvalidMarker(m.group(), m.start())
        elif kind == "para":
            flush()
            paragraph += 1
            style = None
        elif kind == "stray" and m.group() == "]" and escaped_open > 0:
            escaped_open -= 1
            add_text("]", m.start())
        elif kind == "stray":
            warnings.append(
                ScriptWarning(
                    "stray_bracket",
                    f"unmatched {m.group()!r} at character {m.start()} was dropped (write \\[ for a literal bracket)",
                    m.start(),
                )
            )
        else:
            body = m.group("body")
            resolved = resolve_cue(body)
            if resolved is None:
                warnings.append(
                    ScriptWarning(
                        "unknown_cue", f"unknown cue [{body}] at character {m.start()} was ignored", m.start(), body
                    )
                )
                continue
            cue_kind, name = resolved
            flush()
            if cue_kind == "event":
                items.append(Event(name, speaker, m.start()))
            else:
                style = None if name == "neutral" else name
    if pos < len(text):
        add_text(text[pos:], pos)
    flush()

    spoken = sum(len(i.text) for i in items if isinstance(i, SpeechRun))
    if spoken == 0:
        raise EmptyScript("the text has nothing to speak once markers and cues are removed")
    if max_chars is not None and spoken > max_chars:
        raise TextTooLong(spoken, max_chars)
    return Script(items=items, warnings=warnings, spoken_chars=spoken)


def _normalise_ws(s: str) -> str:
    # Runs of spaces/tabs become one space; line breaks survive as single "\n" so that headings
    # and list lines without final punctuation still end a sentence.
    lines = (" ".join(line.split()) for line in s.splitlines())
    return "\n".join(line for line in lines if line)
