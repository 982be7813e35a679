"""Where the shared dev recordings are: $VOICE_API_DEV_DATA, else `shared/data/dev` found by walking up
from the repository root (a worktree at /work/wt/X and a checkout at /work/main both find
/work/shared). Never copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def dev_data_dir() -> Path | None:
    env = os.environ.get("VOICE_API_DEV_DATA")
    if env:
        path = Path(env).expanduser()
        return path if path.is_dir() else None
    for parent in [REPO_ROOT, *REPO_ROOT.parents]:
        candidate = parent / "shared" / "data" / "dev"
        if candidate.is_dir():
            return candidate
    return None


def diarization_files() -> list[tuple[str, Path, Path]]:
    """(name, wav, rttm) of every dev diarization recording, sorted by name; [] when absent."""
    root = dev_data_dir()
    if root is None or not (root / "diarization").is_dir():
        return []
    return [
        (wav.stem, wav, wav.with_suffix(".rttm"))
        for wav in sorted((root / "diarization").glob("*.wav"))
        if wav.with_suffix(".rttm").is_file()
    ]
