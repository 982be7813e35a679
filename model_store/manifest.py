"""The model store's manifest: sha256, size, licence and source of every provisioned file.

`verify` is what the air-gapped side runs after carrying a bundle across: it recomputes every
checksum and reports each file that is missing, resized or altered.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SCHEMA_VERSION = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def load(store: Path) -> dict[str, Any]:
    path = store / MANIFEST
    if not path.is_file():
        return {"schema_version": SCHEMA_VERSION, "model_sets": {}}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def save(store: Path, manifest: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=store)
    with os.fdopen(fd, "w") as out:
        json.dump(manifest, out, indent=2, sort_keys=True)
    os.replace(tmp, store / MANIFEST)


def record(store: Path, name: str, entry: dict[str, Any]) -> None:
    manifest = load(store)
    manifest["model_sets"][name] = entry
    save(store, manifest)


@dataclass(frozen=True)
class Problem:
    model_set: str
    path: str
    issue: str  # "missing" | "size" | "checksum"


def verify(store: Path) -> list[Problem]:
    problems = []
    for name, entry in load(store)["model_sets"].items():
        for rel, info in entry["files"].items():
            path = store / rel
            if not path.is_file():
                problems.append(Problem(name, rel, "missing"))
            elif path.stat().st_size != info["size"]:
                problems.append(Problem(name, rel, "size"))
            elif sha256_file(path) != info["sha256"]:
                problems.append(Problem(name, rel, "checksum"))
    return problems
