"""Files that belong to a task (the staged upload, outputs), one directory per task id.

Writes are atomic (temp file in the same directory, fsync, rename), so a reader or a worker that is
killed mid-write never sees half a file. File names are ours: nothing a client sends becomes a path.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


class ArtifactStore:
    INPUT = "input"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def task_dir(self, task_id: str) -> Path:
        if not task_id.isalnum():  # ids are hex; refuse anything that could escape the root
            raise ValueError(f"invalid task id {task_id!r}")
        return self.root / task_id

    def path(self, task_id: str, name: str) -> Path:
        return self.task_dir(task_id) / name

    def exists(self, task_id: str, name: str) -> bool:
        return self.path(task_id, name).is_file()

    def open_staging(self, task_id: str) -> tuple[BinaryIO, Path]:
        """A temp file inside the task dir, for streaming an upload into; commit with `commit`."""
        directory = self.task_dir(task_id)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=directory)
        return os.fdopen(fd, "wb"), Path(tmp)

    def commit(self, tmp: Path, task_id: str, name: str) -> Path:
        target = self.path(task_id, name)
        os.replace(tmp, target)
        return target

    def write_bytes(self, task_id: str, name: str, data: bytes) -> Path:
        directory = self.task_dir(task_id)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            return self.commit(Path(tmp), task_id, name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def write_json(self, task_id: str, name: str, value: Any) -> Path:
        return self.write_bytes(task_id, name, json.dumps(value, ensure_ascii=False).encode())

    def read_text(self, task_id: str, name: str) -> str:
        return self.path(task_id, name).read_text(encoding="utf-8")

    def read_json(self, task_id: str, name: str) -> Any:
        return json.loads(self.path(task_id, name).read_bytes())

    def remove(self, task_id: str, name: str) -> None:
        self.path(task_id, name).unlink(missing_ok=True)

    def remove_task(self, task_id: str) -> None:
        shutil.rmtree(self.task_dir(task_id), ignore_errors=True)

    def task_ids(self) -> Iterator[str]:
        for entry in self.root.iterdir():
            if entry.is_dir() and entry.name.isalnum():
                yield entry.name
