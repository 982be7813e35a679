"""Catalog queries: who sees what, fuzzy titles, AND-combined filters, sort orders and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from server.domain.catalog import (
    MATCH_THRESHOLD,
    CatalogItem,
    CatalogQuery,
    language_matches,
    search,
    text_score,
    visible_to,
)
from server.domain.errors import InvalidRequest

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def item(id_: str, title: str = "", **changes) -> CatalogItem:
    return CatalogItem(id=id_, title=title or id_, **changes)


def clone(id_: str, title: str, author: str = "alice", visibility: str = "public", **changes) -> CatalogItem:
    return CatalogItem(id=id_, title=title, author=author, visibility=visibility, **changes)


def ids(page) -> list[str]:
    return [i.id for i in page.items]


CATALOG = [
    item("joe", "Joe (US English)", languages=("en_US",), tags=("male", "piper"), task_count=50),
    item("amy", "Amy (US English)", languages=("en-US",), tags=("female", "piper"), task_count=20),
    item("alba", "Alba (British English)", languages=("en_GB",), tags=("female", "piper"), task_count=5),
    clone("narr", "Narrator", languages=("en",), tags=("Calm",), created_at=T0, task_count=3),
    clone("calm", "Calm female narrator", languages=("en", "de"), tags=("calm", "female"), created_at=T0),
    clone("deep", "Deep male voice", languages=("fr-FR",), tags=("male",), created_at=T0 + timedelta(days=2)),
    clone("zebra", "Zebra documentary", languages=("en-GB",), created_at=T0 + timedelta(days=1)),
    clone("secret", "Narrator (Alice private)", visibility="private", created_at=T0 + timedelta(days=3)),
    clone("bobs", "Narrator (Bob private)", author="bob", visibility="private", created_at=T0 + timedelta(days=4)),
]


def run(owner="alice", **query):
    return search(CATALOG, CatalogQuery(page_size=100, **query), owner)


# -- fuzzy titles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "title", "expected"),
    [
        ("Narator", "Narrator", 93.3),
        ("joe", "Joe (US English)", 100.0),
        ("calm femal", "Calm female narrator", 100.0),
        ("anchr", "News anchor", 90.9),
        ("storyteler", "Storyteller grandpa", 95.2),
        ("joe", "Joe (US English) - warm, friendly voice for long-form narration", 100.0),
        ("zebra", "Narrator", 36.0),
        ("bob", "Joe (US English)", 36.0),
        ("amy", "Calm female narrator", 60.0),
        ("jie", "Joe (US English)", 66.7),
        ("mal", "Alba (British English)", 72.0),
    ],
)
def test_measured_scores_documented_in_the_module(query, title, expected):
    score = text_score(query, title)
    assert score == pytest.approx(expected, abs=0.1)
    assert (score >= MATCH_THRESHOLD) == (expected >= MATCH_THRESHOLD)


def test_misspelt_title_finds_the_voice_first():
    # Every title holding "narrator" scores the same; the closest whole title comes first.
    assert ids(run(title="Narator")) == ["narr", "calm", "secret"]
    assert ids(run(title="narrator alice")) == ["secret", "narr", "calm"]


@pytest.mark.parametrize(("title", "first"), [("joe", "joe"), ("calm femal", "calm"), ("zebra documentry", "zebra")])
def test_partial_and_misspelt_titles(title, first):
    assert ids(run(title=title))[0] == first


def test_unrelated_title_finds_nothing():
    page = run(title="xylophone")
    assert page.total == 0 and page.items == () and page.has_more is False


def test_short_queries_match_word_starts_only():
    assert set(ids(run(title="jo"))) == {"joe"}
    assert set(ids(run(title="us"))) == {"joe", "amy"}


def test_description_counts_below_the_title():
    items = [
        item("d", "Plain voice", description="Great for audiobook narration"),
        item("t", "Audiobook reader"),
        item("x", "Other", description="Nothing relevant"),
    ]
    page = search(items, CatalogQuery(title="audiobook"), None)
    assert ids(page) == ["t", "d"]


# -- filters --------------------------------------------------------------------------------------


def test_tags_are_and_combined_and_case_insensitive():
    assert set(ids(run(tags=("female",)))) == {"amy", "alba", "calm"}
    assert set(ids(run(tags=("FEMALE", "Piper")))) == {"amy", "alba"}
    assert set(ids(run(tags=("calm",)))) == {"narr", "calm"}  # "Calm" on narr
    assert ids(run(tags=("female", "male"))) == []


@pytest.mark.parametrize(
    ("wanted", "offered", "match"),
    [
        ("en", "en_US", True),
        ("en", "en-GB", True),
        ("en-US", "en_US", True),
        ("EN_us", "en-US", True),
        ("en-US", "en", True),  # a multilingual voice that says only "en" speaks US English
        ("en-US", "en-GB", False),
        ("en", "de", False),
        ("e", "en", False),
        ("", "en", False),
    ],
)
def test_language_matching(wanted, offered, match):
    assert language_matches(wanted, offered) is match


def test_language_filters_are_and_combined():
    assert set(ids(run(languages=("en",)))) == {"joe", "amy", "alba", "narr", "calm", "zebra"}
    assert set(ids(run(languages=("en-GB",)))) == {"alba", "narr", "calm", "zebra"}
    assert set(ids(run(languages=("en", "de")))) == {"calm"}
    assert set(ids(run(languages=("fr",)))) == {"deep"}


def test_filters_combine_with_the_title():
    assert ids(run(title="narrator", tags=("female",), languages=("de",))) == ["calm"]
    assert ids(run(title="narrator", tags=("male",))) == []


# -- sorting --------------------------------------------------------------------------------------


def test_default_order_is_popularity_then_newest_then_id():
    # joe 50, amy 20, alba 5, narr 3; then the zero-count clones newest first; "calm" (T0) last.
    assert ids(run()) == ["joe", "amy", "alba", "narr", "secret", "deep", "zebra", "calm"]


def test_sort_by_task_count_breaks_ties_on_id():
    assert ids(run(sort_by="task_count")) == ["joe", "amy", "alba", "narr", "calm", "deep", "secret", "zebra"]


def test_sort_by_created_at_is_newest_first_and_builtins_last():
    assert ids(run(sort_by="created_at")) == ["secret", "deep", "zebra", "calm", "narr", "alba", "amy", "joe"]


def test_sort_by_task_count_keeps_the_title_filter():
    assert ids(run(title="narrator", sort_by="task_count")) == ["narr", "calm", "secret"]


def test_equal_items_sort_stably_by_id():
    twins = [item(f"v{i}", "Same title") for i in (3, 1, 2)]
    for sort_by in ("score", "task_count", "created_at"):
        assert ids(search(twins, CatalogQuery(sort_by=sort_by), None)) == ["v1", "v2", "v3"]
        assert ids(search(twins, CatalogQuery(sort_by=sort_by, title="same"), None)) == ["v1", "v2", "v3"]


def test_naive_and_aware_creation_times_sort_together():
    items = [item("naive", created_at=datetime(2024, 6, 1)), item("aware", created_at=T0)]
    assert ids(search(items, CatalogQuery(sort_by="created_at"), None)) == ["naive", "aware"]


# -- pagination -----------------------------------------------------------------------------------


def test_pages_split_the_ordered_matches():
    everything = ids(run())
    pages = [search(CATALOG, CatalogQuery(page_size=3, page_number=n), "alice") for n in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [8] * 4
    assert [ids(p) for p in pages] == [everything[0:3], everything[3:6], everything[6:8], []]
    assert [p.has_more for p in pages] == [True, True, False, False]


def test_exactly_full_last_page_has_no_more():
    items = [item(f"v{i}") for i in range(10)]
    page = search(items, CatalogQuery(page_size=5, page_number=2), None)
    assert len(page.items) == 5 and page.total == 10 and page.has_more is False
    assert search(items, CatalogQuery(page_size=100), None).has_more is False


@pytest.mark.parametrize(
    "bad",
    [
        {"page_size": 0},
        {"page_size": 101},
        {"page_number": 0},
        {"sort_by": "title"},
        {"title": "x" * 201},
        {"tags": tuple(f"t{i}" for i in range(21))},
    ],
)
def test_invalid_queries_are_client_errors(bad):
    with pytest.raises(InvalidRequest):
        CatalogQuery(**bad)


def test_query_values_are_normalised():
    query = CatalogQuery(title="  ", tags="calm, female,,calm", languages=["en", " "])
    assert query.title is None and query.tags == ("calm", "female") and query.languages == ("en",)
    assert CatalogQuery().page_size == 10 and CatalogQuery().page_number == 1 and CatalogQuery().sort_by == "score"


# -- visibility -----------------------------------------------------------------------------------


def test_another_owners_private_voice_never_appears():
    for owner in ("alice", "carol", None):
        for query in ({}, {"title": "Narrator Bob private"}, {"sort_by": "created_at"}, {"self_only": True}):
            assert "bobs" not in ids(run(owner=owner, **query))
    assert "bobs" in ids(run(owner="bob"))
    assert "secret" not in ids(run(owner=None))


def test_visible_to_is_builtins_public_and_own():
    seen = {i.id for i in visible_to(CATALOG, "alice")}
    assert seen == {"joe", "amy", "alba", "narr", "calm", "deep", "zebra", "secret"}
    odd = clone("odd", "Future visibility", author="bob", visibility="unlisted")
    assert visible_to([odd], "alice") == []  # unknown visibility fails closed


def test_self_only_keeps_the_callers_clones():
    assert set(ids(run(self_only=True))) == {"narr", "calm", "deep", "zebra", "secret"}
    assert ids(run(owner="bob", self_only=True)) == ["bobs"]
    assert ids(run(owner=None, self_only=True)) == []
    assert ids(run(owner="system", self_only=True)) == []  # built-ins are nobody's own


def test_from_voice_maps_a_stored_model():
    model = SimpleNamespace(
        id="voice_1",
        title="Mine",
        description="d",
        languages=["en"],
        tags=["calm"],
        visibility="private",
        engine="xtts",
        owner="alice",
        created_at=T0,
    )
    entry = CatalogItem.from_voice(model, task_count=4)
    assert (entry.author, entry.languages, entry.task_count, entry.state, entry.builtin) == (
        "alice",
        ("en",),
        4,
        "ready",
        False,
    )
