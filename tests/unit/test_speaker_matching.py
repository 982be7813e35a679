"""Matching clusters to voiceprints (threshold, margin, one-to-one, encoder versions), the speaker
store's files and isolation, and naming a transcript document."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.speaker_id.encoder import SpeakerEncoderConfig, _windows, clean_speech, single_speaker_spans
from engines.speaker_id.matching import EncoderMismatch, MatchConfig, Voiceprint, centroid, match_clusters
from engines.types import SpeakerTurn
from model_store.speakers import Speaker, SpeakerStore, new_sample, owner_key
from server.domain.transcript_formats import diarized_json, srt
from server.domain.transcripts import SttResult, SttSpeaker

ENC = "enc-v1"
RNG = np.random.default_rng(7)
BASIS = np.linalg.qr(RNG.standard_normal((16, 16)))[0]  # orthonormal directions: one per voice


def voice(i: int, noise: float = 0.0) -> np.ndarray:
    return BASIS[i] + noise * RNG.standard_normal(16)


def mixed(weights: dict[int, float]) -> np.ndarray:
    return sum(w * BASIS[i] for i, w in weights.items())


def vp(i: int, name: str | None = None, encoder: str = ENC, samples: int = 1) -> Voiceprint:
    rows = np.stack([voice(i, 0.05) for _ in range(samples)])
    return Voiceprint(f"spk_{i}", name or f"P{i}", rows, encoder)


CFG = MatchConfig(threshold=0.5, margin=0.1)


def test_each_cluster_gets_its_own_speaker():
    found = match_clusters({"SPEAKER_00": voice(1, 0.1), "SPEAKER_01": voice(2, 0.1)}, [vp(2), vp(1)], ENC, CFG)
    assert {k: m.name for k, m in found.items()} == {"SPEAKER_00": "P1", "SPEAKER_01": "P2"}
    assert all(0.5 < m.score <= 1.0 for m in found.values())


def test_below_threshold_stays_anonymous():
    stranger = mixed({3: 0.45, 4: 0.89})  # cosine 0.45 with P3
    assert match_clusters({"SPEAKER_00": stranger}, [vp(3)], ENC, CFG) == {}


def test_too_close_a_runner_up_stays_anonymous():
    # resembles P1 and P2 about equally (0.70 vs 0.65): naming either would be a coin toss
    ambiguous = mixed({1: 0.70, 2: 0.65, 5: 0.30})
    assert match_clusters({"SPEAKER_00": ambiguous}, [vp(1), vp(2)], ENC, CFG) == {}
    clear = mixed({1: 0.80, 2: 0.40, 5: 0.44})
    assert match_clusters({"SPEAKER_00": clear}, [vp(1), vp(2)], ENC, CFG)["SPEAKER_00"].name == "P1"


def test_one_speaker_names_one_cluster_only():
    # a diarizer that split P1 in two: only the closer half is named
    found = match_clusters(
        {"SPEAKER_00": mixed({1: 0.9, 6: 0.44}), "SPEAKER_01": mixed({1: 0.7, 7: 0.71})}, [vp(1)], ENC, CFG
    )
    assert list(found) == ["SPEAKER_00"]


def test_two_clusters_claiming_one_speaker_the_closer_wins_the_other_gets_no_second_choice():
    # both clusters' clear first choice is P1; SPEAKER_01 is closer. SPEAKER_00 would fit P2 above
    # the threshold, but P2 is not its first choice: it stays anonymous rather than be misnamed.
    c0 = mixed({1: 0.80, 2: 0.55, 8: 0.24})
    c1 = mixed({1: 0.90, 9: 0.43})
    found = match_clusters({"SPEAKER_00": c0, "SPEAKER_01": c1}, [vp(1), vp(2)], ENC, MatchConfig(0.5, 0.1))
    assert {k: m.name for k, m in found.items()} == {"SPEAKER_01": "P1"}


def test_voiceprints_of_another_encoder_are_never_compared():
    with pytest.raises(EncoderMismatch):
        match_clusters({"SPEAKER_00": voice(1)}, [vp(1, encoder="enc-v0")], ENC, CFG)


def test_no_clusters_or_no_voiceprints():
    assert match_clusters({}, [vp(1)], ENC, CFG) == {}
    assert match_clusters({"SPEAKER_00": voice(1)}, [], ENC, CFG) == {}


def test_centroid_weighs_samples_equally_and_is_unit():
    c = centroid(np.stack([BASIS[0] * 10, BASIS[1]]))
    assert np.linalg.norm(c) == pytest.approx(1.0)
    assert c @ BASIS[0] == pytest.approx(c @ BASIS[1])


def test_clean_speech_drops_overlap_and_short_pieces():
    audio = np.arange(10 * 16_000, dtype=np.float32)
    turns = [SpeakerTurn(0.0, 4.0, "A"), SpeakerTurn(3.0, 6.0, "B"), SpeakerTurn(6.0, 6.2, "A")]
    speech = clean_speech(audio, turns, SpeakerEncoderConfig(weights=None, weights_sha256=""))  # type: ignore[arg-type]
    assert speech["A"].size == 3 * 16_000 and speech["A"][-1] == 3 * 16_000 - 1  # 0-3 s; 6.0-6.2 too short
    assert speech["B"].size == 2 * 16_000 and speech["B"][0] == 4 * 16_000  # 4-6 s


def test_single_speaker_spans_take_overlap_from_the_context():
    turns = [SpeakerTurn(0.0, 4.0, "A"), SpeakerTurn(3.0, 6.0, "B"), SpeakerTurn(6.0, 6.2, "A")]
    assert single_speaker_spans(turns, 0.4) == [[(0.0, 3.0)], [(4.0, 6.0)], []]  # 6.0-6.2 too short
    # pieces of B alone: the overlap with A still comes from the whole diarization
    assert single_speaker_spans([SpeakerTurn(3.0, 6.0, "B")], 0.4, context=turns) == [[(4.0, 6.0)]]
    assert single_speaker_spans([SpeakerTurn(3.0, 6.0, "B")], 0.4) == [[(3.0, 6.0)]]


def test_windows_fold_a_short_tail_into_the_last_window():
    assert _windows(25, 10, 6) == [(0, 10), (10, 25)]
    assert _windows(28, 10, 6) == [(0, 10), (10, 20), (20, 28)]
    assert _windows(3, 10, 6) == []


# --- the store -------------------------------------------------------------------------------


def make_speaker(store: SpeakerStore, owner: str = "team-a", name: str = "Alice") -> Speaker:
    sample = new_sample(4.0)
    speaker = Speaker(
        id=store.new_id(),
        owner=owner,
        name=name,
        encoder=ENC,
        samples=(sample,),
        embeddings_file=f"embeddings-{sample.id[4:]}.npy",
    )
    return store.create(speaker, {sample.id: b"RIFF-one"}, np.ones((1, 4), np.float32))


def test_store_keeps_owners_apart(tmp_path):
    store = SpeakerStore(tmp_path)
    alice = make_speaker(store)
    assert store.get("team-a", alice.id) == alice
    assert store.get("team-b", alice.id) is None
    assert store.of_owner("team-b") == [] and store.delete("team-b", alice.id) is False
    assert store.of_owner("team-a") == [alice] and store.owners() == ["team-a"]
    assert owner_key("../etc") != "../etc" and "/" not in owner_key("a/b")


def test_store_update_switches_files_atomically_and_delete_removes_all(tmp_path):
    store = SpeakerStore(tmp_path)
    alice = make_speaker(store)
    folder = store.path("team-a", alice.id)
    extra = new_sample(5.0, {"task": "t1"})
    with store.editing("team-a", alice.id) as current:
        assert current == alice
        updated = store.update(
            current, embeddings=np.zeros((2, 4), np.float32), encoder="enc-v2", new_samples=[(extra, b"RIFF-two")]
        )
    assert store.get("team-a", alice.id) == updated and updated.encoder == "enc-v2"
    assert [s.id for s in updated.samples] == [alice.samples[0].id, extra.id]
    assert store.embeddings("team-a", updated).shape == (2, 4)
    assert not (folder / alice.embeddings_file).exists()  # the old rows are gone
    assert (folder / extra.file).read_bytes() == b"RIFF-two"
    with pytest.raises(ValueError):
        store.update(updated, embeddings=np.zeros((1, 4)), encoder="enc-v2")  # rows must match samples
    assert store.delete("team-a", alice.id) and not folder.exists()
    assert store.get("team-a", alice.id) is None


def test_sweep_removes_only_old_leftovers(tmp_path):
    import os

    store = SpeakerStore(tmp_path)
    alice = make_speaker(store)
    old, fresh = store.owner_dir("team-a") / ".staging-old", store.owner_dir("team-a") / ".trash-new"
    old.mkdir()
    fresh.mkdir()
    os.utime(old, (0, 0))
    assert store.sweep() == 1 and not old.exists() and fresh.exists()
    assert store.get("team-a", alice.id) == alice


def test_store_refuses_bad_ids_and_skips_foreign_meta(tmp_path):
    store = SpeakerStore(tmp_path)
    assert store.get("team-a", "../../x") is None
    alice = make_speaker(store)
    # a meta copied into another owner's folder is not theirs
    (store.owner_dir("team-b") / alice.id).mkdir(parents=True)
    (store.owner_dir("team-b") / alice.id / "meta.json").write_bytes(
        (store.path("team-a", alice.id) / "meta.json").read_bytes()
    )
    assert store.get("team-b", alice.id) is None


# --- naming a transcript ---------------------------------------------------------------------


def document() -> SttResult:
    word = {"start": 0.0, "end": 0.5, "probability": 0.9}
    return SttResult.from_json(
        {
            "text": "hi yo",
            "language": "en",
            "duration": 2.0,
            "speakers": ["SPEAKER_00", "SPEAKER_01"],
            "segments": [
                {"id": 0, "start": 0.0, "end": 1.0, "text": " hi", "speaker": "SPEAKER_00",
                 "words": [{**word, "word": " hi", "speaker": "SPEAKER_00"}]},
                {"id": 1, "start": 1.0, "end": 2.0, "text": " yo", "speaker": "SPEAKER_01",
                 "words": [{**word, "word": " yo", "speaker": "SPEAKER_01"}]},
            ],
            "turns": [{"start": 0, "end": 1, "speaker": "SPEAKER_00"}, {"start": 1, "end": 2, "speaker": "SPEAKER_02"}],
        }
    )  # fmt: skip


BOB = SttSpeaker("SPEAKER_01", "Bob", "spk_b", 0.7)


def test_naming_and_renaming_a_document():
    named = document().named([BOB])
    doc = named.to_json()
    assert doc["speakers"] == [
        {"label": "SPEAKER_00", "name": None, "speaker_id": None, "match_score": None},
        {"label": "SPEAKER_01", "name": "Bob", "speaker_id": "spk_b", "match_score": 0.7},
        {"label": "SPEAKER_02", "name": None, "speaker_id": None, "match_score": None},  # only in turns
    ]
    seg = doc["segments"][1]
    assert seg["speaker"] == "Bob" and seg["label"] == "SPEAKER_01" and seg["speaker_id"] == "spk_b"
    assert seg["words"][0]["speaker"] == "Bob" and seg["words"][0]["label"] == "SPEAKER_01"
    assert doc["segments"][0]["speaker"] == "SPEAKER_00"
    assert "label" not in doc["segments"][0] and "speaker_id" not in doc["segments"][0]
    assert named.cluster_labels() == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"]
    # the stored document reads back to the same named model
    assert SttResult.from_json(json.loads(json.dumps(doc))) == named
    # relabel: Bob moves to SPEAKER_00; SPEAKER_01 is anonymous again
    again = named.named([SttSpeaker("SPEAKER_00", "Bob", "spk_b", None)]).to_json()
    assert [s["speaker"] for s in again["segments"]] == ["Bob", "SPEAKER_01"]
    assert "label" not in again["segments"][1] and "speaker_id" not in again["segments"][1]
    assert (
        "label" not in again["segments"][1]["words"][0] and again["segments"][1]["words"][0]["speaker"] == "SPEAKER_01"
    )
    assert again["turns"][0]["speaker"] == "Bob" and again["turns"][1]["speaker"] == "SPEAKER_02"
    assert "label" not in again["turns"][1]


def test_without_identification_the_document_keeps_its_shape():
    plain = document().to_json()
    assert plain["speakers"] == ["SPEAKER_00", "SPEAKER_01"]
    assert all("label" not in s and "speaker_id" not in s for s in plain["segments"])
    assert all("label" not in t for t in plain["turns"])
    # asked for, nobody recognised: who each cluster is (nobody), and the segments as before
    nobody = document().named([]).to_json()
    assert [s["name"] for s in nobody["speakers"]] == [None, None, None]  # SPEAKER_02 has turns only
    assert nobody["segments"] == plain["segments"] and nobody["turns"] == plain["turns"]


def test_renderings_use_the_names():
    named = document().named([BOB])
    # OpenAI's diarized_json names a recognised known speaker; the others get letters
    assert [s["speaker"] for s in diarized_json(named, "transcribe")["segments"]] == ["A", "Bob"]
    assert "[Bob] yo" in srt(named) and "[SPEAKER_00] hi" in srt(named)
