"""The hashed locks in requirements/ stand for pyproject.toml: edit a dependency without running
scripts/lock.sh and these fail, naming the stale lock."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scripts import lockfile

ROOT = Path(__file__).resolve().parents[2]
LOCKS = [(profile, version) for profile in lockfile.PROFILES for version in lockfile.PYTHON_VERSIONS]


@pytest.mark.parametrize(("profile", "python_version"), LOCKS)
def test_lock_matches_pyproject(profile: str, python_version: str) -> None:
    lock = lockfile.lock_path(profile, python_version, ROOT)
    found = lockfile.problems(ROOT / "pyproject.toml", lock, profile, python_version)
    assert not found, "\n".join([*found, "run scripts/lock.sh and commit requirements/"])


@pytest.mark.parametrize(("profile", "python_version"), LOCKS)
def test_lock_keeps_the_torch_set(profile: str, python_version: str) -> None:
    # docs/install.md: only this set satisfies pyannote.audio and coqui-tts together.
    pinned = lockfile.pins(lockfile.lock_path(profile, python_version, ROOT).read_text())
    assert {name: str(pinned[name]) for name in ("torch", "torchaudio", "torchcodec")} == {
        "torch": "2.9.1",
        "torchaudio": "2.9.1",
        "torchcodec": "0.9.1",
    }


def _copy_project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def test_an_added_dependency_makes_the_lock_stale(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"click>=8.1",', '"click>=8.1",\n    "tinyfakepkg>=1",', 1))
    found = lockfile.problems(pyproject, lockfile.lock_path("server", "3.11", root), "server", "3.11")
    assert any("different pyproject.toml" in p for p in found)
    assert "server-py3.11.txt: tinyfakepkg>=1 is declared but not pinned" in found


def test_a_pin_outside_the_declared_range_is_named(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    lock = lockfile.lock_path("dev", "3.12", root)
    lock.write_text(lock.read_text().replace("\ntorch==2.9.1 ", "\ntorch==2.8.0 ", 1))
    found = lockfile.problems(root / "pyproject.toml", lock, "dev", "3.12")
    assert found == ["dev-py3.12.txt: torch==2.9.1 is declared but torch==2.8.0 is pinned"]


def test_a_comment_in_pyproject_does_not_make_the_lock_stale(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.ruff]", "# a note\n[tool.ruff]"))
    assert lockfile.problems(pyproject, lockfile.lock_path("gpu", "3.11", root), "gpu", "3.11") == []


def test_a_pin_without_hash_is_named() -> None:
    text = (
        "# header\nalpha==1.0 \\\n    --hash=sha256:aa\n    # via x\n"
        "beta==2.0\n    # via y\ngamma==3.0 --hash=sha256:bb\n"
    )
    assert lockfile.unhashed(text) == ["beta"]
    assert {name: str(v) for name, v in lockfile.pins(text).items()} == {"alpha": "1.0", "beta": "2.0", "gamma": "3.0"}


def test_gpu_profile_expands_the_projects_own_extra() -> None:
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = {req.name for req in lockfile.declared(pyproject, lockfile.PROFILES["gpu"], "3.12")}
    assert {"coqui-tts", "transformers", "torch"} <= names
    assert "voice-api" not in names
