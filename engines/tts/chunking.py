"""Sentence-boundary chunking for synthesis.

Small neural voices are best on one sentence at a time: attention/duration errors grow with input
length, and a sentence is the unit whose final intonation the voice was trained on. So each
sentence becomes one chunk; only a sentence longer than `max_chars` is split, first at clause
punctuation, then at whitespace, never inside a word. Each chunk records what boundary follows it
so the renderer can choose the pause length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SENTENCE, CLAUSE, WORD = "sentence", "clause", "word"

# fmt: off
# Abbreviations after which a period does not end a sentence (compared lower-case, without ".").
_TITLES = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "no", "nos", "fig", "figs", "approx",
    "dept", "gen", "col", "lt", "sgt", "capt", "rev", "hon", "gov", "sen", "rep", "est", "ft", "vol",
    "op", "ch", "pp",
})
# These end sentences often enough that they only count as one before a capital letter.
_SOFT = frozenset({
    "etc", "inc", "ltd", "co", "corp", "e.g", "i.e", "a.m", "p.m", "u.s", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
# fmt: on

_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s)""")
_CLAUSE = re.compile(r"""[,;:)]["'”’]*(?=\s)|\s[-–—]+(?=\s)|[–—](?=\S)""")


@dataclass(frozen=True)
class Chunk:
    text: str
    boundary: str  # what follows: "sentence" | "clause" | "word" (the last chunk: "sentence")


def split_sentences(text: str) -> list[str]:
    """Sentences in order; line breaks always end one (headings, list items)."""
    out: list[str] = []
    for line in text.split("\n"):
        start = 0
        for m in _END.finditer(line):
            if _is_boundary(line, m):
                out.append(line[start : m.end()].strip())
                start = m.end()
        out.append(line[start:].strip())
    return [s for s in out if s]


def _is_boundary(line: str, m: re.Match) -> bool:
    punct = m.group()
    rest = line[m.end() :].lstrip()
    if not rest:
        return True
    if punct.startswith(("..", "…")):
        return rest[0].isupper()  # "Wait... what" trails off; "Wait... What" starts anew
    if punct[0] in "!?":
        return not rest[0].islower()  # 'He asked "why?" and left.' is one sentence
    word = re.search(r"(\S+)$", line[: m.start()])
    token = word.group(1).lower().lstrip("(\"'“‘") if word else ""
    if token in _TITLES:
        return False
    if len(token) == 1 and token.isalpha():
        return False  # an initial: "J. R. R. Tolkien"
    if token in _SOFT or re.fullmatch(r"(?:[a-z]\.)+[a-z]", token):
        return rest[0].isupper()
    return True


def chunk_text(text: str, max_chars: int = 250) -> list[Chunk]:
    """Split `text` into chunks of at most `max_chars` (a single longer word stays whole)."""
    chunks: list[Chunk] = []
    for sentence in split_sentences(text):
        parts = _split_long(sentence, max_chars)
        chunks += [Chunk(p, b) for p, b in parts[:-1]] + [Chunk(parts[-1][0], SENTENCE)]
    return chunks


def _split_long(sentence: str, max_chars: int) -> list[tuple[str, str]]:
    if len(sentence) <= max_chars:
        return [(sentence, SENTENCE)]
    # Clauses, each keeping its punctuation, then packed greedily back up to max_chars.
    clauses, start = [], 0
    for m in _CLAUSE.finditer(sentence):
        clauses.append(sentence[start : m.end()].strip())
        start = m.end()
    clauses.append(sentence[start:].strip())
    pieces: list[tuple[str, str]] = []
    for clause in filter(None, clauses):
        if len(clause) <= max_chars:
            pieces.append((clause, CLAUSE))
        else:
            pieces += [(w, WORD) for w in _pack(clause.split(" "), max_chars)]
            pieces[-1] = (pieces[-1][0], CLAUSE)
    packed: list[tuple[str, str]] = []
    for piece, boundary in pieces:
        if packed and len(packed[-1][0]) + 1 + len(piece) <= max_chars:
            packed[-1] = (packed[-1][0] + " " + piece, boundary)
        else:
            packed.append((piece, boundary))
    return packed


def _pack(words: list[str], max_chars: int) -> list[str]:
    lines: list[str] = []
    for w in filter(None, words):
        if lines and len(lines[-1]) + 1 + len(w) <= max_chars:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return lines
