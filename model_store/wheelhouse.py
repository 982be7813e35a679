"""The Python half of the air-gap bundle: every wheel a lock pins, downloaded and hash-checked on the
connected side, so an offline site installs the very same server (`pip install --no-index
--find-links DIR --require-hashes -r LOCK`, or `PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR scripts/install.sh`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


class WheelhouseError(RuntimeError):
    pass


def download_command(lock: Path, dest: Path, python: str = sys.executable) -> list[str]:
    # --require-hashes: a file whose hash the lock does not list is refused, so what lands in the
    # wheelhouse is exactly what was locked, whatever index or mirror served it.
    return [python, "-m", "pip", "download", "--require-hashes", "-r", str(lock), "-d", str(dest)]


def build_wheelhouse(lock: Path, dest: Path, python: str = sys.executable) -> list[Path]:
    """Download every distribution `lock` pins into `dest`, with a copy of the lock beside them (the
    offline install needs it for --require-hashes). Returns the distributions in `dest`."""
    if not lock.is_file():
        raise WheelhouseError(f"no lock file {lock}")
    dest.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(download_command(lock, dest, python), capture_output=True, text=True)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if not line.startswith("WARNING")]
        raise WheelhouseError(f"pip download failed ({result.returncode}): " + "\n".join(errors[-15:]))
    if lock.resolve() != (dest / lock.name).resolve():
        shutil.copyfile(lock, dest / lock.name)
    return sorted(p for p in dest.iterdir() if p.suffix in (".whl", ".gz", ".zip"))
