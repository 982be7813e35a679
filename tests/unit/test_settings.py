from __future__ import annotations

from pathlib import Path

from scripts.settings_reference import render
from server.settings import Settings


def test_environment_overrides_nested_sections(monkeypatch, tmp_path):
    monkeypatch.setenv("VOICE_API_REDIS_URL", "redis://example:6379/0")
    monkeypatch.setenv("VOICE_API_STT__MODEL", "large-v3")
    monkeypatch.setenv("VOICE_API_STORAGE__DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.distributed and settings.stt.model == "large-v3"
    assert settings.storage.models == tmp_path / "models"


def test_configuration_reference_is_current():
    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert doc.read_text() == render(), "run: .venv/bin/python -m scripts.settings_reference > docs/configuration.md"


def test_every_setting_is_documented():
    assert "|  |" not in render()
