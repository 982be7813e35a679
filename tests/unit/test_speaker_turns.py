"""Per-turn naming after the cluster match (engines/speaker_id/turns.py), on synthetic embeddings:
the decision logic only (the real encoder is exercised by tests/api/test_known_speakers.py)."""

from __future__ import annotations

import numpy as np

from engines.speaker_id.matching import Match, Voiceprint
from engines.speaker_id.turns import TurnConfig, cut_turns, cut_view, follow, join, name_diarization, name_turns
from engines.types import SpeakerTurn

BASIS = np.linalg.qr(np.random.default_rng(3).standard_normal((8, 8)))[0]  # one direction per voice
PRINTS = [Voiceprint(f"spk_{i}", f"P{i}", BASIS[i][None], "enc") for i in (1, 2)]
CFG = TurnConfig(min_turn_s=1.0, threshold=0.45, margin=0.1, reject_below=0.4, inherit_score=0.7, piece_s=0.0)


def match(i: int, score: float = 0.8) -> Match:
    return Match(f"spk_{i}", f"P{i}", score)


def turns(*labels: str) -> list[SpeakerTurn]:
    return [SpeakerTurn(2.0 * k, 2.0 * k + 1.5, label) for k, label in enumerate(labels)]


def test_a_merged_clusters_turns_go_to_whoever_each_is():
    # SPEAKER_00 was named P1, but its second turn is clearly P2's, who names SPEAKER_01
    naming = name_turns(
        turns("SPEAKER_00", "SPEAKER_00", "SPEAKER_01"),
        [BASIS[1], BASIS[2], BASIS[2]],
        {"SPEAKER_00": match(1), "SPEAKER_01": match(2)},
        PRINTS,
        CFG,
    )
    assert [t.speaker for t in naming.turns] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_01"]
    assert naming.relabelled == {1: "SPEAKER_01"}


def test_a_strangers_turn_inside_a_named_cluster_loses_the_name():
    naming = name_turns(
        turns("SPEAKER_00", "SPEAKER_00", "SPEAKER_00"),
        [BASIS[1], BASIS[5], BASIS[6]],  # two strangers absorbed into P1's cluster
        {"SPEAKER_00": match(1)},
        PRINTS,
        CFG,
    )
    new = naming.turns[1].speaker
    assert naming.turns[0].speaker == "SPEAKER_00" and new not in {"SPEAKER_00"}
    assert naming.turns[2].speaker == new  # one anonymous label for what the cluster rejected
    assert new not in naming.identities


def test_a_weak_but_unrivalled_turn_keeps_its_clusters_name():
    turn = 0.42 * BASIS[1] + np.sqrt(1 - 0.42**2) * BASIS[5]  # 0.42 with P1: too weak to claim, not to keep
    naming = name_turns(turns("SPEAKER_00"), [turn], {"SPEAKER_00": match(1)}, PRINTS, CFG)
    assert naming.relabelled == {}


def test_an_anonymous_clusters_turn_that_is_clearly_someone_gets_one_label_for_them():
    naming = name_turns(
        turns("SPEAKER_00", "SPEAKER_00", "SPEAKER_01"),
        [BASIS[5], BASIS[2], BASIS[2]],  # P2 names no cluster; two turns of two clusters are P2's
        {},
        PRINTS,
        CFG,
    )
    labels = [t.speaker for t in naming.turns]
    assert labels[0] == "SPEAKER_00" and labels[1] == labels[2] not in {"SPEAKER_00", "SPEAKER_01"}
    assert naming.identities[labels[1]] == Match("spk_2", "P2", 1.0)


def test_an_ambiguous_turn_is_given_to_nobody():
    both = (BASIS[1] + BASIS[2]) / np.sqrt(2)  # 0.71 with each: no margin
    naming = name_turns(turns("SPEAKER_00"), [both], {}, PRINTS, CFG)
    assert naming.relabelled == {} and naming.identities == {}


def test_short_turns_follow_only_a_strong_cluster_match():
    strong = name_turns(turns("SPEAKER_00"), [None], {"SPEAKER_00": match(1, 0.75)}, PRINTS, CFG)
    assert strong.relabelled == {}
    weak = name_turns(turns("SPEAKER_00", "SPEAKER_00"), [None, BASIS[1]], {"SPEAKER_00": match(1, 0.6)}, PRINTS, CFG)
    assert weak.turns[0].speaker != "SPEAKER_00" and weak.turns[1].speaker == "SPEAKER_00"
    anonymous = name_turns(turns("SPEAKER_03"), [None], {}, PRINTS, CFG)
    assert anonymous.turns[0].speaker == "SPEAKER_03"


def test_new_labels_never_collide_with_the_diarizers():
    naming = name_turns(
        turns("SPEAKER_00", "SPEAKER_01", "SPEAKER_02"),
        [BASIS[6], BASIS[1], BASIS[5]],
        {"SPEAKER_00": match(1)},  # its only turn is a stranger's; P1 speaks in SPEAKER_01
        PRINTS,
        CFG,
    )
    labels = [t.speaker for t in naming.turns]
    assert labels[1] == "SPEAKER_00"  # P1's turn joins P1's label
    assert labels[0] not in {"SPEAKER_00", "SPEAKER_01", "SPEAKER_02"} and labels[2] == "SPEAKER_02"


def test_reference_voiceprints_without_ids_are_told_apart_by_name():
    refs = [Voiceprint("", "Ann", BASIS[1][None], "enc"), Voiceprint("", "Bob", BASIS[2][None], "enc")]
    naming = name_turns(
        turns("SPEAKER_00", "SPEAKER_00"), [BASIS[1], BASIS[2]], {"SPEAKER_00": Match("", "Ann", 0.8)}, refs, CFG
    )
    bob = naming.turns[1].speaker
    assert bob != "SPEAKER_00" and naming.identities[bob].name == "Bob"


def test_the_other_view_follows_the_relabelled_turns():
    before = [SpeakerTurn(0.0, 4.0, "A"), SpeakerTurn(5.0, 9.0, "A"), SpeakerTurn(3.0, 6.0, "B")]
    after = [SpeakerTurn(0.0, 4.0, "A"), SpeakerTurn(5.0, 9.0, "C"), SpeakerTurn(3.0, 6.0, "B")]
    exclusive = [SpeakerTurn(0.0, 3.5, "A"), SpeakerTurn(3.5, 5.5, "B"), SpeakerTurn(5.5, 9.0, "A")]
    assert [t.speaker for t in follow(exclusive, before, after)] == ["A", "B", "C"]


def test_long_turns_are_cut_in_equal_pieces_and_short_ones_stay_whole():
    pieces, origin = cut_turns([SpeakerTurn(0.0, 7.0, "A"), SpeakerTurn(7.5, 9.0, "B")], 3.0)
    assert [(p.start, p.end, p.speaker) for p in pieces] == [(0.0, 3.5, "A"), (3.5, 7.0, "A"), (7.5, 9.0, "B")]
    assert origin == [0, 0, 1]
    assert cut_turns(pieces, 0.0) == (pieces, [0, 1, 2])  # 0: nothing is cut


def test_the_exclusive_view_is_cut_at_the_same_points_and_joined_back():
    pieces, origin = cut_turns([SpeakerTurn(0.0, 8.0, "A"), SpeakerTurn(2.0, 3.0, "B")], 4.0)
    view = [SpeakerTurn(0.0, 2.0, "A"), SpeakerTurn(2.0, 3.0, "B"), SpeakerTurn(3.0, 8.0, "A")]
    fragments, frag_origin = cut_view(view, pieces, origin)
    # A's cut at 4.0 falls inside the third exclusive turn only; B's turn has no cut of its own
    assert [(f.start, f.end, f.speaker) for f in fragments] == [
        (0.0, 2.0, "A"),
        (2.0, 3.0, "B"),
        (3.0, 4.0, "A"),
        (4.0, 8.0, "A"),
    ]
    assert join(fragments, frag_origin) == view


def test_a_turn_holding_two_people_is_named_piece_by_piece():
    # One 8 s turn of P1's cluster: P1 in its first half, P2 in its second (a merge the diarizer made).
    whole = [SpeakerTurn(0.0, 8.0, "SPEAKER_00"), SpeakerTurn(9.0, 12.0, "SPEAKER_01")]
    exclusive = list(whole)
    voice = {(0.0, 4.0): BASIS[1], (4.0, 8.0): BASIS[2], (0.0, 8.0): BASIS[1], (9.0, 12.0): BASIS[2]}
    seen: list[list[tuple[float, float]]] = []

    def embed(spans, context):
        assert context == whole  # overlap is always judged against the whole diarization
        seen.append([(s.start, s.end) for s in spans])
        return [voice[(s.start, s.end)] for s in spans]

    clusters = {"SPEAKER_00": match(1), "SPEAKER_01": match(2)}
    cfg = TurnConfig(**{**CFG.__dict__, "piece_s": 4.0})
    named = name_diarization(whole, exclusive, embed, clusters, PRINTS, cfg)
    spans = [(t.start, t.end, t.speaker) for t in named.turns]
    assert spans == [(0.0, 4.0, "SPEAKER_00"), (4.0, 8.0, "SPEAKER_01"), (9.0, 12.0, "SPEAKER_01")]
    assert [(t.start, t.end, t.speaker) for t in named.exclusive] == spans
    assert named.relabelled == 1
    assert seen == [[(0.0, 4.0), (4.0, 8.0), (9.0, 12.0)]]  # every piece had its own: no whole-turn pass
    # whole turns are named as before: piece_s 0 gives name_turns' answer
    unchanged = name_diarization(whole, exclusive, embed, clusters, PRINTS, CFG)
    assert unchanged.turns == name_turns(whole, [BASIS[1], BASIS[2]], clusters, PRINTS, CFG).turns == whole


def test_a_piece_too_short_to_judge_is_judged_by_its_whole_turn():
    whole = [SpeakerTurn(0.0, 8.0, "SPEAKER_00")]

    seen: list[list[tuple[float, float]]] = []

    def embed(spans, context):  # the second piece is all overlap: nothing of its own to embed
        own = {(0.0, 4.0): BASIS[5], (4.0, 8.0): None, (0.0, 8.0): BASIS[1]}
        seen.append([(s.start, s.end) for s in spans])
        return [own[(s.start, s.end)] for s in spans]

    cfg = TurnConfig(**{**CFG.__dict__, "piece_s": 4.0})
    named = name_diarization(whole, whole, embed, {"SPEAKER_00": match(1, 0.5)}, PRINTS, cfg)
    # the first piece is a stranger's (rejected); the second keeps P1's name through the whole turn's
    # embedding, where on its own it would have followed the weak cluster match into the rejected label
    assert [t.speaker for t in named.turns][1] == "SPEAKER_00"
    assert named.turns[0].speaker not in {"SPEAKER_00"}
    assert named.judged == 2
    assert seen == [[(0.0, 4.0), (4.0, 8.0)], [(0.0, 8.0)]]  # the whole turn embedded once, for that piece
