from __future__ import annotations

import pytest

from model_store import whisper as whisper_store
from server.domain.errors import InvalidRequest
from server.services.languages import WHISPER_LANGUAGES, normalise_language


def test_language_list_matches_faster_whisper():
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert frozenset(_LANGUAGE_CODES) == WHISPER_LANGUAGES


def test_normalise_language():
    assert normalise_language(" EN ") == "en"
    assert normalise_language("") is None
    with pytest.raises(InvalidRequest) as err:
        normalise_language("klingon")
    assert err.value.code == "unsupported_language"


def test_builtin_tiny_en_resolves_to_a_local_dir(tmp_path):
    path = whisper_store.resolve("tiny.en", tmp_path)
    assert whisper_store.is_whisper_dir(path)


def test_installed_model_in_store_wins(tmp_path):
    model = tmp_path / "whisper" / "large-v3"
    model.mkdir(parents=True)
    (model / "model.bin").write_bytes(b"x")
    (model / "config.json").write_text("{}")
    assert whisper_store.resolve("large-v3", tmp_path) == model
    assert whisper_store.available("large-v3", tmp_path)


def test_missing_model_is_a_clear_error_not_a_download(tmp_path):
    with pytest.raises(whisper_store.ModelNotFound, match="large-v3"):
        whisper_store.resolve("large-v3", tmp_path)
    assert not whisper_store.available("large-v3", tmp_path)
    with pytest.raises(whisper_store.ModelNotFound):
        whisper_store.resolve(str(tmp_path / "nowhere"), tmp_path)
