"""The Wyoming front-end's pure logic: sentences of streamed text, which voices are offered, and the
caller Wyoming connections act as."""

from __future__ import annotations

import pytest

from server.domain.catalog import SYSTEM_AUTHOR, CatalogItem
from server.domain.errors import InvalidRequest
from server.settings import Settings, WyomingSettings
from server.wyoming.context import wyoming_caller
from server.wyoming.info import exposed
from server.wyoming.sentences import SentenceStream


def feed(text: str, piece: int = 3) -> list[str]:
    """`text` as an LLM streams it: a few characters at a time."""
    stream = SentenceStream()
    out = []
    for start in range(0, len(text), piece):
        out += stream.add(text[start : start + piece])
    rest = stream.finish()
    return out + ([rest] if rest else [])


def test_each_sentence_is_ready_once_text_follows_it():
    stream = SentenceStream()
    assert stream.add("Hello there") == []
    assert stream.add(".") == []  # "Dr." or "etc." end a sentence or not depending on what follows
    assert stream.add(" How") == ["Hello there."]
    assert stream.add(" are you? I") == ["How are you?"]
    assert stream.finish() == "I"


def test_abbreviations_and_initials_do_not_cut_a_sentence():
    assert feed("Dr. Smith met J. R. R. Tolkien at 5 p.m. yesterday. It went well.") == [
        "Dr. Smith met J. R. R. Tolkien at 5 p.m. yesterday.",
        "It went well.",
    ]


def test_a_style_cue_carries_into_later_sentences_until_a_blank_line():
    assert feed("[whispering] Be quiet. The baby sleeps.\n\nNow loud again.") == [
        "[whispering] Be quiet.",
        "[whisper] The baby sleeps.",
        "Now loud again.",
    ]


def test_a_later_style_cue_replaces_the_carried_one():
    assert feed("[excited] We won! [sad] But it is over. Goodbye.") == [
        "[excited] We won!",
        "[excited] [sad] But it is over.",
        "[sad] Goodbye.",
    ]


def test_cues_with_nothing_to_say_join_the_next_sentence():
    assert feed("[laugh]\nThat was funny.") == ["[laugh] That was funny."]
    assert feed("Done. [sigh]") == ["Done."]  # nothing spoken after the last cue: nothing to render


def item(id_: str, author: str = SYSTEM_AUTHOR, visibility: str = "public", state: str = "ready") -> CatalogItem:
    return CatalogItem(id=id_, title=id_, author=author, visibility=visibility, state=state, languages=("en",))


CATALOG = [
    item("en_US-joe-medium"),
    item("voice_pub", author="someone"),
    item("voice_mine", author="wyoming", visibility="private"),
    item("voice_training", author="someone", state="training"),
]


@pytest.mark.parametrize(
    ("settings", "offered"),
    [
        (WyomingSettings(), ["en_US-joe-medium", "voice_pub"]),
        (WyomingSettings(expose=["builtin"]), ["en_US-joe-medium"]),
        (WyomingSettings(expose=["public", "owned"]), ["voice_pub", "voice_mine"]),
        (WyomingSettings(voices=["voice_pub", "voice_mine"]), ["voice_pub"]),  # the list narrows, never widens
    ],
)
def test_only_the_voices_the_operator_exposes_are_offered(settings, offered):
    assert [i.id for i in exposed(CATALOG, settings)] == offered


def test_wyoming_connections_act_as_the_configured_owner_and_plan():
    assert wyoming_caller(Settings()).owner == "wyoming" and wyoming_caller(Settings()).plan is None
    caller = wyoming_caller(Settings(wyoming={"owner": "kitchen", "plan": "basic"}))
    assert caller.owner == "kitchen" and caller.plan.name == "basic" and caller.plan.tts_characters_per_month
    with pytest.raises(InvalidRequest) as raised:
        wyoming_caller(Settings(wyoming={"plan": "gold"}))
    assert raised.value.code == "unknown_plan"


def test_each_wyoming_request_spends_the_plans_hourly_budget():
    """Mocks only the container around the real identity core and in-process limiter (no key cache:
    Wyoming has no keys): the logic under test is admit()."""
    import asyncio
    from types import SimpleNamespace

    from server.auth.budget_reports import BudgetReports
    from server.auth.ratelimit import open_rate_limiter
    from server.domain.errors import RateLimited
    from server.services.container import Counter
    from server.services.identity import Identity
    from server.wyoming.context import WyomingContext

    settings = Settings(wyoming={"plan": "basic"}, auth={"plans": {"basic": {"requests_per_hour": 2}}})
    counter = Counter()
    identity = Identity(settings.auth, None, BudgetReports(open_rate_limiter(settings)), on_refused=counter.increment)
    services = SimpleNamespace(settings=settings, identity=identity, rate_limited=counter)
    ctx = WyomingContext.build(services)
    asyncio.run(ctx.admit())
    asyncio.run(ctx.admit())
    with pytest.raises(RateLimited) as raised:
        asyncio.run(ctx.admit())
    assert raised.value.code == "rate_limited" and services.rate_limited.value == 1
