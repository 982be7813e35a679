"""What `GET /v1/models` shows: visibility, filters, fuzzy title search, sorting and pages. Pure functions, no I/O.

Fuzzy title scores (0-100) are the best of two rapidfuzz views of the lowercased, punctuation-free text:
  * `fuzz.WRatio` on the whole strings: whole-title typos and partial titles;
  * a per-word score: each query word against its best title word (100 when it is the start of that
    word, so "femal" finds "female"; else `fuzz.ratio`), averaged over the query words. WRatio alone
    caps short queries against long titles at 60, so "joe" would miss a long "Joe ..." title.
The description counts at DESCRIPTION_WEIGHT: a description-only hit scores at most 80, below any exact title word.

MATCH_THRESHOLD = 75, from scores measured with rapidfuzz 3.14.6 (asserted in tests/unit/test_catalog.py):
  accepted: "Narator"/"Narrator" 93.3, "joe"/"Joe (US English)" 100, "calm femal"/"Calm female narrator" 100,
            "anchr"/"News anchor" 90.9, "storyteler"/"Storyteller grandpa" 95.2, "naration"/"Narrator" 75.0;
  rejected: "zebra"/"Narrator" 36, "bob"/"Joe (US English)" 36, "amy"/"Calm female narrator" 60,
            "jie"/"Joe (US English)" 66.7, "mal"/"Alba (British English)" 72 (noisy 3-letter partials).
  75 is where one typo in a word of 4+ letters still passes (a substitution in 4 letters scores 75).
  Known near-miss that passes: "female"/"Deep male voice" 80 ("male" is "female" less 2 letters);
  it ranks below the real "female" hits, which score 100.
Queries under 3 characters match word prefixes only: a lone "a" is "partially" in nearly every title.

Language codes are compared by subtags, case- and separator-insensitively, and one side may be less
specific: "en" matches "en_US" and "en-GB" items, and an "en-US" query matches an item that says only
"en" (a multilingual engine speaks it); "en-US" does not match "en-GB".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rapidfuzz import fuzz, utils

from server.domain.errors import InvalidRequest

SYSTEM_AUTHOR = "system"  # the author of built-in voices; never an API key's owner
SORT_KEYS = ("score", "task_count", "created_at")
MAX_PAGE_SIZE = 100
MAX_FILTER_VALUES = 20
MAX_TITLE_CHARS = 200  # scoring is linear in query length × catalog size; bound the work a request can ask for
MATCH_THRESHOLD = 75.0
DESCRIPTION_WEIGHT = 0.8
SHORT_QUERY_CHARS = 3


@dataclass(frozen=True)
class CatalogItem:
    id: str
    title: str
    description: str = ""
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    visibility: str = "public"
    engine: str = ""
    author: str = SYSTEM_AUTHOR
    created_at: datetime | None = None
    task_count: int = 0
    state: str = "ready"

    @property
    def builtin(self) -> bool:
        return self.author == SYSTEM_AUTHOR

    @staticmethod
    def from_voice(model: Any, task_count: int = 0, state: str = "ready") -> CatalogItem:
        """From a model_store VoiceModel (duck-typed, so this module stays free of the store)."""
        return CatalogItem(
            id=model.id,
            title=model.title,
            description=model.description,
            languages=tuple(model.languages),
            tags=tuple(model.tags),
            visibility=model.visibility,
            engine=model.engine,
            author=model.owner,
            created_at=model.created_at,
            task_count=task_count,
            state=state,
        )


def _clean_values(values: Iterable[str] | str | None, name: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = values.split(",")  # "?tags=a,b" and "?tags=a&tags=b" mean the same
    cleaned = tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    if len(cleaned) > MAX_FILTER_VALUES:
        raise InvalidRequest(f"at most {MAX_FILTER_VALUES} {name}", code="invalid_query")
    return cleaned


@dataclass(frozen=True)
class CatalogQuery:
    page_size: int = 10
    page_number: int = 1
    title: str | None = None
    tags: tuple[str, ...] = field(default=())
    languages: tuple[str, ...] = field(default=())
    sort_by: str = "score"
    self_only: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"page_size must be 1-{MAX_PAGE_SIZE}", code="invalid_query")
        if self.page_number < 1:
            raise InvalidRequest("page_number must be 1 or more", code="invalid_query")
        if self.sort_by not in SORT_KEYS:
            raise InvalidRequest(f"sort_by must be one of {', '.join(SORT_KEYS)}", code="invalid_query")
        title = (self.title or "").strip() or None
        if title is not None and len(title) > MAX_TITLE_CHARS:
            raise InvalidRequest(f"title must be at most {MAX_TITLE_CHARS} characters", code="invalid_query")
        object.__setattr__(self, "title", title)
        object.__setattr__(self, "tags", _clean_values(self.tags, "tags"))
        object.__setattr__(self, "languages", _clean_values(self.languages, "languages"))


@dataclass(frozen=True)
class CatalogPage:
    total: int
    items: tuple[CatalogItem, ...]
    has_more: bool


def visible_to(items: Iterable[CatalogItem], owner: str | None, *, self_only: bool = False) -> list[CatalogItem]:
    """Built-ins, public clones and the caller's own private ones; `self_only` keeps only the caller's clones."""
    if self_only:
        return [i for i in items if owner is not None and i.author == owner and not i.builtin]
    # Anything not explicitly public is private: an unknown visibility value fails closed.
    return [i for i in items if i.builtin or i.visibility == "public" or (owner is not None and i.author == owner)]


def text_score(query: str, text: str) -> float:
    """How well `query` matches `text`, 0-100 (see the module docstring)."""
    q, t = utils.default_process(query), utils.default_process(text)
    q_words, t_words = q.split(), t.split()
    if not q_words or not t_words:
        return 0.0
    if len(q) < SHORT_QUERY_CHARS:
        return 100.0 if any(w.startswith(q) for w in t_words) else 0.0

    def word_score(word: str) -> float:
        if len(word) >= 2 and any(w.startswith(word) for w in t_words):
            return 100.0
        return max(fuzz.ratio(word, w) for w in t_words)

    per_word = sum(word_score(w) for w in q_words) / len(q_words)
    return max(fuzz.WRatio(q, t), per_word)


def relevance(query: str, item: CatalogItem) -> tuple[float, float]:
    """(match score, whole-title closeness): the second ranks "Narrator" above "Calm female narrator"
    for "narator", where every word of the query matches both equally well."""
    score = text_score(query, item.title)
    if item.description and score < DESCRIPTION_WEIGHT * 100.0:  # else the description can't raise it
        score = max(score, DESCRIPTION_WEIGHT * text_score(query, item.description))
    return score, fuzz.ratio(utils.default_process(query), utils.default_process(item.title))


def _subtags(language: str) -> tuple[str, ...]:
    return tuple(s for s in language.lower().replace("_", "-").split("-") if s)


def language_matches(wanted: str, offered: str) -> bool:
    a, b = _subtags(wanted), _subtags(offered)
    if not a or not b:
        return False
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _matches_filters(item: CatalogItem, query: CatalogQuery) -> bool:
    item_tags = {t.casefold() for t in item.tags}
    if not all(t.casefold() in item_tags for t in query.tags):
        return False
    return all(any(language_matches(lang, offered) for offered in item.languages) for lang in query.languages)


def _timestamp(item: CatalogItem) -> float:
    # Built-ins have no creation time: they sort after every dated item when newest comes first.
    if item.created_at is None:
        return -math.inf
    created = item.created_at if item.created_at.tzinfo else item.created_at.replace(tzinfo=UTC)
    return created.timestamp()


def _popularity(item: CatalogItem) -> tuple[float, float, str]:
    return (-item.task_count, -_timestamp(item), item.id)


def search(items: Iterable[CatalogItem], query: CatalogQuery, owner: str | None) -> CatalogPage:
    candidates = [i for i in visible_to(items, owner, self_only=query.self_only) if _matches_filters(i, query)]
    scores: dict[str, tuple[float, float]] = {}
    if query.title is not None:
        scores = {i.id: relevance(query.title, i) for i in candidates}
        candidates = [i for i in candidates if scores[i.id][0] >= MATCH_THRESHOLD]

    ordered: Sequence[CatalogItem]
    if query.sort_by == "task_count":
        ordered = sorted(candidates, key=lambda i: (-i.task_count, i.id))
    elif query.sort_by == "created_at":
        ordered = sorted(candidates, key=lambda i: (-_timestamp(i), i.id))
    elif scores:
        ordered = sorted(candidates, key=lambda i: (-scores[i.id][0], -scores[i.id][1], *_popularity(i)))
    else:
        ordered = sorted(candidates, key=_popularity)

    start = (query.page_number - 1) * query.page_size
    return CatalogPage(
        total=len(ordered),
        items=tuple(ordered[start : start + query.page_size]),
        has_more=query.page_number * query.page_size < len(ordered),
    )
