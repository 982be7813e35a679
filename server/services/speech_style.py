"""Free-text speaking instructions ("speak calmly and a little slowly") to one of our style cues.

Any front-end whose clients describe a manner of speaking in words (OpenAI's `instructions`) uses
this. The script language has one style per run, so the first known style word wins; the words
that did not map to a style are returned so the caller can say what was ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engines.tts.emotion import resolve_cue

_WORDS = re.compile(r"[A-Za-z][A-Za-z'-]*")


@dataclass(frozen=True)
class StyleChoice:
    style: str | None  # a canonical style name, e.g. "calm"; None when no word was understood
    matched: str | None  # the words it came from
    ignored: str  # the instructions without them, as given ("" when nothing is left)

    def cue(self) -> str:
        return f"[{self.style}] " if self.style else ""


def style_from_instructions(instructions: str | None) -> StyleChoice:
    text = (instructions or "").strip()
    words = list(_WORDS.finditer(text))
    for size in (3, 2, 1):  # longest phrase first: "in a hurry" before "hurry"
        for i in range(len(words) - size + 1):
            span = text[words[i].start() : words[i + size - 1].end()]
            found = resolve_cue(span)
            if found is not None and found[0] == "style":
                rest = (text[: words[i].start()] + text[words[i + size - 1].end() :]).strip()
                return StyleChoice(found[1], span, " ".join(rest.split()))
    return StyleChoice(None, None, " ".join(text.split()))
