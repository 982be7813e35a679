"""Folders published whole or not at all: the one way the model store writes a voice or a speaker.

A folder is filled under a hidden staging name beside its final place, synced, and renamed onto
its target in one step, so a reader never sees half of one and a crash leaves only a staging
folder for the janitor (names starting with STAGING_PREFIX or TRASH_PREFIX are never an entry).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".trash-"


def fsync_path(path: Path) -> None:
    # Directories too: a rename is only durable once its parent's entry is. Some network
    # filesystems refuse fsync on a directory; the data files were already synced, so carry on.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def staged_folder(parent: Path, target: Path, what: str) -> Iterator[Path]:
    """A new empty folder in `parent` for the block to fill (and sync what it writes); when the
    block ends, it becomes `target` in one rename, or is removed if the block raised.
    FileExistsError names `what` when `target` exists already (also when a racing writer of the
    same id won: rename(2) onto a non-empty directory fails, so it loses cleanly)."""
    if target.exists():
        raise FileExistsError(f"{what} already exists")
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent))
    try:
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the folder from an API running as another user
        yield staging
        fsync_path(staging)
        try:
            os.rename(staging, target)
        except OSError as exc:
            if target.exists():
                raise FileExistsError(f"{what} already exists") from exc
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_path(parent)
