"""`voice-api models pack --wheelhouse`: the lock's packages, hash-checked, for an offline install.
A real `pip download` against a local one-wheel index (PIP_NO_INDEX + PIP_FIND_LINKS), so the test
never reaches a registry and never fetches the real 4 GB set."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

from click.testing import CliRunner

from server.cli import main


def _tiny_wheel(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "tinypkg-0.1-py3-none-any.whl"
    files = {
        "tinypkg/__init__.py": "VALUE = 1\n",
        "tinypkg-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\n",
        "tinypkg-0.1.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},,\n" for name in files) + "tinypkg-0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in {**files, "tinypkg-0.1.dist-info/RECORD": record}.items():
            zf.writestr(name, text)
    return wheel


def _lock(path: Path, digest: str) -> Path:
    path.write_text(f"# test lock\ntinypkg==0.1 \\\n    --hash=sha256:{digest}\n")
    return path


def _pack(args: list[str], index: Path):
    env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return CliRunner().invoke(main, ["models", "pack", *args], env=env)


def test_wheelhouse_holds_the_locked_wheel_and_the_lock(tmp_path: Path) -> None:
    wheel = _tiny_wheel(tmp_path / "index")
    lock = _lock(tmp_path / "server-py3.11.txt", hashlib.sha256(wheel.read_bytes()).hexdigest())
    house = tmp_path / "wheelhouse"
    result = _pack(["--wheelhouse", str(house), "--lock", str(lock)], tmp_path / "index")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in house.iterdir()) == ["server-py3.11.txt", wheel.name]
    assert (house / wheel.name).read_bytes() == wheel.read_bytes()
    assert "1 distribution(s) from server-py3.11.txt" in result.output


def test_a_wheel_that_does_not_match_the_locked_hash_is_refused(tmp_path: Path) -> None:
    _tiny_wheel(tmp_path / "index")
    lock = _lock(tmp_path / "server-py3.11.txt", "0" * 64)
    house = tmp_path / "wheelhouse"
    result = _pack(["--wheelhouse", str(house), "--lock", str(lock)], tmp_path / "index")
    assert result.exit_code == 1
    assert "pip download failed" in result.output and "HASH" in result.output.upper()
    assert not any(p.suffix == ".whl" for p in house.iterdir())


def test_dry_run_prints_the_hash_checked_download(tmp_path: Path) -> None:
    lock = tmp_path / "gpu-py3.12.txt"
    result = _pack(["--wheelhouse", str(tmp_path / "w"), "--lock", str(lock), "--dry-run"], tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.split() == [
        sys.executable, "-m", "pip", "download", "--require-hashes", "-r", str(lock), "-d", str(tmp_path / "w")
    ]  # fmt: skip
    assert not (tmp_path / "w").exists()


def test_default_lock_is_the_server_lock_for_this_python(tmp_path: Path) -> None:
    result = _pack(["--wheelhouse", str(tmp_path / "w"), "--dry-run"], tmp_path)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert f"requirements/server-py{version}.txt -d" in result.output
    assert (Path(__file__).resolve().parents[2] / "requirements" / f"server-py{version}.txt").is_file()


def test_pack_needs_an_archive_or_a_wheelhouse() -> None:
    result = CliRunner().invoke(main, ["models", "pack"])
    assert result.exit_code == 2 and "--wheelhouse" in result.output
