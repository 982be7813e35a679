"""Worker side of known speakers: voiceprints kept current with the encoder, and identification.

A voiceprint made by another encoder version (new weights, a changed recipe) is re-embedded from
its stored reference samples the first time it is needed, and written back, so scores are only ever
compared between embeddings of one encoder (`voice-api speakers reembed` does it for a whole store).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from engines.audio_encode import encode
from engines.audio_io import decode_mono
from engines.speaker_id.encoder import SpeakerEncoder
from engines.speaker_id.matching import Match, MatchConfig, Voiceprint, match_clusters
from engines.speaker_id.turns import TurnConfig, name_diarization
from engines.types import SAMPLE_RATE, Diarization
from model_store.speakers import Speaker, SpeakerStore
from server.settings import Settings

log = logging.getLogger(__name__)

ALL = "all"


def reembed(store: SpeakerStore, encoder: SpeakerEncoder, speaker: Speaker) -> Speaker:
    """The speaker with every sample embedded again by `encoder` (written back), under its lock."""
    with store.editing(speaker.owner, speaker.id) as current:
        if current is None:
            return speaker  # deleted meanwhile: nothing to write back
        if current.encoder == encoder.version:
            return current  # another worker got there first
        rows = [
            encoder.embed(decode_mono(store.sample_path(current.owner, current, sample))) for sample in current.samples
        ]
        updated = store.update(current, embeddings=np.stack(rows), encoder=encoder.version)
    log.info(
        "speaker %s re-embedded from %d samples (%s -> %s)", speaker.id, len(rows), speaker.encoder, encoder.version
    )
    return updated


def voiceprints(store: SpeakerStore, encoder: SpeakerEncoder, owner: str, selection: Sequence[str]) -> list[Voiceprint]:
    """The owner's selected speakers (`["all"]` or ids; ids deleted since are skipped) as current voiceprints."""
    if list(selection) == [ALL]:
        speakers = store.of_owner(owner)
    else:
        speakers = [s for sid in dict.fromkeys(selection) if (s := store.get(owner, sid)) is not None]
    prints = []
    for speaker in speakers:
        if speaker.encoder != encoder.version:
            speaker = reembed(store, encoder, speaker)
        prints.append(Voiceprint(speaker.id, speaker.name, store.embeddings(owner, speaker), speaker.encoder))
    return prints


def identify(
    settings: Settings,
    store: SpeakerStore,
    encoder: SpeakerEncoder,
    owner: str,
    selection: Sequence[str],
    audio: np.ndarray,
    diarization: Diarization,
    references: Sequence[tuple[str, np.ndarray]] = (),
) -> tuple[Diarization, dict[str, Match]]:
    """(the diarization relabelled by per-turn naming, {label: Match}) against the selected speakers
    and the request's own `references` ((name, audio): their Match has an empty speaker_id).

    Clusters are matched first (matching.py); then each turn long enough to judge is checked on its
    own (turns.py), so a cluster the diarizer merged from two people no longer names both. Both
    views of the diarization get the same labels: words take theirs from the exclusive one."""
    prints = voiceprints(store, encoder, owner, selection) if selection else []
    prints += [Voiceprint("", name, encoder.embed(audio)[None], encoder.version) for name, audio in references]
    if not prints:
        return diarization, {}
    cfg = settings.speakers
    centroids = encoder.cluster_centroids(encoder.cluster_speech(audio, diarization.turns))
    clusters = match_clusters(
        centroids, prints, encoder.version, MatchConfig(threshold=cfg.match_threshold, margin=cfg.match_margin)
    )
    turn_config = TurnConfig(
        min_turn_s=cfg.turn_min_s,
        threshold=cfg.turn_threshold,
        margin=cfg.turn_margin,
        reject_below=cfg.turn_reject_below,
        inherit_score=cfg.turn_inherit_score,
        piece_s=cfg.turn_piece_s,
    )

    def embed(spans, whole):
        return encoder.turn_embeddings(audio, spans, turn_config.min_turn_s, context=whole)

    named = name_diarization(diarization.turns, diarization.exclusive, embed, clusters, prints, turn_config)
    log.info(
        "identification: %d of %d clusters named, %d turns or pieces judged on their own, %d relabelled",
        len(clusters),
        len(centroids),
        named.judged,
        named.relabelled,
    )
    return Diarization(named.turns, named.exclusive), named.identities


def wav(audio: np.ndarray, max_s: float) -> bytes:
    return encode(audio[: int(max_s * SAMPLE_RATE)], SAMPLE_RATE, "wav")[0]


def reembed_store(encoder: SpeakerEncoder, store: SpeakerStore) -> tuple[int, int]:
    """(re-embedded, already current) over every owner's speakers: the CLI's `speakers reembed`."""
    done = current = 0
    for owner in store.owners():
        for speaker in store.of_owner(owner):
            if speaker.encoder == encoder.version:
                current += 1
            else:
                reembed(store, encoder, speaker)
                done += 1
    return done, current
