"""Per-turn naming after the cluster match: pure numpy, no model, no I/O.

The cluster match (matching.py) names whole clusters, so a cluster the diarizer merged from two
people gives its name to both, or (left anonymous by the margin) to neither. Here each diarizer
turn with enough single-speaker speech to embed is scored against the voiceprints on its own:

  * a turn of a named cluster keeps the name unless it is clearly someone else's (that speaker is
    the turn's clear first choice: score >= threshold, lead >= margin) or scores below
    `reject_below` with the cluster's speaker (a stranger's turn absorbed into the cluster);
  * a turn of an anonymous cluster that is clearly someone's goes to that speaker;
  * a turn too short to embed keeps its cluster's decision only when the cluster matched with at
    least `inherit_score`; under a weaker cluster match it is split off with the rejected turns.

Long turns (at least 2 * `piece_s`) are judged in pieces (`name_diarization`), so a turn that
holds two people's speech can give each part its own name; pieces that end with the same label
are joined again.

The document stays consistent by relabelling turns, never by naming a turn inside a label:
one enrolled speaker is one label (the cluster named after them, else a new label shared by every
turn given to them), and the turns a named cluster rejects go to one new anonymous label per
cluster (most often the other person of a merged pair). Thresholds: scripts/bench_speaker_id.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engines.speaker_id.matching import Match, Voiceprint, runner_up, unit
from engines.types import SpeakerTurn


@dataclass(frozen=True)
class TurnConfig:
    # Calibrated on part of the dev set, reported on the rest (docs/benchmarks.md, issue 16).
    min_turn_s: float = 1.0  # least single-speaker speech for a turn to be judged on its own
    threshold: float = 0.45  # a turn is a speaker's when it scores this much with them...
    margin: float = 0.1  # ...and leads its second-best speaker by this much
    reject_below: float = 0.4  # a named cluster's turn scoring less with that speaker loses the name
    inherit_score: float = 0.7  # short turns keep a cluster's name only when the cluster matched this well
    # turns of at least twice this long are named in pieces of at least this long (0: whole turns),
    # so that a turn holding two people's speech can give each part its own name
    piece_s: float = 4.0


@dataclass(frozen=True)
class TurnNaming:
    turns: list[SpeakerTurn]  # the input turns, relabelled
    # label -> who it is: the cluster matches, and labels created here for a speaker no cluster was
    # named after (score: the mean of the turns given to them)
    identities: dict[str, Match]
    relabelled: dict[int, str]  # index of a moved turn -> its new label


def clear_choices(scores: np.ndarray, threshold: float, margin: float) -> list[int | None]:
    """Per row: the column that passes `threshold` with a `margin` lead over the row's runner-up."""
    if scores.size == 0:
        return [None] * scores.shape[0]
    lead = scores - runner_up(scores)
    best = scores.argmax(axis=1)
    return [int(b) if scores[r, b] >= threshold and lead[r, b] >= margin else None for r, b in enumerate(best.tolist())]


def name_turns(
    turns: Sequence[SpeakerTurn],
    vectors: Sequence[np.ndarray | None],
    clusters: Mapping[str, Match],
    voiceprints: Sequence[Voiceprint],
    config: TurnConfig | None = None,
) -> TurnNaming:
    """`vectors[i]`: turn i's unit embedding, None when it was too short to embed (see TurnConfig)."""
    cfg = config or TurnConfig()
    keys = [(v.speaker_id, v.name) for v in voiceprints]
    column = {(m.speaker_id, m.name): keys.index((m.speaker_id, m.name)) for m in clusters.values()}
    label_of = {column[(m.speaker_id, m.name)]: label for label, m in clusters.items()}  # one speaker, one label
    identities = dict(clusters)
    taken = {t.speaker for t in turns} | set(clusters)
    rejected: dict[str, str] = {}  # named cluster -> the anonymous label of the turns it rejected
    given: dict[int, list[float]] = {}  # speaker column -> scores of the turns given to a new label

    def fresh() -> str:
        n = len(taken)
        while f"SPEAKER_{n:02d}" in taken:
            n += 1
        taken.add(f"SPEAKER_{n:02d}")
        return f"SPEAKER_{n:02d}"

    judged = [i for i, v in enumerate(vectors) if v is not None]
    scores = np.zeros((len(turns), len(voiceprints)))
    if judged and voiceprints:
        prints = np.stack([v.centroid for v in voiceprints])
        scores[judged] = np.stack([unit(vectors[i]) for i in judged]) @ prints.T  # type: ignore[arg-type]
    choices = clear_choices(scores, cfg.threshold, cfg.margin)

    out: list[SpeakerTurn] = []
    moved: dict[int, str] = {}
    for i, turn in enumerate(turns):
        match = clusters.get(turn.speaker)
        own = column[(match.speaker_id, match.name)] if match is not None else None
        to: int | None = None  # the speaker column the turn goes to
        reject = False
        if vectors[i] is None:
            reject = match is not None and match.score < cfg.inherit_score
        elif choices[i] is not None and choices[i] != own:
            to = choices[i]
        elif own is not None and scores[i, own] < cfg.reject_below:
            reject = True
        label = turn.speaker
        if to is not None:
            if to not in label_of:
                label_of[to] = fresh()
            label = label_of[to]
            if label not in clusters:
                given.setdefault(to, []).append(float(scores[i, to]))
        elif reject:
            if turn.speaker not in rejected:
                rejected[turn.speaker] = fresh()
            label = rejected[turn.speaker]
        if label != turn.speaker:
            moved[i] = label
        out.append(SpeakerTurn(turn.start, turn.end, label))
    for col, got in given.items():
        v = voiceprints[col]
        identities[label_of[col]] = Match(v.speaker_id, v.name, round(float(np.mean(got)), 4))
    return TurnNaming(out, identities, moved)


def follow(
    view: Sequence[SpeakerTurn], before: Sequence[SpeakerTurn], after: Sequence[SpeakerTurn]
) -> list[SpeakerTurn]:
    """Another view of the same diarization (the exclusive one) relabelled as `before` became
    `after`: each of its turns takes the new label of the same-label turn it overlaps most."""
    by_label: dict[str, list[tuple[SpeakerTurn, str]]] = {}
    for old, new in zip(before, after, strict=True):
        by_label.setdefault(old.speaker, []).append((old, new.speaker))
    out = []
    for turn in view:
        best, label = 0.0, turn.speaker
        for old, new_label in by_label.get(turn.speaker, ()):
            shared = min(turn.end, old.end) - max(turn.start, old.start)
            if shared > best:
                best, label = shared, new_label
        out.append(SpeakerTurn(turn.start, turn.end, label))
    return out


def cut_turns(turns: Sequence[SpeakerTurn], piece_s: float) -> tuple[list[SpeakerTurn], list[int]]:
    """(pieces, index of each piece's turn): every turn of at least 2 * `piece_s` cut into equal
    consecutive pieces of at least `piece_s`, so that a turn the diarizer merged from two people
    can be named piece by piece; shorter turns stay whole. `piece_s` <= 0: nothing is cut."""
    pieces: list[SpeakerTurn] = []
    origin: list[int] = []
    for i, turn in enumerate(turns):
        n = max(int((turn.end - turn.start) // piece_s), 1) if piece_s > 0 else 1
        inner = [round(turn.start + (turn.end - turn.start) * k / n, 3) for k in range(1, n)]
        edges = [turn.start, *inner, turn.end]
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            pieces.append(SpeakerTurn(a, b, turn.speaker))
            origin.append(i)
    return pieces, origin


def cut_view(
    view: Sequence[SpeakerTurn], pieces: Sequence[SpeakerTurn], origin: Sequence[int]
) -> tuple[list[SpeakerTurn], list[int]]:
    """Another view of the same diarization (the exclusive one) cut where `pieces` cut their turns,
    within the same label: (fragments, index of each fragment's turn in `view`)."""
    cuts: dict[str, list[float]] = {}
    for k in range(len(pieces) - 1):
        if origin[k] == origin[k + 1]:
            cuts.setdefault(pieces[k].speaker, []).append(pieces[k].end)
    fragments: list[SpeakerTurn] = []
    frag_origin: list[int] = []
    for i, turn in enumerate(view):
        points = sorted(p for p in cuts.get(turn.speaker, ()) if turn.start < p < turn.end)
        edges = [turn.start, *points, turn.end]
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            fragments.append(SpeakerTurn(a, b, turn.speaker))
            frag_origin.append(i)
    return fragments, frag_origin


def join(fragments: Sequence[SpeakerTurn], origin: Sequence[int]) -> list[SpeakerTurn]:
    """Consecutive fragments of one turn that carry the same label, one turn again."""
    out: list[SpeakerTurn] = []
    last = None
    for turn, i in zip(fragments, origin, strict=True):
        if out and last == i and out[-1].speaker == turn.speaker:
            out[-1] = SpeakerTurn(out[-1].start, turn.end, turn.speaker)
        else:
            out.append(turn)
        last = i
    return out


@dataclass(frozen=True)
class NamedDiarization:
    turns: list[SpeakerTurn]  # the overlapping view, relabelled (sorted)
    exclusive: list[SpeakerTurn]  # the exclusive view, following it
    identities: dict[str, Match]  # label -> who it is (see TurnNaming)
    judged: int  # turns or pieces judged on their own speech
    relabelled: int  # turns or pieces that moved to another label


def name_diarization(
    turns: Sequence[SpeakerTurn],
    exclusive: Sequence[SpeakerTurn],
    embed: Callable[[Sequence[SpeakerTurn], Sequence[SpeakerTurn]], list[np.ndarray | None]],
    clusters: Mapping[str, Match],
    voiceprints: Sequence[Voiceprint],
    config: TurnConfig | None = None,
) -> NamedDiarization:
    """Per-turn naming of both views of a diarization, long turns piece by piece (`piece_s`).

    `embed(spans, turns)`: one unit embedding per span from its single-speaker speech (overlap
    taken from `turns`, the whole diarization), None where that is shorter than `min_turn_s`. A
    piece too short to judge is judged by its whole turn's embedding, so cutting never leaves a
    turn less judged than it was whole; pieces that end up with the same label are joined again."""
    cfg = config or TurnConfig()
    pieces, origin = cut_turns(turns, cfg.piece_s)
    vectors = embed(pieces, turns)
    # whole-turn embeddings only where they are used: cut turns with a piece that has none of its own
    cut = {i for k, i in enumerate(origin) if k and origin[k - 1] == i}
    needed = sorted({origin[k] for k, v in enumerate(vectors) if v is None and origin[k] in cut})
    if needed:
        whole = dict(zip(needed, embed([turns[i] for i in needed], turns), strict=True))
        vectors = [v if v is not None else whole.get(origin[k]) for k, v in enumerate(vectors)]
    naming = name_turns(pieces, vectors, clusters, voiceprints, cfg)
    fragments, frag_origin = cut_view(exclusive, pieces, origin)
    return NamedDiarization(
        turns=sorted(join(naming.turns, origin), key=lambda t: (t.start, t.end)),
        exclusive=join(follow(fragments, pieces, naming.turns), frag_origin),
        identities=naming.identities,
        judged=sum(v is not None for v in vectors),
        relabelled=len(naming.relabelled),
    )
