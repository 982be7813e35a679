"""Text that arrives in pieces (an LLM's answer, token by token), cut into sentences as soon as each
one is complete, so each can be spoken while the rest is still being written.

Sentence boundaries are the TTS chunker's own (abbreviations, initials, "..." before lower case). A
sentence counts as complete once text follows its end, because whether "Dr." or "etc." ends a
sentence depends on what comes next. Each sentence is rendered on its own, so the script language's
state that spans sentences is carried into the next one: a `[style]` cue stays in effect until the
next style cue or blank line, and a sentence that is only cues (nothing to speak) is prepended to the
next one.
"""

from __future__ import annotations

from engines.tts.chunking import split_sentences
from engines.tts.script import SpeechRun, parse_script
from engines.tts.types import EmptyScript, ScriptError


class SentenceStream:
    def __init__(self) -> None:
        self._buffer = ""
        self._style: str | None = None  # the style cue in effect at the end of the last sentence
        self._pending = ""  # cues with nothing to speak yet, waiting for the next sentence

    def add(self, text: str) -> list[str]:
        """The sentences `text` completed, ready to speak (with the cues they inherit)."""
        self._buffer += text
        pieces = split_sentences(self._buffer)
        ready, position = [], 0
        for piece in pieces[:-1]:  # the last one may still grow
            start = self._buffer.find(piece, position)
            if _blank_line(self._buffer[position:start]):
                self._style = None  # a blank line ends a style, as in one whole script
            position = start + len(piece)
            if sentence := self._ready(piece):
                ready.append(sentence)
        self._buffer = self._buffer[position:]  # keeps the gap before the last piece: it may hold a blank line
        return ready

    def finish(self) -> str | None:
        """The rest, once the text has ended (None: nothing left to speak)."""
        rest, self._buffer = self._buffer, ""
        if _blank_line(rest[: len(rest) - len(rest.lstrip())]):
            self._style = None
        return self._ready(rest.strip()) if rest.strip() else None

    def _ready(self, sentence: str) -> str | None:
        text = self._pending + sentence
        # The carried style first: a style cue of the sentence's own, later in the text, still wins.
        prefixed = f"[{self._style}] {text}" if self._style else text
        try:
            script = parse_script(prefixed)
        except EmptyScript:
            self._pending = text + " "  # only cues: they belong to what is said next
            return None
        except ScriptError:
            self._pending = ""
            return prefixed  # the renderer reports the error with its position
        self._pending = ""
        runs = [item for item in script.items if isinstance(item, SpeechRun)]
        self._style = runs[-1].style if runs else self._style
        return prefixed


def _blank_line(gap: str) -> bool:
    return gap.count("\n") >= 2 and not gap.strip()
