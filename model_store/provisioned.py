"""Where provisioned engine directories live: `<store>/<engine>/<name>/` or an explicit path.

Operators copy a pyannote pipeline (config.yaml + model subfolders) or an XTTS checkpoint here on
the connected side; nothing is ever fetched from a hub.
"""

from __future__ import annotations

from pathlib import Path


def engine_dir(engine: str, setting: str, store_dir: Path) -> Path:
    as_path = Path(setting).expanduser()
    if as_path.is_absolute() or setting.startswith("."):
        return as_path
    return store_dir / engine / setting


def pipeline_path(setting: str, store_dir: Path) -> Path:
    return engine_dir("pyannote", setting, store_dir)
