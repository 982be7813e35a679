"""The voice model store: one folder per cloned voice under `<root>/voices/<model_id>/`.

The directory is the only source of truth. Nothing is cached in-process, so a copied or restored
directory, or one shared by several API nodes over a network filesystem, shows the same voices.
A model appears and disappears with a single `os.rename` of its whole folder, so a reader or a crash
never sees half a model. Only stdlib + numpy here: workers and tools import this without the server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from model_store.folders import fsync_path, remove_folder, staged_folder, sweep_leftovers

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
META = "meta.json"
VISIBILITIES = ("private", "public")
GENERATION = ".generation"
_GENERATION_TMP_PREFIX = ".generation-"
# Ids become path components: one strict shape, so no id can name anything but its own folder.
_ID_RE = re.compile(r"voice_[0-9a-f]{32}")


def is_valid_id(model_id: object) -> bool:
    return isinstance(model_id, str) and _ID_RE.fullmatch(model_id) is not None


def _str_tuple(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value or ()):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(value or ())


@dataclass(frozen=True)
class VoiceModel:
    id: str
    owner: str
    title: str
    engine: str
    visibility: str = "private"
    description: str = ""
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    base_voice: str | None = None
    engine_data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    source: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    # Keys written by a newer version; kept so that rewriting meta.json never drops them.
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {VISIBILITIES}, not {self.visibility!r}")
        # Stored and compared in UTC: a naive or local time would sort and serialise inconsistently.
        created = self.created_at if self.created_at.tzinfo else self.created_at.replace(tzinfo=UTC)
        object.__setattr__(self, "created_at", created.astimezone(UTC))

    def to_meta(self) -> dict[str, Any]:
        known = asdict(self)
        del known["extra"]
        known.update(tags=list(self.tags), languages=list(self.languages), created_at=self.created_at.isoformat())
        return {**self.extra, **known}

    @staticmethod
    def from_meta(data: Mapping[str, Any]) -> VoiceModel:
        """Raises ValueError (or KeyError for a missing id/owner/engine/created_at) on a meta it can't trust."""
        names = {f.name for f in fields(VoiceModel)} - {"extra"}
        visibility = data.get("visibility", "private")
        if visibility not in VISIBILITIES:
            # A value from a newer version (say "unlisted"): fail closed rather than expose it.
            log.warning("voice %s: unknown visibility %r, treated as private", data.get("id"), visibility)
            visibility = "private"
        for key in ("id", "owner", "engine"):
            if not isinstance(data[key], str):
                raise ValueError(f"{key} must be a string")
        engine_data, source = data.get("engine_data") or {}, data.get("source") or {}
        if not isinstance(engine_data, dict) or not isinstance(source, dict):
            raise ValueError("engine_data and source must be objects")
        return VoiceModel(
            id=data["id"],
            owner=data["owner"],
            title=str(data.get("title") or data["id"]),
            engine=data["engine"],
            visibility=visibility,
            description=str(data.get("description") or ""),
            tags=_str_tuple(data.get("tags"), "tags"),
            languages=_str_tuple(data.get("languages"), "languages"),
            base_voice=None if data.get("base_voice") is None else str(data["base_voice"]),
            engine_data=dict(engine_data),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            source=dict(source),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
            extra={k: v for k, v in data.items() if k not in names},
        )


def _safe_relative(name: str) -> PurePosixPath:
    # "" parts catch absolute paths and "a//b"; meta.json is the store's own, written last.
    if name == META or "\\" in name or any(p in ("", ".", "..") for p in name.split("/")):
        raise ValueError(f"invalid or reserved file name {name!r}")
    return PurePosixPath(name)


class VoiceStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.voices_dir = self.root / "voices"
        self.voices_dir.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def new_id() -> str:
        return "voice_" + secrets.token_hex(16)

    def path(self, model_id: str) -> Path:
        if not is_valid_id(model_id):
            raise ValueError(f"invalid voice model id {model_id!r}")
        return self.voices_dir / model_id

    def create(
        self,
        model: VoiceModel,
        files: Mapping[str, bytes] | None = None,
        writer: Callable[[Path], None] | None = None,
    ) -> VoiceModel:
        """Publishes the whole folder in one rename, or nothing. `files`: relative name ("xtts/latents.pt")
        -> bytes; `writer(folder)` may write more into the not-yet-visible folder."""
        with staged_folder(self.voices_dir, self.path(model.id), f"voice model {model.id}") as staging:
            for name, data in (files or {}).items():
                dest = staging / _safe_relative(name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
            if writer is not None:
                writer(staging)
            for directory, _dirs, names in os.walk(staging):  # the writer's files too, not just ours
                for name in [*names, "."]:
                    fsync_path(Path(directory) / name)
            # meta.json last: a folder without it is never a model, whatever else got written.
            with open(staging / META, "w", encoding="utf-8") as out:
                json.dump(model.to_meta(), out, ensure_ascii=False, indent=2)
                out.flush()
                os.fsync(out.fileno())
        self._bump_generation()
        return model

    def get(self, model_id: str) -> VoiceModel | None:
        """None for a missing, unreadable or malformed id: to a client these are all "not found"."""
        if not is_valid_id(model_id):
            return None
        return self._load(self.voices_dir / model_id, warn=False)

    def list(self) -> list[VoiceModel]:
        models = []
        for entry in os.scandir(self.voices_dir):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if not is_valid_id(entry.name):
                log.warning("voice store: ignoring unexpected folder %s", entry.path)
                continue
            model = self._load(Path(entry.path), warn=True)
            if model is not None:
                models.append(model)
        models.sort(key=lambda m: (m.created_at, m.id))
        return models

    def delete(self, model_id: str) -> bool:
        if not is_valid_id(model_id):
            return False
        return remove_folder(self.voices_dir, model_id, on_hidden=self._bump_generation)

    def generation(self) -> str:
        """A fingerprint that changes whenever a model is created or deleted, on any node.

        The token file is rewritten (with a fresh random value) after every change this store makes;
        random rather than a counter, so two nodes racing to bump it can't land on a value a reader
        has already seen. The directory's mtime and link count catch changes made by hand (restoring
        a backup, rm -rf). Read it BEFORE listing, so a change racing the listing still bumps it.
        """
        try:
            token = (self.voices_dir / GENERATION).read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            token = "0"
        st = os.stat(self.voices_dir)
        return f"{token}-{st.st_mtime_ns}-{st.st_nlink}"

    def sweep(self, max_age_s: float = 3600.0) -> int:
        """Removes staging/trash/temp entries left by crashed writers; the age bound spares a create in progress."""
        return sweep_leftovers(self.voices_dir, max_age_s, "voice store", prefixes=(_GENERATION_TMP_PREFIX,))

    def _load(self, folder: Path, *, warn: bool) -> VoiceModel | None:
        try:
            meta = folder / META
            data = json.loads(meta.read_bytes())
            if not isinstance(data, dict):
                raise ValueError(f"{META} is not an object")
            if not data.get("created_at"):  # hand-made meta: the file's age beats a time that moves per read
                data["created_at"] = datetime.fromtimestamp(meta.stat().st_mtime, UTC).isoformat()
            model = VoiceModel.from_meta(data)
        except FileNotFoundError:
            if warn:
                log.warning("voice store: %s has no %s, skipped", folder, META)
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
            log.warning("voice store: %s has an unreadable %s (%s), skipped", folder, META, exc)
            return None
        if model.id != folder.name:
            log.warning("voice store: %s holds meta for %s, skipped", folder, model.id)
            return None
        return model

    def _bump_generation(self) -> None:
        # Never raises: the change is already made, and other nodes still see the directory's mtime move.
        tmp = self.voices_dir / f"{_GENERATION_TMP_PREFIX}{secrets.token_hex(8)}"
        try:
            tmp.write_text(secrets.token_hex(16), encoding="ascii")
            os.replace(tmp, self.voices_dir / GENERATION)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.warning("voice store: could not bump the generation: %s", exc)
