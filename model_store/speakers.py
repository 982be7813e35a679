"""The speaker registry: enrolled voiceprints, one folder per speaker under its owner's folder.

    <root>/speakers/<owner key>/<speaker_id>/
        meta.json                 name, description, encoder version, samples, embeddings file
        samples/<sample_id>.wav   each reference as enrolled (16 kHz mono, trimmed): kept so a
                                  new encoder can re-embed the speaker without asking for audio
        embeddings-<token>.npy    (samples, dim) float32, rows in the order of meta's samples

Owners are separate folders, so a lookup never even opens another owner's speaker. A speaker
appears and disappears with one rename of its whole folder (as voices do, model_store/voices.py).
Later changes (a sample added, a re-embedding) write new files under fresh names and then replace
meta.json in one `os.replace`; a reader sees the old meta and files or the new ones, never a mix.
Writers of one speaker take a lock file, so two concurrent additions cannot lose one another.
Only stdlib + numpy here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from model_store.folders import fsync_path, remove_folder, staged_folder, sweep_leftovers

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
META = "meta.json"
LOCK = ".lock"
_ID_RE = re.compile(r"spk_[0-9a-f]{32}")
_SAMPLE_RE = re.compile(r"smp_[0-9a-f]{16}")
_OWNER_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")


def is_valid_id(speaker_id: object) -> bool:
    return isinstance(speaker_id, str) and _ID_RE.fullmatch(speaker_id) is not None


def owner_key(owner: str) -> str:
    """A folder name for `owner`: the owner itself when it is a safe name, else a digest."""
    if _OWNER_RE.fullmatch(owner) and not owner.startswith("h-"):
        return owner
    return "h-" + hashlib.sha256(owner.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Sample:
    id: str
    seconds: float
    added_at: datetime
    source: dict[str, Any] = field(default_factory=dict)  # gate figures, or the task it came from

    @property
    def file(self) -> str:
        return f"samples/{self.id}.wav"

    def to_meta(self) -> dict[str, Any]:
        return {"id": self.id, "seconds": self.seconds, "added_at": self.added_at.isoformat(), "source": self.source}

    @staticmethod
    def from_meta(data: dict[str, Any]) -> Sample:
        if not isinstance(data.get("id"), str) or _SAMPLE_RE.fullmatch(data["id"]) is None:
            raise ValueError(f"invalid sample id {data.get('id')!r}")
        return Sample(
            id=data["id"],
            seconds=float(data.get("seconds") or 0.0),
            added_at=datetime.fromisoformat(str(data["added_at"])),
            source=dict(data.get("source") or {}),
        )


@dataclass(frozen=True)
class Speaker:
    id: str
    owner: str
    name: str
    encoder: str  # version of the encoder that made `embeddings_file`
    samples: tuple[Sample, ...]
    embeddings_file: str
    description: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    schema_version: int = SCHEMA_VERSION

    def to_meta(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "description": self.description,
            "encoder": self.encoder,
            "embeddings": self.embeddings_file,
            "samples": [s.to_meta() for s in self.samples],
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "schema_version": self.schema_version,
        }

    @staticmethod
    def from_meta(data: dict[str, Any]) -> Speaker:
        embeddings = str(data["embeddings"])
        if not re.fullmatch(r"embeddings-[0-9a-f]{16}\.npy", embeddings):
            raise ValueError(f"invalid embeddings file name {embeddings!r}")
        return Speaker(
            id=str(data["id"]),
            owner=str(data["owner"]),
            name=str(data["name"]),
            description=str(data.get("description") or ""),
            encoder=str(data["encoder"]),
            embeddings_file=embeddings,
            samples=tuple(Sample.from_meta(s) for s in data.get("samples") or ()),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            updated_at=datetime.fromisoformat(str(data.get("updated_at") or data["created_at"])),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
        )


def new_sample(seconds: float, source: dict[str, Any] | None = None) -> Sample:
    return Sample(
        id="smp_" + secrets.token_hex(8), seconds=round(seconds, 2), added_at=datetime.now(UTC), source=source or {}
    )


def _npy(embeddings: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(embeddings, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def _write_synced(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SpeakerStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.speakers_dir = self.root / "speakers"

    @staticmethod
    def new_id() -> str:
        return "spk_" + secrets.token_hex(16)

    def owner_dir(self, owner: str) -> Path:
        return self.speakers_dir / owner_key(owner)

    def path(self, owner: str, speaker_id: str) -> Path:
        if not is_valid_id(speaker_id):
            raise ValueError(f"invalid speaker id {speaker_id!r}")
        return self.owner_dir(owner) / speaker_id

    # --- reading ----------------------------------------------------------------------------

    def get(self, owner: str, speaker_id: str) -> Speaker | None:
        """None for a missing, malformed or someone else's id: to a client these are all "not found"."""
        if not is_valid_id(speaker_id):
            return None
        return self._load(self.owner_dir(owner) / speaker_id, owner)

    def of_owner(self, owner: str) -> list[Speaker]:
        folder = self.owner_dir(owner)
        if not folder.is_dir():
            return []
        found = []
        for entry in os.scandir(folder):
            if entry.is_dir() and is_valid_id(entry.name):
                speaker = self._load(Path(entry.path), owner)
                if speaker is not None:
                    found.append(speaker)
        found.sort(key=lambda s: (s.created_at, s.id))
        return found

    def owners(self) -> list[str]:
        """Every owner with a speaker (for the re-embedding command), read from the metas."""
        if not self.speakers_dir.is_dir():
            return []
        owners = set()
        for owner_dir in os.scandir(self.speakers_dir):
            if not owner_dir.is_dir() or owner_dir.name.startswith("."):
                continue
            for entry in os.scandir(owner_dir.path):
                if is_valid_id(entry.name):
                    with contextlib.suppress(OSError, ValueError, KeyError):
                        owners.add(str(json.loads((Path(entry.path) / META).read_bytes())["owner"]))
        return sorted(owners)

    def embeddings(self, owner: str, speaker: Speaker) -> np.ndarray:
        path = self.path(owner, speaker.id) / speaker.embeddings_file
        rows: np.ndarray = np.load(path, allow_pickle=False)
        return rows

    def sample_path(self, owner: str, speaker: Speaker, sample: Sample) -> Path:
        return self.path(owner, speaker.id) / sample.file

    # --- writing ----------------------------------------------------------------------------

    def create(self, speaker: Speaker, samples: dict[str, bytes], embeddings: np.ndarray) -> Speaker:
        """Publish the whole folder in one rename. `samples`: sample id -> WAV bytes, one per
        `speaker.samples`, whose rows `embeddings` holds in the same order."""
        self._check_rows(speaker, embeddings)
        owner_dir = self.owner_dir(speaker.owner)
        owner_dir.mkdir(parents=True, exist_ok=True)
        target = self.path(speaker.owner, speaker.id)
        with staged_folder(owner_dir, target, f"speaker {speaker.id}") as staging:
            for sample in speaker.samples:
                _write_synced(staging / sample.file, samples[sample.id])
            _write_synced(staging / speaker.embeddings_file, _npy(embeddings))
            _write_synced(staging / META, json.dumps(speaker.to_meta(), ensure_ascii=False, indent=2).encode())
            fsync_path(staging / "samples")
        return speaker

    @contextlib.contextmanager
    def editing(self, owner: str, speaker_id: str) -> Iterator[Speaker | None]:
        """Hold the speaker's writer lock; yields its current meta (None if it is gone)."""
        folder = self.path(owner, speaker_id)
        try:
            fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            yield None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._load(folder, owner)
        finally:
            os.close(fd)  # closing releases the lock

    def update(
        self,
        current: Speaker,
        *,
        embeddings: np.ndarray,
        encoder: str,
        new_samples: list[tuple[Sample, bytes]] | None = None,
    ) -> Speaker:
        """Write new samples and a new embeddings file, then switch meta.json to them. Call inside
        `editing()`. `embeddings` has one row per sample, old ones first."""
        folder = self.path(current.owner, current.id)
        added = list(new_samples or [])
        updated = replace(
            current,
            samples=current.samples + tuple(sample for sample, _ in added),
            encoder=encoder,
            embeddings_file=f"embeddings-{secrets.token_hex(8)}.npy",
            updated_at=datetime.now(UTC),
        )
        self._check_rows(updated, embeddings)
        for sample, data in added:
            _write_synced(folder / sample.file, data)
        _write_synced(folder / updated.embeddings_file, _npy(embeddings))
        _write_synced(folder / META, json.dumps(updated.to_meta(), ensure_ascii=False, indent=2).encode())
        fsync_path(folder)
        if current.embeddings_file != updated.embeddings_file:
            (folder / current.embeddings_file).unlink(missing_ok=True)
        return updated

    def delete(self, owner: str, speaker_id: str) -> bool:
        if not is_valid_id(speaker_id):
            return False
        return remove_folder(self.owner_dir(owner), speaker_id)

    def sweep(self, max_age_s: float = 3600.0) -> int:
        """Removes staging and trash folders left by crashed writers (younger ones may be in use)."""
        if not self.speakers_dir.is_dir():
            return 0
        owners = [entry for entry in os.scandir(self.speakers_dir) if entry.is_dir(follow_symlinks=False)]
        return sum(sweep_leftovers(Path(owner.path), max_age_s, "speaker store") for owner in owners)

    # --- internals --------------------------------------------------------------------------

    @staticmethod
    def _check_rows(speaker: Speaker, embeddings: np.ndarray) -> None:
        if np.ndim(embeddings) != 2 or len(embeddings) != len(speaker.samples):
            raise ValueError(f"{len(speaker.samples)} samples need as many embedding rows, not {np.shape(embeddings)}")

    def _load(self, folder: Path, owner: str) -> Speaker | None:
        try:
            data = json.loads((folder / META).read_bytes())
            speaker = Speaker.from_meta(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("speaker store: %s has an unreadable %s (%s), skipped", folder, META, exc)
            return None
        if speaker.id != folder.name or speaker.owner != owner:
            log.warning("speaker store: %s holds meta for %s of another owner or id, skipped", folder, speaker.id)
            return None
        return speaker
