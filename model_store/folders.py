"""Folders published whole or not at all: the one way the model store writes a voice or a speaker.

A folder is filled under a hidden staging name beside its final place, synced, and renamed onto
its target in one step, so a reader never sees half of one and a crash leaves only a staging
folder for the janitor (names starting with STAGING_PREFIX or TRASH_PREFIX are never an entry).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

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


def remove_folder(parent: Path, name: str, on_hidden: Callable[[], None] | None = None) -> bool:
    """Remove parent/name: one rename hides the whole folder, then the slow rmtree works on a name
    no reader looks at. `on_hidden` runs once it is hidden (and the rename is durable). False if
    there was no such folder."""
    trash = parent / f"{TRASH_PREFIX}{name}-{secrets.token_hex(4)}"
    try:
        os.rename(parent / name, trash)
    except FileNotFoundError:
        return False
    fsync_path(parent)
    if on_hidden is not None:
        on_hidden()
    shutil.rmtree(trash, ignore_errors=True)
    return True


def sweep_leftovers(directory: Path, max_age_s: float, what: str, prefixes: tuple[str, ...] = ()) -> int:
    """Remove the staging and trash entries (and any with `prefixes`) that crashed writers left in
    `directory`, once older than `max_age_s` (a younger one may be a write in progress)."""
    removed, cutoff = 0, time.time() - max_age_s
    for entry in os.scandir(directory):
        if not entry.name.startswith((STAGING_PREFIX, TRASH_PREFIX, *prefixes)):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:
            continue  # another node swept it first
        except OSError as exc:
            log.warning("%s: could not sweep %s: %s", what, entry.path, exc)
    return removed
