"""The voice model store: atomic folders, a catalog rebuilt from the directory alone."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from model_store.voices import META, VoiceModel, VoiceStore, is_valid_id
from tests.support.concurrency import race


def make_model(store: VoiceStore, **changes) -> VoiceModel:
    fields = {
        "id": store.new_id(),
        "owner": "alice",
        "title": "Calm narrator",
        "engine": "piper+voice-match",
        "description": "A calm voice",
        "tags": ("calm", "narration"),
        "languages": ("en-US",),
        "base_voice": "en_US-joe-medium",
        "engine_data": {"voice-match": 1},
        "source": {"duration_s": 12.5},
        **changes,
    }
    return VoiceModel(**fields)


def leftovers(store: VoiceStore) -> list[str]:
    return [p.name for p in store.voices_dir.iterdir() if p.name.startswith((".staging-", ".trash-"))]


@pytest.fixture
def store(tmp_path):
    return VoiceStore(tmp_path / "models")


def test_create_get_list_delete_round_trip(store):
    model = make_model(store)
    embedding = np.arange(8, dtype=np.float32)

    def writer(folder):
        assert not (folder / META).exists()  # meta.json comes last, after everything else
        np.save(folder / "embedding.npy", embedding)

    created = store.create(model, {"reference.wav": b"RIFF", "xtts/latents.pt": b"\x00\x01"}, writer=writer)
    assert created == model
    assert store.get(model.id) == model
    assert store.list() == [model]
    folder = store.path(model.id)
    assert (folder / "reference.wav").read_bytes() == b"RIFF"
    assert (folder / "xtts" / "latents.pt").read_bytes() == b"\x00\x01"
    assert np.array_equal(np.load(folder / "embedding.npy"), embedding)
    meta = json.loads((folder / META).read_text())
    assert meta["schema_version"] == 1 and meta["tags"] == ["calm", "narration"] and meta["visibility"] == "private"
    assert datetime.fromisoformat(meta["created_at"]).tzinfo is not None

    assert store.delete(model.id) is True
    assert store.get(model.id) is None and store.list() == []
    assert not folder.exists() and leftovers(store) == []
    assert store.delete(model.id) is False


def test_meta_round_trip_keeps_unknown_keys_and_fails_closed_on_unknown_visibility(store):
    model = make_model(store, created_at=datetime(2024, 5, 1, 12, 0))  # naive: taken as UTC
    assert model.created_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    meta = {**model.to_meta(), "speaker_embedding_v2": {"dim": 256}, "visibility": "unlisted"}
    loaded = VoiceModel.from_meta(meta)
    assert loaded.visibility == "private"
    assert loaded.to_meta()["speaker_embedding_v2"] == {"dim": 256}
    assert VoiceModel.from_meta(model.to_meta()) == model
    with pytest.raises(ValueError):
        make_model(store, visibility="everyone")


def test_failed_writer_leaves_nothing(store):
    model = make_model(store)

    def writer(folder):
        (folder / "partial.bin").write_bytes(b"half")
        raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        store.create(model, {"reference.wav": b"RIFF"}, writer=writer)
    assert store.get(model.id) is None and store.list() == [] and leftovers(store) == []
    assert not store.path(model.id).exists()


@pytest.mark.parametrize("name", ["../escape.wav", "/etc/passwd", "a/../../b", "", "meta.json", "a\\b", "x//y"])
def test_file_names_that_could_escape_or_clobber_are_refused(store, name):
    with pytest.raises(ValueError):
        store.create(make_model(store), {name: b"x"})
    assert store.list() == [] and leftovers(store) == []


def test_existing_id_is_refused(store):
    model = make_model(store)
    store.create(model, {"reference.wav": b"one"})
    with pytest.raises(FileExistsError):
        store.create(replace(model, title="Other"), {"reference.wav": b"two"})
    assert store.get(model.id).title == "Calm narrator"
    assert (store.path(model.id) / "reference.wav").read_bytes() == b"one"
    assert leftovers(store) == []


def test_list_skips_broken_folders_with_a_warning(store, caplog):
    good = store.create(make_model(store))
    broken = {
        "corrupt": "{not json",
        "not_object": "[1, 2]",
        "missing_owner": json.dumps({"id": "?", "engine": "xtts", "created_at": "2024-01-01T00:00:00+00:00"}),
        "wrong_id": json.dumps(make_model(store).to_meta()),
        "bad_time": json.dumps({**make_model(store).to_meta(), "created_at": "yesterday"}),
    }
    for text in broken.values():
        folder = store.voices_dir / store.new_id()
        folder.mkdir()
        (folder / META).write_text(text)
    (store.voices_dir / store.new_id()).mkdir()  # no meta.json at all (e.g. copied half-way by hand)
    (store.voices_dir / "notes").mkdir()  # not an id
    (store.voices_dir / ".staging-abc").mkdir()  # a create in progress
    with caplog.at_level(logging.WARNING, logger="model_store.voices"):
        assert store.list() == [good]
    assert len(caplog.records) >= len(broken) + 2


def test_meta_without_created_at_gets_a_stable_time(store):
    model = make_model(store)
    folder = store.voices_dir / model.id
    folder.mkdir()
    meta = model.to_meta()
    del meta["created_at"]
    (folder / META).write_text(json.dumps(meta))
    assert store.get(model.id).created_at == store.get(model.id).created_at


@pytest.mark.parametrize(
    "bad_id",
    [
        "../voices",
        "..",
        "voice_../../etc",
        "voice_" + "A" * 32,
        "voice_" + "0" * 31,
        "voice_" + "0" * 32 + "\n",
        "/tmp/voice_" + "0" * 32,
        "voice_" + "0" * 32 + "/..",
        ".staging-x",
        42,
    ],
)
def test_ids_that_are_not_ours_never_become_paths(store, bad_id):
    assert not is_valid_id(bad_id)
    with pytest.raises(ValueError):
        store.path(bad_id)
    assert store.get(bad_id) is None
    assert store.delete(bad_id) is False
    with pytest.raises(ValueError):
        store.create(VoiceModel(id=bad_id, owner="alice", title="x", engine="xtts"))


def test_new_ids_are_valid_and_distinct(store):
    ids = {store.new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(is_valid_id(i) for i in ids)


def test_generation_changes_on_create_and_delete_across_nodes(store):
    other_node = VoiceStore(store.root)  # a second API node on the same (shared) directory
    g0 = other_node.generation()
    assert other_node.generation() == g0  # stable while nothing changes
    model = store.create(make_model(store))
    g1 = other_node.generation()
    assert g1 != g0 and other_node.get(model.id) == model
    assert store.delete(model.id)
    g2 = other_node.generation()
    assert g2 not in (g0, g1) and other_node.list() == []
    assert store.delete(model.id) is False and other_node.generation() == g2  # no-op leaves it alone


def test_generation_notices_changes_made_by_hand(store):
    model = store.create(make_model(store))
    before = store.generation()
    time.sleep(0.01)
    shutil.rmtree(store.path(model.id))  # an admin removing a folder directly
    assert store.generation() != before


def test_a_copy_of_the_directory_lists_the_same_voices(store, tmp_path):
    a = store.create(make_model(store, visibility="public"), {"reference.wav": b"a"})
    b = store.create(make_model(store, owner="bob", title="Deep voice"), {"xtts/cond.pt": b"b"})
    restored_root = tmp_path / "restored"
    shutil.copytree(store.root, restored_root)
    restored = VoiceStore(restored_root)
    assert restored.list() == store.list() == sorted([a, b], key=lambda m: (m.created_at, m.id))
    assert (restored.path(b.id) / "xtts" / "cond.pt").read_bytes() == b"b"


def test_concurrent_creates_do_not_clash(store):
    models = [make_model(store, title=f"voice {i}") for i in range(24)]
    errors: list[BaseException] = []

    def create(model):
        try:
            store.create(model, {"reference.wav": model.title.encode()}, writer=lambda d: np.save(d / "e.npy", [1.0]))
        except BaseException as exc:  # collected: an assert in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {m.id for m in store.list()} == {m.id for m in models}
    assert leftovers(store) == []
    assert all((store.path(m.id) / "reference.wav").read_bytes() == m.title.encode() for m in models)


def test_racing_creates_of_one_id_publish_exactly_one(store):
    model = make_model(store)

    def create(i: int) -> str:
        try:
            store.create(model, {"who": str(i).encode()})
            return "ok"
        except FileExistsError:
            return "exists"

    outcomes = race(create, 8)
    assert sorted(outcomes) == ["exists"] * 7 + ["ok"]
    assert store.list() == [model] and leftovers(store) == []


def test_sweep_removes_only_stale_leftovers(store):
    model = store.create(make_model(store))
    old = time.time() - 2 * 3600
    for name in (".staging-old", ".trash-voice_x-old"):
        (store.voices_dir / name / "sub").mkdir(parents=True)
        os.utime(store.voices_dir / name, (old, old))
    (store.voices_dir / ".generation-old").write_text("x")
    os.utime(store.voices_dir / ".generation-old", (old, old))
    (store.voices_dir / ".staging-fresh").mkdir()  # a create still running on another node
    assert store.sweep() == 3
    assert sorted(p.name for p in store.voices_dir.iterdir() if p.name.startswith(".")) == [
        ".generation",
        ".staging-fresh",
    ]
    assert store.list() == [model]
