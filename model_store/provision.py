"""Download model sets into the store layout on a connected machine, and pack them for transfer.

Every file is written to a temp name, hashed while it streams, and renamed into place only when
complete; the manifest records what was fetched. Nothing here runs on the air-gapped side.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_store import manifest
from model_store.sources import HUB, ModelSet


def _download(url: str, target: Path, token: str | None) -> tuple[str, int]:
    request = urllib.request.Request(url, headers={"User-Agent": "voice-api-provision"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    digest, size = hashlib.sha256(), 0
    with urllib.request.urlopen(request, timeout=60) as response, open(tmp, "wb") as out:  # noqa: S310 - http(s) only
        while block := response.read(1 << 20):
            digest.update(block)
            out.write(block)
            size += len(block)
    os.replace(tmp, target)
    return digest.hexdigest(), size


def provision(model_set: ModelSet, store: Path, base_url: str = HUB, token: str | None = None) -> dict[str, Any]:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError("the hub or mirror must be an http(s) URL")
    folder = Path(model_set.engine) / model_set.target if model_set.target else Path(model_set.engine)
    files = {}
    for path in model_set.files:
        # Piper voices are flat in <store>/piper/; other sets keep their repo layout in their folder.
        rel = folder / (Path(path).name if model_set.engine == "piper" else path)
        sha, size = _download(model_set.url(path, base_url), store / rel, token)
        files[str(rel)] = {"sha256": sha, "size": size}
    entry = {
        "engine": model_set.engine,
        "source": f"{model_set.repo} ({base_url})",
        "licence": model_set.licence,
        "note": model_set.note,
        "fetched_at": datetime.now(UTC).isoformat(),
        "files": files,
    }
    manifest.record(store, model_set.name, entry)
    return entry


def pack(store: Path, archive: Path) -> Path:
    """A tar of the manifest and every file it lists, to carry across the air gap."""
    entries = manifest.load(store)["model_sets"]
    with tarfile.open(archive, "w") as tar:
        tar.add(store / manifest.MANIFEST, arcname=manifest.MANIFEST)
        for entry in entries.values():
            for rel in entry["files"]:
                tar.add(store / rel, arcname=rel)
    return archive


def unpack(archive: Path, store: Path) -> None:
    with tarfile.open(archive) as tar:
        tar.extractall(store, filter="data")  # the data filter refuses absolute paths and links out
